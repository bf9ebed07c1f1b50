import fs from "node:fs";
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from "lmdb";
import { CorruptKnowledgeBaseError, KnowledgeBaseLockLostError } from "../../errors.js";
import { termCounts } from "../../retrieval/bm25.js";
import { TOKENIZER_VERSION, tokenize } from "../../retrieval/tokenize.js";
import type { ChunkToStore, DocumentChange } from "../pendingChanges.js";
import type { ChunkRecord, DocumentRecord } from "../records.js";
import { PostingBlocks, type FragmentedDatabase, type PostingEntry, type PostingsDatabase, type RecentDatabase, type TermsDatabase } from "./postingBlocks.js";

/** The file the store lives in, inside the knowledge base's folder. */
export const STORE_FILE = "store.mdb";
/** LMDB's table of readers, beside the store (lmdb-js names it so). */
const LOCK_FILE = `${STORE_FILE}-lock`;
/** More than LMDB's lock file takes (8,272 bytes with lmdb-js's defaults; LMDB truncates it to its size). */
const LOCK_FILE_BYTES = 64 * 1024;

/** What a knowledge base holds as a whole, updated by every commit. */
export interface StoreState {
    formatVersion: 2;
    /** Commits so far; 0 before the first. */
    version: number;
    /** The label the next chunk gets: labels are never handed out twice. */
    labelsIssued: number;
    documents: number;
    chunks: number;
    /** Sum of the chunks' lengths in terms, for BM25. */
    totalLength: number;
    /** Commits whose postings are still in recent segments (see `PostingBlocks`). */
    recentSegments: number;
    /** The oldest commit whose removals the log still holds: a reader at an older version reloads the graph. */
    logStart: number;
    /** Chunks added or removed since the graph was last saved: what opening has to replay. */
    sinceCheckpoint: number;
    /** The `TOKENIZER_VERSION` that made the postings: others are rebuilt (see `rebuildPostings`). */
    tokenizer: string;
    checkpoint?: GraphCheckpoint;
}

/** A saved HNSW graph: the state of the vectors at one version. */
export interface GraphCheckpoint {
    /** File name in the knowledge base's folder. */
    file: string;
    bytes: number;
    version: number;
    labelsIssued: number;
    chunks: number;
}

/** A chunk as stored: its label is the key. */
type StoredChunk = Omit<ChunkRecord, "label">;

/** The largest a store may grow: 1 TiB. */
const MAP_BYTES = 2 ** 40;
/** Chunks tokenized per transaction by `rebuildPostings`. */
const REBUILD_BATCH_CHUNKS = 5_000;
/** Terms merged per transaction by `mergePostings`: each transaction short, so readers are never held back long. */
const MERGE_BATCH_TERMS = 2_000;

const INITIAL_STATE: StoreState = {
    formatVersion: 2, version: 0, labelsIssued: 0, documents: 0, chunks: 0, totalLength: 0, recentSegments: 0, logStart: 1, sinceCheckpoint: 0, tokenizer: TOKENIZER_VERSION,
};

/**
 * A knowledge base's LMDB environment: documents, chunks, vectors, BM25 postings, and a log of the
 * chunks each commit removed. LMDB commits are atomic and durable (copy-on-write pages, fsync at
 * commit), so a crash at any moment leaves the last commit whole; readers in any process see the
 * last commit without blocking the writer. Chunk texts stay on disk (memory-mapped) until asked for.
 */
export class LmdbStore {
    private readonly meta: Database<StoreState, string>;
    private readonly documents: Database<DocumentRecord, string>;
    private readonly hashes: Database<string, string>;
    private readonly chunks: Database<StoredChunk, number>;
    private readonly vectors: Database<Buffer, number>;
    private readonly log: Database<number[], number>;
    public readonly postings: PostingBlocks;

