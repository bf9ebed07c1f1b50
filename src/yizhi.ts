import fs from "node:fs/promises";
import type { Config } from "./config/schema.js";
import { PathsNotFoundError } from "./errors.js";
import { answerQuestion, type AnswerRequest, type AnswerResult } from "./answer/answerQuestion.js";
import { ingestPaths, type IngestOptions, type IngestReport } from "../ingest/ingestFiles.js";
import { ParserPool } from "../ingest/sandbox/parserPool.js";
import { ModelRuntime } from "./models/modelRuntime.js";
import type { KnowledgeBase } from "./store/knowledgeBase.js";
import { KnowledgeBases } from "./store/knowledgeBases.js";

export type IngestRunOptions = Pick<IngestOptions, "prune" | "onProgress" | "commitIntervalMs">;

/**
 * The service as the CLI and the HTTP server use it: one configuration, one model runtime, the
 * parser processes that read files, the knowledge bases under the data directory.
 */
export class Yizhi {
    public readonly runtime: ModelRuntime;
    /** Started on the first file read. */
    public readonly parser: ParserPool;
    public readonly knowledgeBases: KnowledgeBases;

    public constructor(public readonly config: Config) {
        this.runtime = new ModelRuntime(config);
        this.parser = new ParserPool({
            processes: config.parseProcesses,
            timeoutMs: config.parseTimeoutSeconds * 1000,
            memoryBytes: config.parseMemoryMb * 1024 * 1024,
            limits: {
                maxInflatedBytes: config.maxInflatedBytes,
                maxArchiveEntries: config.maxArchiveEntries,
                maxNestingDepth: config.maxNestingDepth,
                maxPages: config.maxPages,
                maxPdfObjects: config.maxPdfObjects,
                maxTableRows: config.maxTableRows,
                maxTableColumns: config.maxTableColumns,
                maxCellChars: config.maxCellChars,
                maxTextChars: config.maxTextChars,
            },
        });
        this.knowledgeBases = new KnowledgeBases(config.dataDir, {
            m: config.hnswM,
            efConstruction: config.hnswEfConstruction,
            efSearch: config.hnswEfSearch,
        });
    }

    /** Opens a knowledge base with the configured embedder; `write` creates it when `create` is set. */
    public async openKnowledgeBase(name: string, mode: "read" | "write", options: { create?: boolean; lockWaitMs?: number } = {}): Promise<KnowledgeBase> {
        const kbOptions = {
            embeddings: this.runtime.embeddings,
            embedder: await this.runtime.embedderIdentity(),
            ...(options.lockWaitMs != null ? { lockWaitMs: options.lockWaitMs } : {}),
        };
        return mode === "read"
            ? this.knowledgeBases.openForRead(name, kbOptions)
            : this.knowledgeBases.openForWrite(name, { ...kbOptions, create: options.create ?? false });
    }

    /** Ingests files and folders into a knowledge base, creating it if needed. */
    public async ingest(kbName: string, paths: readonly string[], options: IngestRunOptions = {}): Promise<IngestReport> {
        const found = await Promise.all(paths.map((given) => fs.stat(given).then(() => true, () => false)));
        if (!found.includes(true)) throw new PathsNotFoundError(paths);
        const knowledgeBase = await this.openKnowledgeBase(kbName, "write", { create: true });
        try {
            return await ingestPaths(paths, {
                ...options,
                knowledgeBase,
                embeddings: this.runtime.embeddings,
                parser: this.parser,
                chunkSize: this.config.chunkSize,
                chunkOverlap: this.config.chunkOverlap,
            });
        } finally {
            await knowledgeBase.close();
        }
    }

    public async ask(kbName: string, request: AnswerRequest): Promise<AnswerResult> {
        return this.answerFrom(await this.openKnowledgeBase(kbName, "read"), request);
    }

    /** Answers from a knowledge base already open. */
    public answerFrom(knowledgeBase: KnowledgeBase, request: AnswerRequest): Promise<AnswerResult> {
        return answerQuestion(request, {
            knowledgeBase,
            embeddings: this.runtime.embeddings,
            getChatModel: () => this.runtime.getChatModel(),
            getReranker: () => this.runtime.getReranker(),
            settings: this.config,
        });
    }

    public async dispose(): Promise<void> {
        await this.parser.dispose();
        await this.runtime.dispose();
    }
}
