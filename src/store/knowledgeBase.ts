import fs from "node:fs/promises";
import path from "node:path";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import {
    CorruptKnowledgeBaseError, EmbedderMismatchError, InsufficientStorageError, isDiskFull, KnowledgeBaseClosedError, KnowledgeBaseLockLostError,
} from "../errors.js";
import type { EmbedderIdentity } from "../models/llamaEmbeddings.js";
import { assertCompleteIndexFile } from "./hnswIndexFile.js";
import { checksumOfData, checksumOfFile, sameChecksum, type GenerationChecksums } from "./generationChecksums.js";
import { fsyncPath, temporaryFilePattern, temporaryPathOf, writeFileAtomic, writeFileDurable } from "./durableFiles.js";
import { Bm25Index, type Bm25Snapshot } from "../retrieval/bm25Index.js";
import { TOKENIZER_VERSION, tokenize } from "../retrieval/tokenize.js";
import { HnswVectorStore, type ChunkRecord, type HnswParams, type NewChunk } from "./hnswVectorStore.js";
import { acquireWriteLock, type WriteLock } from "./writeLock.js";

/** A stored document: one file's chunks. */
export interface DocumentRecord {
    /** Stable id derived from `source`. */
    id: string;
    /** Where the document came from: an absolute file path, or an uploaded file's name. */
    source: string;
    /**
     * The name shown to people who use the knowledge base, which gives away no server folder: the
     * path below the folder that was ingested (with that folder's name), or the file name. Missing in
     * documents stored before it was recorded; the file name stands in.
     */
    displayName?: string;
    /** SHA-256 of the normalised text: decides whether two files hold the same document. */
    hash: string;
    /** SHA-256 of the file's bytes: lets an unchanged file be skipped without parsing it again. */
    fileHash: string;
    /** File format, by extension (pdf, docx, txt, ...). */
    format: string;
    encoding?: string;
    sizeBytes: number;
    ingestedAt: string;
    /** Labels of the document's chunks, in document order. */
    labels: number[];
}

/** A document as listings show it. */
export interface DocumentSummary {
    id: string;
    source: string;
    /** The file name to show. */
    name: string;
    chunks: number;
    hash: string;
    format: string;
    sizeBytes: number;
    ingestedAt: string;
}

export function summarizeDocument(document: DocumentRecord): DocumentSummary {
    const { id, source, hash, format, sizeBytes, ingestedAt } = document;
    return { id, source, name: displayNameOf(document), chunks: document.labels.length, hash, format, sizeBytes, ingestedAt };
}

/** The name to show for a document (see `DocumentRecord.displayName`). */
export function displayNameOf(document: Pick<DocumentRecord, "source" | "displayName">): string {
    return document.displayName ?? path.basename(document.source);
}

export interface KnowledgeBaseManifest {
    formatVersion: 1;
    name: string;
    createdAt: string;
    embedder: EmbedderIdentity;
    hnsw: { m: number; efConstruction: number };
}

/** The lexical index as saved: its terms are only valid for the tokenizer that made them. */
interface LexicalSnapshot extends Bm25Snapshot {
    tokenizer: string;
}

interface SnapshotRecords {
    generation: number;
    labelsIssued: number;
    documents: DocumentRecord[];
    chunks: ChunkRecord[];
}

export interface OpenKnowledgeBaseOptions {
    embeddings: EmbeddingsInterface;
    embedder: EmbedderIdentity;
    hnsw: HnswParams;
    /** `write` takes the one-writer lock until `close()`; `read` sees the last committed state. */
    mode: "read" | "write";
    /** With `write`: how long to wait for another writer to finish (default 10 s). */
    lockWaitMs?: number;
}

const MANIFEST = "kb.json";
const CURRENT = "CURRENT";
const indexFile = (generation: number) => `index-${generation}.hnsw`;
const recordsFile = (generation: number) => `records-${generation}.json`;
const lexicalFile = (generation: number) => `lexical-${generation}.json`;
const checksumsFile = (generation: number) => `checksums-${generation}.json`;
const generationFile = /^(?:index|records|lexical|checksums)-(\d+)\.(?:hnsw|json)$/;

/**
 * A knowledge base on disk: its documents, their chunks, the HNSW graph of the chunks' vectors and
 * the BM25 index of their words.
 *
 * Changes are made in memory and become durable at `commit()`, which writes a new generation (graph,
 * lexical index, records, and the checksums of those three) beside the last one and then switches
 * the `CURRENT` pointer with an atomic rename. Opening verifies the checksums, so a damaged file is
 * reported by name; the previous generation is kept for `repair()` to roll back to.
 * A crash at any moment leaves the previous generation intact and current. A writer commits only
 * while it still holds the write lock and nobody else has committed since it opened.
 */
