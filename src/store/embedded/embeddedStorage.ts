import fs from "node:fs/promises";
import path from "node:path";
import type { Language } from "../../answer/language.js";
import {
    CorruptKnowledgeBaseError, InsufficientStorageError, KnowledgeBaseExistsError, KnowledgeBaseNameError, KnowledgeBaseNotFoundError,
} from "../../errors.js";
import type { EmbedderIdentity } from "../../models/models.js";
import { TOKENIZER_VERSION } from "../../retrieval/tokenize.js";
import { byUpdatedAtDescending, CONVERSATION_ID, summarizeConversation, type Conversation, type ConversationSummary } from "../conversations.js";
import { freeBytes, writeFileAtomic } from "../durableFiles.js";
import { validateKbName, kbNamePattern } from "../knowledgeBaseName.js";
import { assertSameEmbedder } from "../sameEmbedder.js";
import type {
    CompactReport, KnowledgeBaseReader, KnowledgeBaseSummary, KnowledgeBaseWriter, LockWaitOptions, OpenWriterOptions, RepairReport, Storage,
} from "../storage.js";
import type { HnswParams } from "../vectorGraph.js";
import { acquireWriteLock, type WriteLock } from "../writeLock.js";
import { compactGraph, removeUnusedGraphs } from "./compaction.js";
import { EmbeddedReader, EmbeddedWriter, type EmbeddedOptions } from "./embeddedKnowledgeBase.js";
import { assertSavedGraph } from "./graphSync.js";
import { isLegacy, legacyCounts, migrateLegacy, repairLegacy } from "./legacyFormat.js";
import { LmdbStore, STORE_FILE } from "./lmdbStore.js";

const MANIFEST = "kb.json";
/** The folder, in a knowledge base's, of its conversations: one `<id>.json` each. */
const CONVERSATIONS = "conversations";
const DEFAULT_LOCK_WAIT_MS = 10_000;
/** Free space below which a new knowledge base is refused: its empty store and lock file take a few pages. */
const MIN_FREE_BYTES_TO_CREATE = 1 << 20;

/** What `kb.json` says of a knowledge base: written once, when it is created. */
export interface KnowledgeBaseManifest {
    formatVersion: 1;
    name: string;
    createdAt: string;
    embedder: EmbedderIdentity;
    hnsw: { m: number; efConstruction: number };
}

export interface EmbeddedStorageOptions {
    /** The folder holding one folder per knowledge base. */
    dataDir: string;
    /** The graph parameters of new knowledge bases (`m`, `efConstruction`) and of every search (`efSearch`). */
    hnsw: HnswParams;
}

/**
 * The default backend: each knowledge base is a folder under the data directory, holding `kb.json`,
 * an LMDB store (documents, chunks, vectors, BM25 postings, a log of removals) and the last saved
 * HNSW graph. A commit writes only what changed; the graph is saved again when enough has changed
 * (see `compactionIsWorthwhile`) and by `compact`. One writer per knowledge base, by a lock file.
 */
export class EmbeddedStorage implements Storage {
    public readonly commitIntervalMs = 2_000;

    public constructor(private readonly options: EmbeddedStorageOptions) {}

    public get location(): string {
        return this.options.dataDir;
    }

    /** Folders need no setting up: the data directory is made with the first knowledge base. */
    public ready(): Promise<void> {
        return Promise.resolve();
    }

    /** The folder of a knowledge base, always inside the data directory. */
    public dirOf(name: string): string {
        const dir = path.resolve(this.options.dataDir, validateKbName(name));
        if (path.dirname(dir) !== path.resolve(this.options.dataDir)) throw new KnowledgeBaseNameError(`"${name}" is not a valid knowledge-base name.`);
        return dir;
    }

    public async exists(name: string): Promise<boolean> {
        return fs.access(path.join(this.dirOf(name), MANIFEST)).then(() => true, () => false);
    }

    public async assertExists(name: string): Promise<void> {
        if (await this.exists(name)) return;
        const existing = (await this.list()).map((summary) => summary.name);
        throw new KnowledgeBaseNotFoundError(name, { dataDir: this.options.dataDir, existing });
    }