    private constructor(private readonly root: RootDatabase) {
        this.meta = root.openDB("meta", {});
        this.documents = root.openDB("documents", {});
        this.hashes = root.openDB("hashes", {});
        this.chunks = root.openDB("chunks", { keyEncoding: "uint32" });
        this.vectors = root.openDB("vectors", { keyEncoding: "uint32", encoding: "binary" });
        this.log = root.openDB("log", { keyEncoding: "uint32" });
        this.postings = new PostingBlocks(
            root.openDB("postings", { encoding: "binary" }) as PostingsDatabase,
            root.openDB("recent", { encoding: "binary" }) as RecentDatabase,
            root.openDB("terms", {}) as TermsDatabase,
            root.openDB("fragmented", {}) as FragmentedDatabase,
        );
    }

    /** Opens (or creates) the store of the knowledge base `kb` in `dir`. */
    public static open(kb: string, dir: string): LmdbStore {
        const file = path.join(dir, STORE_FILE);
        assertLmdbFile(kb, file);
        preallocateLockFile(dir);
        const options: RootDatabaseOptionsWithPath & { noReadAhead: boolean } = {
            path: file,
            compression: false,
            maxDbs: 16,
            // One map of the most the store may grow to (address space only: the file grows as it
            // is written). lmdb-js otherwise starts at 128 KB and maps the file anew each time it
            // outgrows the map, and old maps stay resident while anything still reads through them.
            mapSize: MAP_BYTES,
            // A commit returns once it is on the disk: lmdb-js's default lets the fsync finish after
            // it returns, so a power cut could take back a commit already reported done.
            overlappingSync: false,
            // Reads are of single pages here and there; read-ahead (MDB_NORDAHEAD, which lmdb-js
            // supports but does not declare) would bring each one's neighbours into memory too.
            noReadAhead: true,
        };
        return new LmdbStore(open(options));
    }

    public state(): StoreState {
        // A store of an earlier build of this format may lack fields added since.
        return { ...INITIAL_STATE, ...this.meta.get("state") };
    }

    /** Whether anything was ever committed (a store that does not exist yet reads as empty). */
    public get initialized(): boolean {
        return this.meta.get("state") != null;
    }

    public getDocument(id: string): DocumentRecord | undefined {
        return this.documents.get(id);
    }

    public documentIdWithHash(hash: string): string | undefined {
        return this.hashes.get(hash);
    }

    public allDocuments(): DocumentRecord[] {
        return [...this.documents.getRange({})].map(({ value }) => value);
    }

    public getChunk(label: number): ChunkRecord | undefined {
        const stored = this.chunks.get(label);
        return stored != null ? { ...stored, label } : undefined;
    }

    public hasChunk(label: number): boolean {
        return this.chunks.doesExist(label);
    }

    public getVector(label: number): Float32Array | undefined {
        const value = this.vectors.get(label);
        return value != null ? decodeVector(value) : undefined;
    }

    /** The first `limit` stored vectors with a label in [from, to), in label order. */
    public vectorsBetween(from: number, to: number, limit: number): [label: number, vector: Float32Array][] {
        if (from >= to) return [];
        return [...this.vectors.getRange({ start: from, end: to, limit })].map(({ key, value }) => [key, decodeVector(value)]);
    }

    /** The labels removed by the commits after `version` up to the current one. */
    public removedSince(version: number, current: number): number[] {
        const removed: number[] = [];
        for (const { value } of this.log.getRange({ start: version + 1, end: current + 1 })) removed.push(...value);
        return removed;
    }

