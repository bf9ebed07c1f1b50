import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { UnreadableFileError } from "../src/errors.js";
import type { DocumentRecord } from "../src/store/records.js";
import type { KnowledgeBaseWriter } from "../src/store/storage.js";
import { collectFiles } from "./collectFiles.js";
import { loaderFor, mayContainFiles, supportedExtensions } from "./loaders/index.js";
import type { ContainedFile } from "./loaders/types.js";
import type { ParsedFile } from "./parseFile.js";
import type { DocumentParser } from "./sandbox/parserPool.js";

/** `skipped`: not a supported type (a `.json` beside the documents): nothing wrong with it, nothing to read in it. */
export type FileStatus = "ingested" | "unchanged" | "skipped" | "failed";

export interface FileOutcome {
    path: string;
    status: FileStatus;
    /** Chunks the document has in the knowledge base after this run (0 when failed). */
    chunks: number;
    documentId?: string;
    /** For a file skipped because the same text is stored under another name: that document's id. */
    duplicateOf?: string;
    /** Why a file failed, or why an unchanged one was skipped. */
    reason?: string;
}

/** How far one file under way has got. */
export interface FileProgress {
    /** The file's name as shown (its path below the folder given, or an upload's name). */
    file: string;
    /** `parsing`, `ocr` while its scanned pages or pictures are read (see `pages`), then `embedding`. */
    stage: "parsing" | "ocr" | "embedding";
    /** While pages are read by OCR: how many of how many. */
    pages?: { done: number; total: number };
    chunksEmbedded: number;
    /** The file's chunks; 0 while it is parsed. */
    chunks: number;
}

export interface IngestProgress {
    filesDone: number;
    filesTotal: number;
    chunksEmbedded: number;
    /**
     * The work done, in bytes of the files: those done whole, those being embedded in proportion to
     * their chunks embedded. Unlike the file count, it moves inside a large file.
     */
    bytesDone: number;
    bytesTotal: number;
    /** The files under way, in the order they were started. */
    active: FileProgress[];
}

export interface IngestReport {
    files: FileOutcome[];
    /** Documents removed by `prune`. */
    pruned: { documentId: string; source: string }[];
    chunksEmbedded: number;
    /**
     * Wall-clock times: `parsingMs` while at least one file was being parsed (OCR included),
     * `embeddingMs` while at least one embedding call ran (the two overlap when files are ingested
     * side by side), `otherMs` while neither was (reading and hashing files, storing, committing).
     */
    timings: { totalMs: number; parsingMs: number; embeddingMs: number; otherMs: number };
}

export interface IngestOptions {
    knowledgeBase: KnowledgeBaseWriter;
    embeddings: EmbeddingsInterface;
    /** Reads each file into chunks (a `ParserPool`, so that a hostile file harms only its own process). */
    parser: DocumentParser;
    chunkSize: number;
    chunkOverlap: number;
    /** Remove documents under the given folders (or equal to the given files) whose files are gone. */
    prune?: boolean;
    /** Called when a file starts, after it is parsed, after each call to the embedder, and at the end. */
    onProgress?: (progress: IngestProgress) => void;
    /** Changes are committed at least this often (default 2 s), and at the end. */
    commitIntervalMs?: number;
    /** Texts per call to the embedder (default 16). */
    embedBatchSize?: number;
    /**
     * Files read, parsed and embedded at once (default 4): with many small files, one at a time
     * would leave the parser processes and the embedder's contexts waiting on each other. They are
     * stored one at a time, in the order they finish.
     */
    concurrency?: number;
}

/** A file's bytes and where they came from. */
export interface IngestSource {
    /** Identity of the document: an absolute path, or an uploaded file's name. */
    source: string;
    /** The name to show (see `DocumentRecord.displayName`); default: the file name. */
    displayName?: string;
    /** Name whose extension picks the loader. */
    fileName: string;
    bytes: Uint8Array;
}

