import fs from "node:fs/promises";
import path from "node:path";
import type { Language } from "../../answer/language.js";
import { InsufficientStorageError, isDiskFull, KnowledgeBaseClosedError, KnowledgeBaseNotFoundError } from "../../errors.js";
import { Bm25Query, type LexicalHit } from "../../retrieval/bm25.js";
import type { ChunkRecord, DocumentRecord, NewChunk } from "../records.js";
import { BufferedWriter } from "../bufferedWriter.js";
import { chunksToStore } from "../pendingChanges.js";
import type { KnowledgeBaseReader, PromptOverride, ScoredLabel } from "../storage.js";
import { freeBytes } from "../durableFiles.js";
import type { HnswParams } from "../vectorGraph.js";
import type { WriteLock } from "../writeLock.js";
import { compactGraph, compactionIsWorthwhile } from "./compaction.js";
import { SyncedGraph } from "./graphSync.js";
import { LmdbStore, STORE_FILE, type StoreState } from "./lmdbStore.js";

/**
 * Commits whose postings may wait in recent segments: a term's lexical search reads one key per
 * segment holding it, so a long-lived writer merges them into the merged blocks past this.
 */
const MAX_RECENT_SEGMENTS = 64;

export interface EmbeddedOptions {
    kb: string;
    dir: string;
    dimension: number;
    hnsw: HnswParams;
}

/**
 * Reads a knowledge base of the embedded backend. Every call first catches up with the commits since
 * the last one; a knowledge base deleted and created again under the same name is opened afresh.
 */
export class EmbeddedReader implements KnowledgeBaseReader {
    private closed = false;

    private constructor(
        private store: LmdbStore,
        private graph: SyncedGraph,
        /** The store file's inode: another one means the knowledge base was created again. */
        private storeFile: number,
        private readonly options: EmbeddedOptions,
    ) {}

    public static async open(options: EmbeddedOptions): Promise<EmbeddedReader> {
        const { store, graph, storeFile } = await openStore(options);
        return new EmbeddedReader(store, graph, storeFile, options);
    }

    public get name(): string {
        return this.options.kb;
    }

    public async documents(): Promise<DocumentRecord[]> {
        return (await this.fresh()).allDocuments();
    }

    public async getDocument(id: string): Promise<DocumentRecord | undefined> {
        return (await this.fresh()).getDocument(id);
    }

    public async getChunks(labels: readonly number[]): Promise<Map<number, ChunkRecord>> {
        const store = await this.fresh();
        const chunks = new Map<number, ChunkRecord>();
        for (const label of labels) {
            const chunk = store.getChunk(label);
            if (chunk != null) chunks.set(label, chunk);
        }
        return chunks;
    }

    public async getVectors(labels: readonly number[]): Promise<Map<number, number[]>> {
        const store = await this.fresh();
        const vectors = new Map<number, number[]>();
        for (const label of labels) {
            const vector = store.getVector(label);
            if (vector != null) vectors.set(label, Array.from(vector));
        }
        return vectors;
    }

    public async denseSearch(vector: readonly number[], k: number): Promise<ScoredLabel[]> {
        await this.fresh();
        return (await this.graph.current()).search(vector, k);
    }

    public async denseScores(vector: readonly number[], labels: readonly number[]): Promise<Map<number, number>> {
        await this.fresh();
        const graph = await this.graph.current();
        const scores = new Map<number, number>();
        for (const label of labels) {
            const score = graph.similarity(vector, label);
            if (score != null) scores.set(label, score);
        }
        return scores;
    }

    public async lexicalSearch(terms: readonly string[], k: number): Promise<LexicalHit[]> {
        const store = await this.fresh();
        return queryOf(store, terms).search((term) => store.postings.scan(term), k);
    }

    public async lexicalScores(terms: readonly string[], labels: readonly number[]): Promise<Map<number, LexicalHit>> {
        const store = await this.fresh();
        const query = queryOf(store, terms);
        const stored = labels.filter((label) => store.hasChunk(label));
        const scores = new Map(stored.map((label) => [label, 0]));
        for (const { term, idf } of query.terms) {
            for (const [label, entry] of store.postings.find(term, stored)) scores.set(label, scores.get(label)! + query.termScore(idf, entry.count, entry.length));
        }
        return new Map([...scores].map(([label, score]) => [label, query.hit(label, score)]));
    }

    public async promptTemplate(language: Language): Promise<PromptOverride | undefined> {
        await this.fresh();
        const file = path.join(this.options.dir, "prompts", `${language}.txt`);
        try {
            return { text: await fs.readFile(file, "utf8"), origin: file };
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
            throw error;
        }
    }

    public async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await this.store.close();
    }

    public async [Symbol.asyncDispose](): Promise<void> {
        await this.close();
    }

    /** The store to read, reopened when the knowledge base was created again since. */
    private async fresh(): Promise<LmdbStore> {
        if (this.closed) throw new KnowledgeBaseClosedError(this.options.kb);
        const storeFile = await inodeOf(this.options);
        if (storeFile !== this.storeFile) {
            const reopened = await openStore(this.options);
            await this.store.close();
            ({ store: this.store, graph: this.graph, storeFile: this.storeFile } = reopened);
        }
        return this.store;
    }
}