    /**
     * Writes one commit, atomically. Throws `KnowledgeBaseLockLostError`, writing nothing, unless
     * the store is still at `expectedVersion`: another writer committed since this one opened.
     */
    public commit(kb: string, expectedVersion: number, labelsIssued: number, changes: ReadonlyMap<string, DocumentChange>): StoreState {
        return this.root.transactionSync(() => {
            const state = this.state();
            if (state.version !== expectedVersion) {
                throw new KnowledgeBaseLockLostError(kb, `version ${state.version} was committed by another writer since this one opened version ${expectedVersion}`);
            }
            const next: StoreState = { ...state, version: state.version + 1, labelsIssued };
            const added = new Map<string, PostingEntry[]>();
            const removedPostings = new Map<string, number[]>();
            const removedLabels: number[] = [];
            for (const [id, change] of changes) {
                const previous = this.documents.get(id);
                if (previous != null && change.kind !== "update") {
                    for (const label of previous.labels) this.removeChunk(label, next, removedPostings);
                    removedLabels.push(...previous.labels);
                    if (this.hashes.get(previous.hash) === id) this.hashes.removeSync(previous.hash);
                    next.documents--;
                }
                if (change.kind === "remove") {
                    if (previous != null) this.documents.removeSync(id);
                    continue;
                }
                if (change.kind === "update" && previous != null && previous.hash !== change.record.hash && this.hashes.get(previous.hash) === id) this.hashes.removeSync(previous.hash);
                if (change.kind === "put") {
                    for (const item of change.chunks) this.addChunk(item, next, added);
                    next.documents++;
                }
                this.documents.putSync(id, change.record);
                this.hashes.putSync(change.record.hash, id);
            }
            this.postings.apply(state.labelsIssued, added, removedPostings);
            if (added.size > 0) next.recentSegments++;
            next.sinceCheckpoint += removedLabels.length + (labelsIssued - state.labelsIssued);
            this.log.putSync(next.version, removedLabels);
            this.meta.putSync("state", next);
            return next;
        });
    }

    /**
     * Records a saved graph as the one to open from, and forgets the log before the previous one:
     * a reader further behind than that reloads the graph. Throws unless the store is at `checkpoint.version`.
     */
    public recordCheckpoint(kb: string, checkpoint: GraphCheckpoint): StoreState {
        return this.root.transactionSync(() => {
            const state = this.state();
            if (state.version !== checkpoint.version) {
                throw new KnowledgeBaseLockLostError(kb, `version ${state.version} was committed by another writer while the graph of version ${checkpoint.version} was being saved`);
            }
            const logStart = (state.checkpoint?.version ?? 0) + 1;
            for (const { key } of this.log.getRange({ start: 0, end: logStart })) this.log.removeSync(key);
            const next: StoreState = { ...state, checkpoint, logStart, sinceCheckpoint: 0 };
            this.meta.putSync("state", next);
            return next;
        });
    }

    /**
     * Makes the postings again from the chunks' texts, with this version's tokenizer: terms another
     * version made would not match the questions' terms. A transaction per batch of chunks; a crash
     * midway leaves the old version recorded, so the next writer starts over.
     */
    public async rebuildPostings(): Promise<void> {
        this.root.transactionSync(() => this.postings.clear());
        let totalLength = 0;
        for (let from = 0; ;) {
            const batch = [...this.chunks.getRange({ start: from, limit: REBUILD_BATCH_CHUNKS })];
            if (batch.length === 0) break;
            const added = new Map<string, PostingEntry[]>();
            for (const { key: label, value: chunk } of batch) {
                const { counts, length } = termCounts(tokenize(chunk.text));
                totalLength += length;
                for (const [term, count] of counts) {
                    let entries = added.get(term);
                    if (entries == null) added.set(term, entries = []);
                    entries.push({ label, count, length });
                }
            }
            this.root.transactionSync(() => this.postings.appendMerged(added));
            from = batch.at(-1)!.key + 1;
            await yieldToEventLoop();
        }
        await this.mergePostings();
        this.root.transactionSync(() => this.meta.putSync("state", { ...this.state(), totalLength, tokenizer: TOKENIZER_VERSION }));
    }

    /**
     * Moves the postings commits left in recent segments into the merged blocks, then merges the
     * blocks removals left small: a transaction per batch of terms. A crash midway leaves each term
     * merged or not; the next merge goes on.
     */
    public async mergePostings(): Promise<void> {
        for (let after: string | undefined; ;) {
            after = this.root.transactionSync(() => this.postings.mergeRecent(after, MERGE_BATCH_TERMS));
            if (after == null) break;
            await yieldToEventLoop();
        }
        this.root.transactionSync(() => this.meta.putSync("state", { ...this.state(), recentSegments: 0 }));
        for (let merged = MERGE_BATCH_TERMS; merged === MERGE_BATCH_TERMS; await yieldToEventLoop()) {
            merged = this.root.transactionSync(() => this.postings.mergeFragments(MERGE_BATCH_TERMS));
        }
    }