/** The id of the document that comes from `source`: stable across re-ingests. */
function documentIdOf(source: string): string {
    return createHash("sha256").update(source).digest("hex").slice(0, 16);
}

/**
 * Ingests files and folders into a knowledge base. Every file ends up ingested, unchanged (same
 * content hash as stored), skipped (a type Yizhi does not read) or failed with a reason; a failure never stops the batch nor touches
 * what is stored for that file.
 */
export async function ingestPaths(paths: readonly string[], options: IngestOptions): Promise<IngestReport> {
    const started = performance.now();
    const { files, displayNames, sizes, missing } = await collectFiles(paths);
    const ingester = new Ingester(options);
    const outcomes: FileOutcome[] = missing.map((item) => ({ path: item.path, status: "failed", chunks: 0, reason: item.reason }));
    const nameOf = (file: string) => displayNames.get(file) ?? path.basename(file);
    outcomes.push(...await ingester.run(files, (file, turn, progress) => ingester.ingestFile(file, nameOf(file), turn, progress), {
        nameOf,
        sizeOf: (file) => sizes.get(file) ?? 0,
    }));

    // Files found inside archives and e-mails are present as long as their container is.
    const pruned = options.prune === true ? await pruneMissing(options.knowledgeBase, paths, new Set([...files, ...outcomes.map((outcome) => outcome.path)])) : [];
    await options.knowledgeBase.commit();
    return {
        files: outcomes,
        pruned,
        chunksEmbedded: ingester.chunksEmbedded,
        timings: ingester.timings(performance.now() - started),
    };
}

/** Ingests files held in memory (uploads), then commits. */
export async function ingestSources(sources: readonly IngestSource[], options: IngestOptions): Promise<FileOutcome[]> {
    const ingester = new Ingester(options);
    const outcomes = await ingester.run(sources, (source, turn, progress) => ingester.ingest(source, turn, progress), {
        nameOf: (source) => source.displayName ?? source.fileName,
        sizeOf: (source) => source.bytes.length,
    });
    await options.knowledgeBase.commit();
    return outcomes;
}

/** Wall-clock time during which at least one of the timed tasks was running. */
class BusyClock {
    public ms = 0;
    private running = 0;
    private since = 0;

    public constructor(private readonly parent?: BusyClock) {}

    public async time<T>(task: () => Promise<T>): Promise<T> {
        if (this.running++ === 0) this.since = performance.now();
        try {
            return await (this.parent != null ? this.parent.time(task) : task());
        } finally {
            if (--this.running === 0) this.ms += performance.now() - this.since;
        }
    }
}

class Ingester {
    public chunksEmbedded = 0;
    /** Parsing or embedding. */
    private readonly busy = new BusyClock();
    private readonly parsing = new BusyClock(this.busy);
    private readonly embedding = new BusyClock(this.busy);
    private lastCommit = performance.now();

    public constructor(private readonly options: IngestOptions) {}

    public timings(totalMs: number): IngestReport["timings"] {
        return { totalMs, parsingMs: this.parsing.ms, embeddingMs: this.embedding.ms, otherMs: Math.max(0, totalMs - this.busy.ms) };
    }