export class KnowledgeBase {
    private readonly documentsById = new Map<string, DocumentRecord>();
    private dirty = false;
    /** Whether a document was put since the last commit (a commit that only removes may make room, see `commit`). */
    private grown = false;
    private closed = false;

    private constructor(
        public readonly name: string,
        public readonly dir: string,
        public readonly manifest: KnowledgeBaseManifest,
        public readonly store: HnswVectorStore,
        /** BM25 over the same chunks, under the same labels. */
        public readonly lexical: Bm25Index,
        documents: readonly DocumentRecord[],
        private generation: number,
        private readonly lock: WriteLock | undefined,
    ) {
        for (const document of documents) this.documentsById.set(document.id, document);
    }

    /** Opens the knowledge base in `dir`, creating it when `mode` is `write` and it does not exist yet. */
    public static async open(name: string, dir: string, options: OpenKnowledgeBaseOptions): Promise<KnowledgeBase> {
        if (options.mode === "write") await fs.mkdir(dir, { recursive: true });
        const lock = options.mode === "write" ? await acquireWriteLock(dir, name, options.lockWaitMs ?? 10_000) : undefined;
        try {
            const manifest = await readManifest(name, dir) ?? await createManifest(name, dir, options);
            if (manifest.embedder.id !== options.embedder.id || manifest.embedder.dimension !== options.embedder.dimension) {
                throw new EmbedderMismatchError(name, describeEmbedder(manifest.embedder), describeEmbedder(options.embedder));
            }
            const hnsw = { ...options.hnsw, m: manifest.hnsw.m, efConstruction: manifest.hnsw.efConstruction };
            const generation = await readCurrentGeneration(name, dir);
            if (generation === 0) {
                const store = HnswVectorStore.create(options.embeddings, manifest.embedder.dimension, hnsw);
                return new KnowledgeBase(name, dir, manifest, store, new Bm25Index(), [], 0, lock);
            }
            const checksums = await readChecksums(name, dir, generation);
            await verifyFiles(name, dir, checksums, [indexFile(generation)]);
            const records = await readRecords(name, dir, generation, checksums);
            const store = await HnswVectorStore.load(
                options.embeddings, manifest.embedder.dimension, hnsw,
                path.join(dir, indexFile(generation)), records.chunks, records.labelsIssued,
            ).catch((error: unknown) => {
                throw new CorruptKnowledgeBaseError(name, `its vector index ${indexFile(generation)} cannot be read.`, { cause: error });
            });
            const lexical = await readLexicalIndex(dir, generation, records.chunks, checksums);
            if (lock != null) await removeGenerationsExcept(dir, [generation, generation - 1]);
            return new KnowledgeBase(name, dir, manifest, store, lexical, records.documents, generation, lock);
        } catch (error) {
            await lock?.release();
            throw error;
        }
    }

    /**
     * The committed documents and chunks of the knowledge base in `dir`, read without opening its
     * vector index or loading any model (for listing and showing).
     */
    public static async readCommitted(name: string, dir: string): Promise<{ documents: DocumentRecord[]; chunks: ChunkRecord[] }> {
        const generation = await readCurrentGeneration(name, dir);
        if (generation === 0) return { documents: [], chunks: [] };
        const { documents, chunks } = await readRecords(name, dir, generation, await readChecksums(name, dir, generation));
        return { documents, chunks };
    }

    /**
     * Points `CURRENT` back at the newest generation whose files are whole (their checksums match,
     * the records are consistent, the index is complete), and removes the damaged ones after it.
     * Returns the generation it was at (undefined when `CURRENT` itself was unreadable) and the one
     * it is at now; they are equal when nothing was damaged.
     */
    public static async repair(name: string, dir: string, lockWaitMs = 10_000): Promise<{ from: number | undefined; to: number }> {
        const lock = await acquireWriteLock(dir, name, lockWaitMs);
        try {
            const current = await readCurrentGeneration(name, dir).catch((error: unknown) => {
                if (error instanceof CorruptKnowledgeBaseError) return undefined;
                throw error;
            });
            if (current === 0) return { from: 0, to: 0 };
            const present = new Set<number>();
            for (const entry of await fs.readdir(dir)) {
                const match = generationFile.exec(entry);
                if (match != null) present.add(Number(match[1]));
            }
            const candidates = [...present].filter((generation) => current == null || generation <= current).sort((a, b) => b - a);
            for (const generation of candidates) {
                if (!await isWhole(name, dir, generation)) continue;
                if (generation !== current) {
                    await writeFileAtomic(path.join(dir, CURRENT), `${generation}\n`);
                    await removeGenerationsExcept(dir, [generation]);
                }
                return { from: current, to: generation };
            }
            throw new CorruptKnowledgeBaseError(name, "no commit of it is whole, so there is none to go back to. Delete it and ingest its documents again.");
        } finally {
            await lock.release();
        }
    }