    /** Forgets the saved graph (a damaged one): the next open builds it again from the vectors. */
    public forgetCheckpoint(): void {
        this.root.transactionSync(() => {
            const { checkpoint: _forgotten, ...state } = this.state();
            this.meta.putSync("state", { ...state, sinceCheckpoint: state.chunks });
        });
    }

    public close(): Promise<void> {
        return this.root.close();
    }

    private addChunk({ chunk, vector, counts, length }: ChunkToStore, state: StoreState, added: Map<string, PostingEntry[]>): void {
        const { label, ...stored } = chunk;
        this.chunks.putSync(label, stored);
        this.vectors.putSync(label, encodeVector(vector));
        for (const [term, count] of counts) {
            let entries = added.get(term);
            if (entries == null) added.set(term, entries = []);
            entries.push({ label, count, length });
        }
        state.chunks++;
        state.totalLength += length;
    }

    /** Takes a chunk out; its terms come from tokenizing its text again (they were made by the same tokenizer, see `tokenizer`). */
    private removeChunk(label: number, state: StoreState, removed: Map<string, number[]>): void {
        const chunk = this.chunks.get(label);
        if (chunk == null) return;
        const { counts, length } = termCounts(tokenize(chunk.text));
        for (const term of counts.keys()) {
            let labels = removed.get(term);
            if (labels == null) removed.set(term, labels = []);
            labels.push(label);
        }
        state.totalLength -= length;
        this.chunks.removeSync(label);
        this.vectors.removeSync(label);
        state.chunks--;
    }
}

/** Where LMDB's meta pages hold their magic number, and the number. */
const MAGIC_AT = 24;
const MDB_MAGIC = 0xbeefc0de;

/**
 * Throws `CorruptKnowledgeBaseError` unless `file` is missing (a new store) or starts with an LMDB
 * meta page: LMDB trusts its file, and opening one that is something else crashes the process.
 */
function assertLmdbFile(kb: string, file: string): void {
    let handle: number;
    try {
        handle = fs.openSync(file, "r");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
        throw error;
    }
    try {
        const header = Buffer.alloc(MAGIC_AT + 4);
        const read = fs.readSync(handle, header, 0, header.length, 0);
        if (read === header.length && header.readUInt32LE(MAGIC_AT) === MDB_MAGIC) return;
    } finally {
        fs.closeSync(handle);
    }
    throw new CorruptKnowledgeBaseError(kb, `its file ${STORE_FILE} is not an LMDB store. Restore it from a backup, or delete the knowledge base and ingest its documents again.`, { file: STORE_FILE });
}

/**
 * Writes LMDB's lock file in full before LMDB first opens it. LMDB sizes a new one with ftruncate
 * and then writes it through a memory map: on a disk that is full, or nearly, the page a write
 * touches cannot be allocated, and the process dies of SIGBUS instead of getting ENOSPC. Written
 * here, a full disk fails this write with ENOSPC; the file appears whole or not at all (a link, which
 * fails if another process made the file first), so no LMDB can be using it while it is written.
 */
function preallocateLockFile(dir: string): void {
    const lock = path.join(dir, LOCK_FILE);
    if (fs.existsSync(lock)) return;
    const temp = `${lock}.${process.pid}.tmp`;
    try {
        fs.writeFileSync(temp, Buffer.alloc(LOCK_FILE_BYTES));
        fs.linkSync(temp, lock);
    } catch (error) {
        // EEXIST: another process made it first. ENOENT: the writer's clean-up took the temporary
        // file (see `removeUnusedGraphs`); LMDB then makes the lock file itself, as it always did.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" && code !== "ENOENT") throw error;
    } finally {
        fs.rmSync(temp, { force: true });
    }
}

function encodeVector(vector: readonly number[]): Buffer {
    return Buffer.from(Float32Array.from(vector).buffer);
}

function decodeVector(value: Buffer): Float32Array {
    return value.byteOffset % 4 === 0
        ? new Float32Array(value.buffer, value.byteOffset, value.length / 4)
        : new Float32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length));
}