    /**
     * Ingests every item, up to `concurrency` at a time: read, parsed and embedded side by side,
     * stored one at a time in the items' order (so that of two files with the same text, the first
     * is the one kept, as when they are ingested one by one), committing when due. A failure that
     * is not the file's own (a full disk, a lost lock) stops the run once the items under way settle.
     */
    public async run<T>(
        items: readonly T[],
        ingestOne: (item: T, turn: StoreTurn, progress: ProgressReport) => Promise<FileOutcome[]>,
        describe: { nameOf: (item: T) => string; sizeOf: (item: T) => number },
    ): Promise<FileOutcome[]> {
        const outcomes: FileOutcome[][] = new Array(items.length);
        const turns = storeTurns(items.length);
        const tracker = new ProgressTracker(items.map(describe.sizeOf), this.options.onProgress);
        let next = 0;
        let failure: { error: unknown } | undefined;
        const worker = async () => {
            while (failure == null && next < items.length) {
                const i = next++;
                const turn = turns[i]!;
                const progress = tracker.start(i, describe.nameOf(items[i]!));
                try {
                    outcomes[i] = await ingestOne(items[i]!, turn, progress);
                    await turn.take();
                    await this.commitIfDue();
                } catch (error) {
                    failure ??= { error };
                } finally {
                    turn.release();
                }
                tracker.finish(i, this.chunksEmbedded);
            }
        };
        await Promise.all(Array.from({ length: Math.min(items.length, this.options.concurrency ?? 4) }, worker));
        if (failure != null) throw failure.error;
        return outcomes.flat();
    }

    public async ingestFile(file: string, displayName: string, turn: StoreTurn, progress: ProgressReport): Promise<FileOutcome[]> {
        let bytes: Uint8Array;
        try {
            bytes = await fs.readFile(file);
        } catch (error) {
            return [failed(file, `Cannot read the file: ${(error as Error).message}`)];
        }
        return this.ingest({ source: file, displayName, fileName: path.basename(file), bytes }, turn, progress);
    }

    /**
     * Reads, parses and embeds a file, and the files inside it (an archive's entries, an e-mail's
     * attachments) as documents of their own; changes the knowledge base only once `turn` is taken.
     * `depth`: how many containers the file is inside.
     */
    public async ingest(item: IngestSource, turn: StoreTurn, progress: ProgressReport, depth = 0): Promise<FileOutcome[]> {
        const { source, fileName, bytes } = item;
        const kb = this.options.knowledgeBase;
        const id = documentIdOf(source);
        const stored = await kb.getDocument(id);
        const fileHash = createHash("sha256").update(bytes).digest("hex");
        // A container is read again even when unchanged: its entries' outcomes are what it reports.
        const container = mayContainFiles(fileName);
        if (!container && stored?.fileHash === fileHash) return [{ path: source, status: "unchanged", chunks: stored.labels.length, documentId: id }];

        if (loaderFor(fileName) == null) {
            const extension = path.extname(fileName) || "(none)";
            return [{ path: source, status: "skipped", chunks: 0, reason: `Unsupported file type ${extension}. Supported: ${supportedExtensions.join(" ")}` }];
        }
        let parsed: ParsedFile;
        try {
            parsed = await this.parsing.time(() => this.options.parser.parse(
                { bytes, fileName, depth },
                { chunkSize: this.options.chunkSize, chunkOverlap: this.options.chunkOverlap },
                ({ pagesDone, pagesTotal }) => progress.ocr(pagesDone, pagesTotal),
            ));
        } catch (error) {
            if (error instanceof UnreadableFileError) return [failed(source, error.reason)];
            throw error;
        }
        const outcomes = parsed.chunks.length > 0 ? [await this.store(item, { id, stored, fileHash, parsed }, turn, progress)] : [];
        if (container) outcomes.push(...await this.ingestContained(item, parsed.contained ?? [], turn, progress, depth));
        return outcomes;
    }

    /**
     * Ingests the files found inside `container`, each under the container's source and name with
     * its own path appended, and removes those stored from it before that are no longer in it.
     */
    private async ingestContained(container: IngestSource, files: readonly ContainedFile[], turn: StoreTurn, progress: ProgressReport, depth: number): Promise<FileOutcome[]> {
        const prefix = `${container.source}/`;
        const shownPrefix = `${container.displayName ?? container.fileName}/`;
        const outcomes: FileOutcome[] = [];
        for (const file of files) {
            if ("refused" in file) {
                outcomes.push(failed(prefix + file.name, file.refused));
                continue;
            }
            outcomes.push(...await this.ingest(
                { source: prefix + file.name, displayName: shownPrefix + file.name, fileName: path.posix.basename(file.name), bytes: file.bytes },
                turn, progress, depth + 1,
            ));
        }
        const present = new Set(outcomes.map((outcome) => outcome.path));
        const kb = this.options.knowledgeBase;
        await turn.take();
        for (const document of await kb.documents()) {
            if (document.source.startsWith(prefix) && !present.has(document.source)) await kb.removeDocument(document.id);
        }
        return outcomes;
    }

