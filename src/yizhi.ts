import type { Config } from "./config/schema.js";
import { ParserPool } from "../ingest/sandbox/parserPool.js";
import { createModels } from "./models/createModels.js";
import type { Models } from "./models/models.js";
import { KnowledgeBaseService } from "./service/knowledgeBaseService.js";
import { createStorage } from "./store/createStorage.js";
import type { Storage } from "./store/storage.js";

/**
 * Yizhi put together from one configuration, for the CLI and the HTTP server: the models (in this
 * process or on model servers), the parser processes that read files, the storage backend, and the
 * service over them.
 */
export class Yizhi {
    public readonly models: Models;
    /** Started on the first file read. */
    public readonly parser: ParserPool;
    public readonly storage: Storage;
    public readonly knowledgeBases: KnowledgeBaseService;

    /** @param models default: the models `config` names, from their providers. */
    public constructor(public readonly config: Config, models: Models = createModels(config)) {
        this.models = models;
        this.parser = new ParserPool({
            processes: config.parseProcesses,
            timeoutMs: config.parseTimeoutSeconds * 1000,
            memoryBytes: config.parseMemoryMb * 1024 * 1024,
            limits: {
                maxInflatedBytes: config.maxInflatedBytes,
                maxArchiveEntries: config.maxArchiveEntries,
                maxArchiveNesting: config.maxArchiveNesting,
                maxNestingDepth: config.maxNestingDepth,
                maxPages: config.maxPages,
                maxPdfObjects: config.maxPdfObjects,
                maxTableRows: config.maxTableRows,
                maxTableColumns: config.maxTableColumns,
                maxCellChars: config.maxCellChars,
                maxTextChars: config.maxTextChars,
                maxImagePixels: config.maxImagePixels,
            },
            ocr: { mode: config.ocr, threads: config.ocrThreads, languages: config.ocrLanguages },
        });
        this.storage = createStorage(config);
        this.knowledgeBases = new KnowledgeBaseService({ storage: this.storage, models: this.models, parser: this.parser, config });
    }

    /**
     * Stops the parser processes first (a file being read fails, and its write ends), then waits for
     * the writes under way to finish closing, then frees the models.
     */
    public async dispose(): Promise<void> {
        await this.parser.dispose();
        await this.knowledgeBases.dispose();
        await this.storage.close();
        await this.models.dispose();
    }
}