/**
 * Whether an LMDB commit failed writing its pages. LMDB reports a short write, which is what a full
 * disk gives, as EIO (5), the same as a failing disk.
 */
function isLmdbWriteError(error: unknown): boolean {
    return (error as { code?: unknown } | undefined)?.code === 5;
}

/** Whether the file system of `dir` has less room left than a commit of about `bytes` needs (with LMDB's copy-on-write pages, generously). */
async function lacksRoomFor(dir: string, bytes: number): Promise<boolean> {
    return await freeBytes(dir) < Math.max(1 << 20, 4 * bytes);
}

function queryOf(store: LmdbStore, terms: readonly string[]): Bm25Query {
    const state = store.state();
    return new Bm25Query(terms, { chunks: state.chunks, totalLength: state.totalLength }, (term) => store.postings.documentFrequency(term));
}

async function inodeOf(options: EmbeddedOptions): Promise<number> {
    try {
        return (await fs.stat(path.join(options.dir, STORE_FILE))).ino;
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new KnowledgeBaseNotFoundError(options.kb, { dataDir: path.dirname(options.dir), existing: [] });
        throw error;
    }
}

async function openStore(options: EmbeddedOptions): Promise<{ store: LmdbStore; graph: SyncedGraph; storeFile: number }> {
    // Opening creates the store of a knowledge base nothing was ever committed to.
    const store = LmdbStore.open(options.kb, options.dir);
    try {
        return { store, graph: await SyncedGraph.open(store, options), storeFile: await inodeOf(options) };
    } catch (error) {
        await store.close();
        throw error;
    }
}

/**
 * The one writer of a knowledge base of the embedded backend. Changes wait in memory until
 * `commit()` writes them in one LMDB transaction; closing saves the vector graph when enough has
 * changed since it was last saved (see `compactionIsWorthwhile`), then gives up the write lock.
 */
export class EmbeddedWriter extends BufferedWriter {
    /** About what committing `pending` writes, to tell a full disk from a failing one. */
    private pendingBytes = 0;

    public constructor(
        private readonly store: LmdbStore,
        private readonly lock: WriteLock,
        private readonly options: EmbeddedOptions,
        private version = store.state().version,
        private labelsIssued = store.state().labelsIssued,
    ) {
        super();
    }

    public get name(): string {
        return this.options.kb;
    }

    protected get compromised(): Error | undefined {
        return this.lock.compromised;
    }

    protected async storedDocuments(): Promise<DocumentRecord[]> {
        return this.store.allDocuments();
    }

    protected async storedDocument(id: string): Promise<DocumentRecord | undefined> {
        return this.store.getDocument(id);
    }

    protected async storedWithHash(hash: string, except: readonly string[]): Promise<DocumentRecord | undefined> {
        const id = this.store.documentIdWithHash(hash);
        return id != null && !except.includes(id) ? this.store.getDocument(id) : undefined;
    }

    public async putDocument(document: Omit<DocumentRecord, "labels">, chunks: readonly NewChunk[], vectors: readonly (readonly number[])[]): Promise<DocumentRecord> {
        this.assertWritable();
        const labels = chunks.map((_, i) => this.labelsIssued + i);
        const stored = chunksToStore(this.name, this.options.dimension, document, chunks, vectors, labels);
        this.labelsIssued += stored.length;
        const record: DocumentRecord = { ...document, labels };
        this.pending.set(document.id, { kind: "put", record, chunks: stored });
        for (const { chunk, counts } of stored) this.pendingBytes += Buffer.byteLength(chunk.text) + 4 * this.options.dimension + 16 * counts.size + 256;
        return record;
    }

    public async commit(): Promise<void> {
        this.assertWritable();
        if (this.pending.size === 0) return;
        await this.lock.assertHeld();
        let state: StoreState;
        try {
            state = this.store.commit(this.name, this.version, this.labelsIssued, this.pending);
        } catch (error) {
            if (isDiskFull(error) || (isLmdbWriteError(error) && await lacksRoomFor(this.options.dir, this.pendingBytes))) {
                throw new InsufficientStorageError(this.name, { cause: error });
            }
            throw error;
        }
        this.version = state.version;
        this.pending.clear();
        this.pendingBytes = 0;
        if (state.recentSegments >= MAX_RECENT_SEGMENTS) await this.mergePostings();
    }

    /** Merges the recent postings; a full disk leaves them for a later merge (the commit stands). */
    private async mergePostings(): Promise<void> {
        try {
            await this.store.mergePostings();
        } catch (error) {
            if (!isDiskFull(error) && !isLmdbWriteError(error)) throw error;
        }
    }

    /**
     * Drops what was not committed, saves the vector graph when worthwhile, and releases the write
     * lock. The graph is only a faster start for the next reader: when it cannot be saved (a full
     * disk), every commit is kept all the same and the next writer tries again.
     */
    public async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        this.pending.clear();
        try {
            if (this.lock.compromised == null && compactionIsWorthwhile(this.store.state())) {
                await compactGraph(this.store, this.lock, this.options).catch(() => undefined);
            }
        } finally {
            await this.lock.release();
            await this.store.close();
        }
    }
}