    /** Stores a parsed file's chunks as a document, unless the same text is stored already. */
    private async store(
        { source, displayName, bytes }: IngestSource,
        { id, stored, fileHash, parsed }: { id: string; stored: DocumentRecord | undefined; fileHash: string; parsed: ParsedFile },
        turn: StoreTurn,
        progress: ProgressReport,
    ): Promise<FileOutcome> {
        const kb = this.options.knowledgeBase;
        const { format, hash, chunks } = parsed;
        if (stored?.hash === hash) {
            // Other bytes, same text (re-saved, or converted to another format): nothing to re-embed.
            await turn.take();
            await kb.updateDocument(id, { fileHash, format, sizeBytes: bytes.length, ...(displayName != null ? { displayName } : {}) });
            return { path: source, status: "unchanged", chunks: stored.labels.length, documentId: id };
        }
        // Checked before embedding, to save the work, and again with the turn taken: a file before
        // this one, of the same text, may have been stored meanwhile.
        const twinOutcome = async (): Promise<FileOutcome | undefined> => {
            const twin = await kb.findByHash(hash);
            if (twin == null || twin.id === id) return undefined;
            await turn.take();
            // The same text is stored under another name; an older version stored under this name goes.
            if (stored != null) await kb.removeDocument(id);
            return { path: source, status: "unchanged", chunks: 0, duplicateOf: twin.id, reason: `Same content as ${twin.source}, which is already stored.` };
        };
        const early = await twinOutcome();
        if (early != null) return early;

        progress.embedding(chunks.length, this.chunksEmbedded);
        const vectors = await this.embed(chunks.map((chunk) => chunk.text), (embedded) => progress.embedded(embedded, this.chunksEmbedded));
        await turn.take();
        const late = await twinOutcome();
        if (late != null) return late;
        const record = await kb.putDocument({
            id,
            source,
            ...(displayName != null ? { displayName } : {}),
            hash,
            fileHash,
            format,
            ...(parsed.encoding != null ? { encoding: parsed.encoding } : {}),
            sizeBytes: bytes.length,
            ingestedAt: new Date().toISOString(),
        }, chunks, vectors);
        return { path: source, status: "ingested", chunks: record.labels.length, documentId: id };
    }

    public async commitIfDue(): Promise<void> {
        if (performance.now() - this.lastCommit < (this.options.commitIntervalMs ?? 2_000)) return;
        await this.options.knowledgeBase.commit();
        this.lastCommit = performance.now();
    }

    private async embed(texts: readonly string[], onEmbedded: (count: number) => void): Promise<number[][]> {
        const batchSize = this.options.embedBatchSize ?? 16;
        const vectors: number[][] = [];
        for (let i = 0; i < texts.length; i += batchSize) {
            vectors.push(...await this.embedding.time(() => this.options.embeddings.embedDocuments(texts.slice(i, i + batchSize))));
            this.chunksEmbedded += Math.min(batchSize, texts.length - i);
            onEmbedded(Math.min(i + batchSize, texts.length));
        }
        return vectors;
    }
}

/** What a file being ingested says of its progress. */
interface ProgressReport {
    /** `done` of its `total` pages to read by OCR are read. */
    ocr(done: number, total: number): void;
    /** It is parsed into `chunks` chunks, which are now embedded. */
    embedding(chunks: number, chunksEmbedded: number): void;
    /** `count` of its chunks are embedded; `chunksEmbedded` of the whole run. */
    embedded(count: number, chunksEmbedded: number): void;
}