    /** The generation committed now in `dir` (0 when nothing was committed): changes with every commit. */
    public static currentGeneration(name: string, dir: string): Promise<number> {
        return readCurrentGeneration(name, dir);
    }

    /** The generation this instance was opened at (or last committed). */
    public get openedGeneration(): number {
        return this.generation;
    }

    public get writable(): boolean {
        return this.lock != null;
    }

    public documents(): DocumentRecord[] {
        this.assertOpen();
        return [...this.documentsById.values()];
    }

    public getDocument(id: string): DocumentRecord | undefined {
        this.assertOpen();
        return this.documentsById.get(id);
    }

    public findByHash(hash: string): DocumentRecord | undefined {
        this.assertOpen();
        for (const document of this.documentsById.values()) if (document.hash === hash) return document;
        return undefined;
    }

    /** The document's chunks in document order. */
    public chunksOf(documentId: string): ChunkRecord[] {
        this.assertOpen();
        const document = this.documentsById.get(documentId);
        if (document == null) return [];
        return document.labels.map((label) => this.store.getChunk(label)).filter((chunk) => chunk != null);
    }

    /** Adds a document, replacing the one with the same id (its old chunks go). Durable at `commit()`. */
    public putDocument(document: Omit<DocumentRecord, "labels">, chunks: readonly Omit<NewChunk, "documentId" | "source">[], vectors: readonly number[][]): DocumentRecord {
        this.assertWritable();
        const previous = this.documentsById.get(document.id);
        const labels = this.store.addChunks(vectors, chunks.map((chunk) => ({ ...chunk, documentId: document.id, source: document.source })));
        labels.forEach((label, i) => this.lexical.add(label, tokenize(chunks[i]!.text)));
        if (previous != null) this.deleteChunks(previous.labels);
        const record = { ...document, labels };
        this.documentsById.set(document.id, record);
        this.dirty = true;
        this.grown = true;
        return record;
    }

    /** Changes a stored document's file details (not its chunks). Durable at `commit()`. */
    public updateDocument(id: string, changes: Partial<Pick<DocumentRecord, "fileHash" | "format" | "sizeBytes" | "displayName">>): void {
        this.assertWritable();
        const document = this.documentsById.get(id);
        if (document == null) return;
        this.documentsById.set(id, { ...document, ...changes });
        this.dirty = true;
    }

    /** Removes a document and its chunks. Durable at `commit()`. Returns whether it existed. */
    public removeDocument(id: string): boolean {
        this.assertWritable();
        const document = this.documentsById.get(id);
        if (document == null) return false;
        this.deleteChunks(document.labels);
        this.documentsById.delete(id);
        this.dirty = true;
        return true;
    }

    /**
     * Makes every change so far durable, as one atomic step. A full disk is an
     * `InsufficientStorageError`, and leaves no partial generation — except that a commit that only
     * removes documents, which is how a person makes room, may first give up the previous
     * generation (kept for `repair()`) to find the space it needs.
     */
    public async commit(): Promise<void> {
        try {
            await this.writeGeneration();
        } catch (error) {
            if (!isDiskFull(error)) throw error;
            if (this.grown || !await removeGenerationsExcept(this.dir, [this.generation])) throw new InsufficientStorageError(this.name, { cause: error });
            try {
                await this.writeGeneration();
            } catch (retried) {
                if (isDiskFull(retried)) throw new InsufficientStorageError(this.name, { cause: retried });
                throw retried;
            }
        }
    }

