import type { Language } from "../answer/language.js";
import type { EmbedderIdentity } from "../models/models.js";
import type { LexicalHit } from "../retrieval/bm25.js";
import type { Conversation, ConversationSummary } from "./conversations.js";
import type { ChunkRecord, DocumentChanges, DocumentRecord, NewChunk } from "./records.js";

/**
 * What the rest of Yizhi needs from where knowledge bases are kept. Retrieval, the answer path,
 * ingest, evaluation, the server and the CLI program to these interfaces only; each backend (the
 * embedded file store, PostgreSQL) implements them and passes the same contract tests
 * (tests/storageContract.ts).
 */
export interface Storage {
    /** Where the knowledge bases are, for messages (a folder, or a database without its password). */
    readonly location: string;
    /**
     * How often ingest commits, in milliseconds: the embedded store gathers documents into commits
     * (each one a sync to disk); a database commits each document in a transaction of its own (0).
     */
    readonly commitIntervalMs: number;
    /** Resolves once the storage can be used (a database reached, its schema up to date); throws `StorageUnavailableError` saying why not. */
    ready(): Promise<void>;
    list(): Promise<KnowledgeBaseSummary[]>;
    exists(name: string): Promise<boolean>;
    /** Throws `KnowledgeBaseNotFoundError`, naming where it looked and what is there, unless `name` exists. */
    assertExists(name: string): Promise<void>;
    /** Throws `KnowledgeBaseExistsError` when `name` exists. */
    create(name: string, embedder: EmbedderIdentity): Promise<void>;
    /** Deletes a knowledge base and all it holds, once no writer has it open. */
    delete(name: string, options?: LockWaitOptions): Promise<void>;
    /** The embedding model a knowledge base was built with. */
    embedder(name: string): Promise<EmbedderIdentity>;
    /** The committed version: 0 for nothing committed, and different after every commit. */
    version(name: string): Promise<number>;
    /** Sees the last committed state, and catches up with later commits on every call. */
    openReader(name: string, embedder: EmbedderIdentity): Promise<KnowledgeBaseReader>;
    /** The one writer of a knowledge base; `create` makes it when missing. */
    openWriter(name: string, embedder: EmbedderIdentity, options?: OpenWriterOptions): Promise<KnowledgeBaseWriter>;
    /** Makes a damaged knowledge base whole again from what it holds, or says it is beyond that. */
    repair(name: string, options?: LockWaitOptions): Promise<RepairReport>;
    /** Rewrites what commits only appended to, so that opening is quick again. */
    compact(name: string, options?: LockWaitOptions): Promise<CompactReport>;
    /** Gives a knowledge base its own prompt template for a language, or with `undefined` takes it away. */
    setPromptTemplate(name: string, language: Language, text: string | undefined): Promise<void>;
    /** A knowledge base's saved conversations, the last changed first; deleting the knowledge base deletes them. */
    listConversations(name: string): Promise<ConversationSummary[]>;
    /** Undefined when there is no such conversation (or the id is not one). */
    getConversation(name: string, id: string): Promise<Conversation | undefined>;
    /** Stores a conversation, replacing the one with its id. */
    saveConversation(name: string, conversation: Conversation): Promise<void>;
    /** False when there was no such conversation. */
    deleteConversation(name: string, id: string): Promise<boolean>;
    /** Lets go of connections; the storage cannot be used afterwards. */
    close(): Promise<void>;
}

export interface LockWaitOptions {
    /** How long to wait for another writer to finish (default 10 s). */
    lockWaitMs?: number;
}

export interface OpenWriterOptions extends LockWaitOptions {
    /** Create the knowledge base when it does not exist (default false: `KnowledgeBaseNotFoundError`). */
    create?: boolean;
}

export interface KnowledgeBaseSummary {
    name: string;
    createdAt: string;
    embedder: string;
    documents: number;
    chunks: number;
    /** Why the knowledge base cannot be opened, when it cannot; the others are listed all the same. */
    problem?: string;
}

export interface RepairReport {
    /** What was wrong and put right; empty when the knowledge base was whole. */
    repaired: string[];
    documents: number;
}

export interface CompactReport {
    chunks: number;
    /** Bytes of the knowledge base before and after. */
    bytesBefore: number;
    bytesAfter: number;
}

/** A chunk and how well it matched. */
export interface ScoredLabel {
    label: number;
    /** Cosine similarity, -1..1. */
    score: number;
}

/** Reads a knowledge base. Using it after `close()` is a `KnowledgeBaseClosedError`. */
export interface KnowledgeBaseReader extends AsyncDisposable {
    readonly name: string;
    documents(): Promise<DocumentRecord[]>;
    getDocument(id: string): Promise<DocumentRecord | undefined>;
    /** The chunks with these labels, by label; labels not stored (any more) are left out. */
    getChunks(labels: readonly number[]): Promise<Map<number, ChunkRecord>>;
    /** The stored vectors of these chunks, by label (to copy a knowledge base without embedding it again). */
    getVectors(labels: readonly number[]): Promise<Map<number, number[]>>;
    /** The k chunks nearest to `vector`, best first. */
    denseSearch(vector: readonly number[], k: number): Promise<ScoredLabel[]>;
    /** Cosine similarity of `vector` to each of these chunks, by label. */
    denseScores(vector: readonly number[], labels: readonly number[]): Promise<Map<number, number>>;
    /** The k best BM25 matches for the terms (see `tokenize`), best first; chunks sharing no term are not returned. */
    lexicalSearch(terms: readonly string[], k: number): Promise<LexicalHit[]>;
    /** How these chunks score for the terms, by label. */
    lexicalScores(terms: readonly string[], labels: readonly number[]): Promise<Map<number, LexicalHit>>;
    /** The knowledge base's own prompt template for a language, when it has one. */
    promptTemplate(language: Language): Promise<PromptOverride | undefined>;
    close(): Promise<void>;
}

export interface PromptOverride {
    text: string;
    /** Where it came from, for messages about it. */
    origin: string;
}

/**
 * The one writer of a knowledge base. Changes are seen by this writer at once and by everyone else
 * after `commit()`, all together. Closing drops what was not committed; using it afterwards is a
 * `KnowledgeBaseClosedError`.
 */
export interface KnowledgeBaseWriter extends AsyncDisposable {
    readonly name: string;
    documents(): Promise<DocumentRecord[]>;
    getDocument(id: string): Promise<DocumentRecord | undefined>;
    findByHash(hash: string): Promise<DocumentRecord | undefined>;
    /** Adds a document, replacing the one with the same id (its old chunks go). */
    putDocument(document: Omit<DocumentRecord, "labels">, chunks: readonly NewChunk[], vectors: readonly (readonly number[])[]): Promise<DocumentRecord>;
    /** Changes a stored document's file details (not its chunks). */
    updateDocument(id: string, changes: DocumentChanges): Promise<void>;
    /** Removes a document and its chunks; returns whether it existed. */
    removeDocument(id: string): Promise<boolean>;
    /**
     * Makes every change so far durable, as one atomic step. Throws `KnowledgeBaseLockLostError`
     * (and changes nothing) when this writer is no longer the knowledge base's writer, and
     * `InsufficientStorageError` when the disk is full.
     */
    commit(): Promise<void>;
    close(): Promise<void>;
}