/** The progress of a run: which files are under way and how far each has got, reported on each change. */
class ProgressTracker {
    private readonly active = new Map<number, FileProgress>();
    private readonly bytesTotal: number;
    private filesDone = 0;
    private bytesOfFilesDone = 0;
    private chunksEmbedded = 0;

    public constructor(private readonly sizes: readonly number[], private readonly onProgress?: (progress: IngestProgress) => void) {
        this.bytesTotal = sizes.reduce((sum, size) => sum + size, 0);
    }

    public start(index: number, file: string): ProgressReport {
        const progress: FileProgress = { file, stage: "parsing", chunksEmbedded: 0, chunks: 0 };
        this.active.set(index, progress);
        this.report();
        return {
            ocr: (done, total) => {
                if (total === 0) return;
                Object.assign(progress, { stage: "ocr", pages: { done, total } });
                this.report();
            },
            embedding: (chunks, chunksEmbedded) => {
                delete progress.pages;
                Object.assign(progress, { stage: "embedding", chunks });
                this.chunksEmbedded = chunksEmbedded;
                this.report();
            },
            embedded: (count, chunksEmbedded) => {
                progress.chunksEmbedded = count;
                this.chunksEmbedded = chunksEmbedded;
                this.report();
            },
        };
    }

    public finish(index: number, chunksEmbedded: number): void {
        this.active.delete(index);
        this.filesDone++;
        this.bytesOfFilesDone += this.sizes[index] ?? 0;
        this.chunksEmbedded = chunksEmbedded;
        this.report();
    }

    private report(): void {
        if (this.onProgress == null) return;
        let bytesUnderWay = 0;
        for (const [index, file] of this.active) {
            if (file.chunks > 0) bytesUnderWay += (this.sizes[index] ?? 0) * file.chunksEmbedded / file.chunks;
        }
        this.onProgress({
            filesDone: this.filesDone,
            filesTotal: this.sizes.length,
            chunksEmbedded: this.chunksEmbedded,
            bytesDone: Math.round(this.bytesOfFilesDone + bytesUnderWay),
            bytesTotal: this.bytesTotal,
            active: [...this.active.values()].map((file) => ({ ...file, ...(file.pages != null ? { pages: { ...file.pages } } : {}) })),
        });
    }
}

/** An item's turn to change the knowledge base: after every item before it has had its own. */
interface StoreTurn {
    /** Waits for the turn; taking it again is a no-op. */
    take(): Promise<void>;
    /** Passes the turn on; the item changes nothing afterwards. */
    release(): void;
}

/** Turns for `count` items, each one's coming when the one before it is released. */
function storeTurns(count: number): StoreTurn[] {
    const turns: StoreTurn[] = [];
    let previous: Promise<void> = Promise.resolve();
    for (let i = 0; i < count; i++) {
        const ready = previous;
        let release!: () => void;
        previous = new Promise((resolve) => (release = resolve));
        turns.push({ take: () => ready, release });
    }
    return turns;
}

function failed(file: string, reason: string): FileOutcome {
    return { path: file, status: "failed", chunks: 0, reason };
}

/** Removes documents stored from under `roots` whose files were not found in this run. */
async function pruneMissing(kb: KnowledgeBaseWriter, roots: readonly string[], found: ReadonlySet<string>): Promise<IngestReport["pruned"]> {
    const absoluteRoots = roots.map((root) => path.resolve(root));
    const isUnderRoot = (source: string) =>
        absoluteRoots.some((root) => source === root || source.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
    const pruned: IngestReport["pruned"] = [];
    for (const document of await kb.documents()) {
        if (!isUnderRoot(document.source) || found.has(document.source)) continue;
        await kb.removeDocument(document.id);
        pruned.push({ documentId: document.id, source: document.source });
    }
    return pruned;
}