    private async writeGeneration(): Promise<void> {
        this.assertWritable();
        if (!this.dirty) return;
        await this.assertStillTheWriter();
        const generation = this.generation + 1;
        // Written under this process's temporary names first: until the writer is known to still
        // hold the lock, nothing may be written under a name that another writer's generation has.
        const staged = new Map<string, string>();
        const stage = (file: string) => {
            const temporary = temporaryPathOf(path.join(this.dir, file));
            staged.set(file, temporary);
            return temporary;
        };
        try {
            const checksums: GenerationChecksums = {};
            const indexPath = stage(indexFile(generation));
            await this.store.save(indexPath);
            await fsyncPath(indexPath);
            checksums[indexFile(generation)] = await checksumOfFile(indexPath);
            const lexical = JSON.stringify({ tokenizer: TOKENIZER_VERSION, ...this.lexical.toSnapshot() } satisfies LexicalSnapshot);
            await writeFileDurable(stage(lexicalFile(generation)), lexical);
            checksums[lexicalFile(generation)] = checksumOfData(lexical);
            const records = JSON.stringify({
                generation,
                labelsIssued: this.store.labelsIssued,
                documents: this.documents(),
                chunks: [...this.store.allChunks()],
            } satisfies SnapshotRecords);
            await writeFileDurable(stage(recordsFile(generation)), records);
            checksums[recordsFile(generation)] = checksumOfData(records);
            await writeFileDurable(stage(checksumsFile(generation)), JSON.stringify(checksums));
            await this.assertStillTheWriter();
        } catch (error) {
            for (const temporary of staged.values()) await fs.rm(temporary, { force: true });
            throw error;
        }
        try {
            for (const [file, temporary] of staged) await fs.rename(temporary, path.join(this.dir, file));
            await fsyncPath(this.dir);
            await writeFileAtomic(path.join(this.dir, CURRENT), `${generation}\n`);
        } catch (error) {
            // CURRENT still names the previous generation: this one's files are nobody's.
            for (const [file, temporary] of staged) {
                await fs.rm(temporary, { force: true });
                await fs.rm(path.join(this.dir, file), { force: true });
            }
            throw error;
        }
        // The previous generation stays one commit longer for readers that opened it just before.
        await removeGenerationsExcept(this.dir, [generation, this.generation]);
        this.generation = generation;
        this.dirty = false;
        this.grown = false;
    }

    /** Releases the write lock. Uncommitted changes are dropped; using the knowledge base afterwards is an error. */
    public async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await this.lock?.release();
    }

    /**
     * Checked right before the atomic switch of `CURRENT`: a writer whose lock went stale and was
     * taken over, or whose knowledge base another writer committed since, would otherwise put back
     * an old state and delete the other writer's generation.
     */
    private async assertStillTheWriter(): Promise<void> {
        await this.lock!.assertHeld();
        const committed = await readCurrentGeneration(this.name, this.dir);
        if (committed !== this.generation) {
            throw new KnowledgeBaseLockLostError(this.name, `generation ${committed} was committed by another writer since this one opened generation ${this.generation}`);
        }
    }

    private deleteChunks(labels: readonly number[]): void {
        this.store.deleteChunks(labels);
        for (const label of labels) this.lexical.remove(label);
    }

    private assertOpen(): void {
        if (this.closed) throw new KnowledgeBaseClosedError(this.name);
    }

    private assertWritable(): void {
        this.assertOpen();
        if (this.lock == null) throw new Error(`Knowledge base "${this.name}" was opened read-only.`);
        if (this.lock.compromised != null) throw new KnowledgeBaseLockLostError(this.name, this.lock.compromised.message);
    }
}

function describeEmbedder(embedder: EmbedderIdentity): string {
    return `"${embedder.id}" (${embedder.dimension}-dim)`;
}

async function readManifest(name: string, dir: string): Promise<KnowledgeBaseManifest | undefined> {
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, MANIFEST), "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
    }
    try {
        return JSON.parse(text) as KnowledgeBaseManifest;
    } catch (error) {
        throw new CorruptKnowledgeBaseError(name, `${MANIFEST} is not valid JSON.`, { cause: error });
    }
}

async function createManifest(name: string, dir: string, options: OpenKnowledgeBaseOptions): Promise<KnowledgeBaseManifest> {
    if (options.mode !== "write") throw new CorruptKnowledgeBaseError(name, `${MANIFEST} is missing.`);
    const manifest: KnowledgeBaseManifest = {
        formatVersion: 1,
        name,
        createdAt: new Date().toISOString(),
        embedder: options.embedder,
        hnsw: { m: options.hnsw.m, efConstruction: options.hnsw.efConstruction },
    };
    await writeFileAtomic(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
}

async function readCurrentGeneration(name: string, dir: string): Promise<number> {
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, CURRENT), "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
        throw error;
    }
    const generation = Number(text.trim());
    if (!Number.isInteger(generation) || generation < 1) throw new CorruptKnowledgeBaseError(name, `${CURRENT} holds "${text.trim()}".`);
    return generation;
}