    public async list(): Promise<KnowledgeBaseSummary[]> {
        let entries: string[];
        try {
            entries = await fs.readdir(this.options.dataDir);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
            throw error;
        }
        const summaries: KnowledgeBaseSummary[] = [];
        for (const entry of entries.sort()) {
            if (!kbNamePattern.test(entry)) continue;
            const dir = path.join(this.options.dataDir, entry);
            let manifest: KnowledgeBaseManifest;
            try {
                manifest = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), "utf8")) as KnowledgeBaseManifest;
            } catch (error) {
                // A folder without kb.json is not a knowledge base; one whose kb.json is damaged is, and is listed so.
                const code = (error as NodeJS.ErrnoException).code;
                if (code === "ENOENT" || code === "ENOTDIR") continue;
                summaries.push({ name: entry, createdAt: "", embedder: "", documents: 0, chunks: 0, problem: `Its ${MANIFEST} cannot be read: ${(error as Error).message}` });
                continue;
            }
            const summary = { name: entry, createdAt: manifest.createdAt, embedder: manifest.embedder?.id ?? "" };
            try {
                summaries.push({ ...summary, ...await countsOf(entry, dir) });
            } catch (error) {
                summaries.push({ ...summary, documents: 0, chunks: 0, problem: (error as Error).message });
            }
        }
        return summaries;
    }

    public async create(name: string, embedder: EmbedderIdentity): Promise<void> {
        if (await this.exists(name) || !await this.createFolder(name, embedder)) throw new KnowledgeBaseExistsError(name);
    }

    /** Deletes a knowledge base and everything in it, once no other process is writing to it. */
    public async delete(name: string, options: LockWaitOptions = {}): Promise<void> {
        await this.assertExists(name);
        const dir = this.dirOf(name);
        const lock = await acquireWriteLock(dir, name, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
        // Renaming first makes the deletion atomic for readers: the name is gone at once.
        const doomed = path.join(this.options.dataDir, `.deleting-${name}-${process.pid}`);
        await fs.rename(dir, doomed);
        await lock.release().catch(() => undefined);
        await fs.rm(doomed, { recursive: true, force: true });
    }

    public async embedder(name: string): Promise<EmbedderIdentity> {
        await this.assertExists(name);
        return (await readManifest(name, this.dirOf(name))).embedder;
    }

    public async version(name: string): Promise<number> {
        await this.assertExists(name);
        const dir = this.dirOf(name);
        if (await isLegacy(dir)) return (await legacyCounts(name, dir)).generation;
        return withStore(name, dir, (store) => store.state().version);
    }

    public async openReader(name: string, embedder: EmbedderIdentity): Promise<KnowledgeBaseReader> {
        await this.assertExists(name);
        const dir = this.dirOf(name);
        const options = this.embeddedOptions(name, dir, await readManifest(name, dir, embedder));
        if (await needsUpgrade(name, dir)) await this.withLock(name, dir, {}, (lock) => this.upgrade(name, dir, options, lock));
        return EmbeddedReader.open(options);
    }

    public async openWriter(name: string, embedder: EmbedderIdentity, options: OpenWriterOptions = {}): Promise<KnowledgeBaseWriter> {
        if (options.create === true && !await this.exists(name)) await this.createFolder(name, embedder);
        await this.assertExists(name);
        const dir = this.dirOf(name);
        const lock = await acquireWriteLock(dir, name, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
        let store: LmdbStore | undefined;
        try {
            const manifest = await readManifest(name, dir, embedder);
            const embeddedOptions = this.embeddedOptions(name, dir, manifest);
            await this.upgrade(name, dir, embeddedOptions, lock);
            store = LmdbStore.open(name, dir);
            await removeUnusedGraphs(dir, store.state().checkpoint?.file);
            return new EmbeddedWriter(store, lock, embeddedOptions);
        } catch (error) {
            await store?.close();
            await lock.release();
            throw error;
        }
    }

    public async repair(name: string, options: LockWaitOptions = {}): Promise<RepairReport> {
        await this.assertExists(name);
        const dir = this.dirOf(name);
        const manifest = await readManifest(name, dir);
        const embeddedOptions = this.embeddedOptions(name, dir, manifest);
        return this.withLock(name, dir, options, async (lock) => {
            const repaired: string[] = [];
            if (await isLegacy(dir)) {
                const rolledBack = await repairLegacy(name, dir);
                if (rolledBack != null) repaired.push(rolledBack);
            }
            await this.upgrade(name, dir, embeddedOptions, lock);
            return withStore(name, dir, async (store) => {
                const { checkpoint } = store.state();
                if (checkpoint != null) {
                    const whole = await assertSavedGraph(path.join(dir, checkpoint.file), checkpoint.bytes).then(() => true, () => false);
                    if (!whole) {
                        store.forgetCheckpoint();
                        await compactGraph(store, lock, embeddedOptions);
                        repaired.push(`rebuilt the vector graph from the stored vectors (${checkpoint.file} was damaged)`);
                    }
                }
                return { repaired, documents: store.state().documents };
            });
        });
    }

    public async compact(name: string, options: LockWaitOptions = {}): Promise<CompactReport> {
        await this.assertExists(name);
        const dir = this.dirOf(name);
        const embeddedOptions = this.embeddedOptions(name, dir, await readManifest(name, dir));
        return this.withLock(name, dir, options, async (lock) => {
            await this.upgrade(name, dir, embeddedOptions, lock);
            const bytesBefore = await folderBytes(dir);
            return withStore(name, dir, async (store) => {
                const state = await compactGraph(store, lock, embeddedOptions);
                return { chunks: state.chunks, bytesBefore, bytesAfter: await folderBytes(dir) };
            });
        });
    }

    /** Writes (or removes) `prompts/<language>.txt` in the knowledge base's folder, which its readers read. */
    public async setPromptTemplate(name: string, language: Language, text: string | undefined): Promise<void> {
        await this.assertExists(name);
        const file = path.join(this.dirOf(name), "prompts", `${language}.txt`);
        if (text == null) return fs.rm(file, { force: true });
        await fs.mkdir(path.dirname(file), { recursive: true });
        await writeFileAtomic(file, text);
    }

    /** Reads `conversations/*.json` in the knowledge base's folder; a file that cannot be read is left out. */
    public async listConversations(name: string): Promise<ConversationSummary[]> {
        await this.assertExists(name);
        const dir = path.join(this.dirOf(name), CONVERSATIONS);
        const files = await fs.readdir(dir).catch(() => [] as string[]);
        const summaries: ConversationSummary[] = [];
        for (const file of files) {
            const id = file.replace(/\.json$/, "");
            const conversation = file.endsWith(".json") ? await this.readConversation(name, id) : undefined;
            if (conversation != null) summaries.push(summarizeConversation(conversation));
        }
        return summaries.sort(byUpdatedAtDescending);
    }

    public async getConversation(name: string, id: string): Promise<Conversation | undefined> {
        await this.assertExists(name);
        return this.readConversation(name, id);
    }

    /** Each conversation is a file of its own, written whole (temporary file, flush, rename). */
    public async saveConversation(name: string, conversation: Conversation): Promise<void> {
        await this.assertExists(name);
        if (!CONVERSATION_ID.test(conversation.id)) throw new RangeError(`not a conversation id: ${conversation.id}`);
        const dir = path.join(this.dirOf(name), CONVERSATIONS);
        await fs.mkdir(dir, { recursive: true });
        await writeFileAtomic(path.join(dir, `${conversation.id}.json`), JSON.stringify(conversation));
    }

    public async deleteConversation(name: string, id: string): Promise<boolean> {
        await this.assertExists(name);
        if (!CONVERSATION_ID.test(id)) return false;
        return fs.rm(path.join(this.dirOf(name), CONVERSATIONS, `${id}.json`)).then(() => true, () => false);
    }

    /** Nothing to let go of: every store is closed after use. */
    public close(): Promise<void> {
        return Promise.resolve();
    }

    private async readConversation(name: string, id: string): Promise<Conversation | undefined> {
        if (!CONVERSATION_ID.test(id)) return undefined;
        try {
            return JSON.parse(await fs.readFile(path.join(this.dirOf(name), CONVERSATIONS, `${id}.json`), "utf8")) as Conversation;
        } catch {
            return undefined;
        }
    }

    /**
     * Makes a knowledge base's folder whole (kb.json, an empty store) under a hidden name, then
     * renames it into place: a full disk or a crash leaves no half-made knowledge base behind.
     * Returns false when another process created it first.
     */
    private async createFolder(name: string, embedder: EmbedderIdentity): Promise<boolean> {
        const dir = this.dirOf(name);
        await fs.mkdir(this.options.dataDir, { recursive: true });
        const building = await fs.mkdtemp(path.join(this.options.dataDir, `.creating-${name}-`));
        try {
            await createManifest(name, building, embedder, this.options.hnsw);
            // A nearly full disk fails here with ENOSPC, rather than inside LMDB, which prints to stderr.
            if (await freeBytes(building) < MIN_FREE_BYTES_TO_CREATE) throw new InsufficientStorageError(name);
            await withStore(name, building, () => undefined);
            await fs.rename(building, dir);
            return true;
        } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
            if (!await this.exists(name)) {
                throw new CorruptKnowledgeBaseError(name, `its folder ${dir} holds files but no ${MANIFEST}. Move them away, or choose another name.`);
            }
            return false;
        } finally {
            await fs.rm(building, { recursive: true, force: true });
        }
    }

    private embeddedOptions(name: string, dir: string, manifest: KnowledgeBaseManifest): EmbeddedOptions {
        const hnsw = { ...this.options.hnsw, m: manifest.hnsw.m, efConstruction: manifest.hnsw.efConstruction };
        return { kb: name, dir, dimension: manifest.embedder.dimension, hnsw };
    }

    /**
     * Under the write lock `lock`: moves a knowledge base of the old format into the store, and
     * rebuilds postings that another tokenizer version made.
     */
    private async upgrade(name: string, dir: string, options: EmbeddedOptions, lock: WriteLock): Promise<void> {
        if (!await needsUpgrade(name, dir)) return;
        await withStore(name, dir, async (store) => {
            if (await isLegacy(dir)) await migrateLegacy(name, dir, store, options.dimension);
            await lock.assertHeld();
            if (store.initialized && store.state().tokenizer !== TOKENIZER_VERSION) await store.rebuildPostings();
        });
    }

    private async withLock<T>(name: string, dir: string, options: LockWaitOptions, job: (lock: WriteLock) => Promise<T>): Promise<T> {
        const lock = await acquireWriteLock(dir, name, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
        try {
            return await job(lock);
        } finally {
            await lock.release();
        }
    }
}

async function withStore<T>(name: string, dir: string, job: (store: LmdbStore) => T | Promise<T>): Promise<T> {
    const store = LmdbStore.open(name, dir);
    try {
        return await job(store);
    } finally {
        await store.close();
    }
}

/** Whether a knowledge base is of the old format, or its postings were made by another tokenizer version. */
async function needsUpgrade(name: string, dir: string): Promise<boolean> {
    if (await isLegacy(dir)) return true;
    if (!await fs.access(path.join(dir, STORE_FILE)).then(() => true, () => false)) return false;
    return withStore(name, dir, (store) => store.initialized && store.state().tokenizer !== TOKENIZER_VERSION);
}

async function countsOf(name: string, dir: string): Promise<{ documents: number; chunks: number }> {
    if (await isLegacy(dir)) return legacyCounts(name, dir);
    if (!await fs.access(path.join(dir, STORE_FILE)).then(() => true, () => false)) return { documents: 0, chunks: 0 };
    return withStore(name, dir, (store) => {
        const { documents, chunks } = store.state();
        return { documents, chunks };
    });
}

/** Reads `kb.json`; with `embedder`, throws `EmbedderMismatchError` unless it is the one the knowledge base was built with. */
async function readManifest(name: string, dir: string, embedder?: EmbedderIdentity): Promise<KnowledgeBaseManifest> {
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, MANIFEST), "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new KnowledgeBaseNotFoundError(name, { dataDir: path.dirname(dir), existing: [] });
        throw error;
    }
    let manifest: KnowledgeBaseManifest;
    try {
        manifest = JSON.parse(text) as KnowledgeBaseManifest;
    } catch (error) {
        throw new CorruptKnowledgeBaseError(name, `${MANIFEST} is not valid JSON.`, { cause: error });
    }
    if (embedder != null) assertSameEmbedder(name, manifest.embedder, embedder);
    return manifest;
}

async function createManifest(name: string, dir: string, embedder: EmbedderIdentity, hnsw: HnswParams): Promise<KnowledgeBaseManifest> {
    const manifest: KnowledgeBaseManifest = {
        formatVersion: 1,
        name,
        createdAt: new Date().toISOString(),
        embedder,
        hnsw: { m: hnsw.m, efConstruction: hnsw.efConstruction },
    };
    await writeFileAtomic(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
}

async function folderBytes(dir: string): Promise<number> {
    let total = 0;
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        if (entry.isFile()) total += (await fs.stat(path.join(dir, entry.name))).size;
    }
    return total;
}