/**
 * The checksums committed with a generation; undefined for a generation written before checksums
 * were (it is checked for consistency only, and gets them at its next commit).
 */
async function readChecksums(name: string, dir: string, generation: number): Promise<GenerationChecksums | undefined> {
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, checksumsFile(generation)), "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw damaged(name, checksumsFile(generation), "cannot be read", error);
    }
    try {
        return JSON.parse(text) as GenerationChecksums;
    } catch (error) {
        throw damaged(name, checksumsFile(generation), "is not valid JSON", error);
    }
}

/** Throws, naming the file, unless each of `files` matches its committed checksum. */
async function verifyFiles(name: string, dir: string, checksums: GenerationChecksums | undefined, files: readonly string[]): Promise<void> {
    if (checksums == null) return;
    for (const file of files) {
        const expected = checksums[file];
        if (expected == null) throw damaged(name, file, "has no checksum");
        const actual = await checksumOfFile(path.join(dir, file)).catch((error: unknown) => {
            throw damaged(name, file, "cannot be read", error);
        });
        if (!sameChecksum(actual, expected)) throw damaged(name, file, "does not match its checksum");
    }
}

async function readRecords(name: string, dir: string, generation: number, checksums: GenerationChecksums | undefined): Promise<SnapshotRecords> {
    const file = recordsFile(generation);
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, file), "utf8");
    } catch (error) {
        throw damaged(name, file, "cannot be read", error);
    }
    const expected = checksums?.[file];
    if (checksums != null && (expected == null || !sameChecksum(checksumOfData(text), expected))) throw damaged(name, file, "does not match its checksum");
    let records: SnapshotRecords;
    try {
        records = JSON.parse(text) as SnapshotRecords;
    } catch (error) {
        throw damaged(name, file, "is not valid JSON", error);
    }
    const labels = records.documents?.reduce((sum, document) => sum + document.labels.length, 0);
    if (!Array.isArray(records.chunks) || labels !== records.chunks.length) {
        throw damaged(name, file, `lists ${labels ?? "no"} chunks in its documents but holds ${Array.isArray(records.chunks) ? records.chunks.length : "no"}`);
    }
    return records;
}

function damaged(name: string, file: string, problem: string, cause?: unknown): CorruptKnowledgeBaseError {
    return new CorruptKnowledgeBaseError(name, `its file ${file} ${problem}. Run: yizhi kb repair ${name}`, { file, ...(cause != null ? { cause } : {}) });
}

/**
 * The generation's BM25 index. It is derived from the chunks' text, so one that is missing (the
 * knowledge base predates lexical search), unreadable, damaged (its checksum does not match) or
 * made by another tokenizer version is rebuilt from them; it is saved again at the next commit.
 */
async function readLexicalIndex(dir: string, generation: number, chunks: readonly ChunkRecord[], checksums: GenerationChecksums | undefined): Promise<Bm25Index> {
    try {
        const text = await fs.readFile(path.join(dir, lexicalFile(generation)), "utf8");
        const expected = checksums?.[lexicalFile(generation)];
        const whole = expected == null || sameChecksum(checksumOfData(text), expected);
        const snapshot = JSON.parse(text) as LexicalSnapshot;
        if (whole && snapshot.tokenizer === TOKENIZER_VERSION) return Bm25Index.fromSnapshot(snapshot);
    } catch {
        // Rebuilt below.
    }
    const index = new Bm25Index();
    for (const chunk of chunks) index.add(chunk.label, tokenize(chunk.text));
    return index;
}

/** Whether a generation's files are all there and whole: what `repair()` may go back to. */
async function isWhole(name: string, dir: string, generation: number): Promise<boolean> {
    try {
        const checksums = await readChecksums(name, dir, generation);
        await verifyFiles(name, dir, checksums, [indexFile(generation)]);
        await readRecords(name, dir, generation, checksums);
        await assertCompleteIndexFile(path.join(dir, indexFile(generation)));
        return true;
    } catch {
        return false;
    }
}

/**
 * Deletes snapshot files of other generations: older ones, and any that a crashed commit left
 * half-written, with its temporary files; returns whether there were any. Only the lock holder calls this.
 */
async function removeGenerationsExcept(dir: string, keep: readonly number[]): Promise<boolean> {
    let removed = false;
    for (const entry of await fs.readdir(dir)) {
        const match = generationFile.exec(entry);
        const stale = match != null ? !keep.includes(Number(match[1])) : temporaryFilePattern.test(entry);
        if (stale) {
            await fs.rm(path.join(dir, entry), { force: true });
            removed = true;
        }
    }
    return removed;
}
