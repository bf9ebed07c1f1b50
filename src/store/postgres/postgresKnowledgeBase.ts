import type pg from "pg";
import type { Language } from "../../answer/language.js";
import { KnowledgeBaseClosedError, KnowledgeBaseLockLostError } from "../../errors.js";
import type { EmbedderIdentity } from "../../models/models.js";
import type { LexicalHit } from "../../retrieval/bm25.js";
import type { ChunkRecord, DocumentRecord, NewChunk } from "../records.js";
import { BufferedWriter } from "../bufferedWriter.js";
import { assertVectors, chunksToStore } from "../pendingChanges.js";
import type { KnowledgeBaseReader, PromptOverride, ScoredLabel } from "../storage.js";
import { inTransaction, transactionOn, type Queryable } from "./database.js";
import { findKnowledgeBase, getKnowledgeBase, type KnowledgeBaseRow } from "./knowledgeBaseRow.js";
import {
    readChunks, readDocument, readDocuments, readDocumentWithHash, readVectors, scoreDense, scoreLexical, searchDense, searchLexical,
} from "./readQueries.js";
import { writeChanges } from "./writeChanges.js";
import type { WriterLease } from "./writerLease.js";

export interface PostgresKnowledgeBaseOptions {
    pool: pg.Pool;
    name: string;
    embedder: EmbedderIdentity;
    /** Where the knowledge bases are, for messages. */
    location: string;
    /** HNSW search breadth (default: `autoEfSearch` of the knowledge base's size). */
    efSearch?: number;
}

const SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/**
 * Reads a knowledge base of the PostgreSQL backend. Every call reads in one read-only snapshot the
 * last committed state, whoever committed it; a knowledge base deleted and created again under
 * the same name is read afresh (and must have been built with the same embedder).
 */
export class PostgresReader implements KnowledgeBaseReader {
    private closed = false;

    public constructor(private readonly options: PostgresKnowledgeBaseOptions) {}

    public get name(): string {
        return this.options.name;
    }

    public documents(): Promise<DocumentRecord[]> {
        return this.read((client, kb) => readDocuments(client, kb));
    }

    public getDocument(id: string): Promise<DocumentRecord | undefined> {
        return this.read((client, kb) => readDocument(client, kb, id));
    }

    public getChunks(labels: readonly number[]): Promise<Map<number, ChunkRecord>> {
        return this.read((client, kb) => readChunks(client, kb, labels));
    }

    public getVectors(labels: readonly number[]): Promise<Map<number, number[]>> {
        return this.read((client, kb) => readVectors(client, kb, labels));
    }

    public denseSearch(vector: readonly number[], k: number): Promise<ScoredLabel[]> {
        return this.read((client, kb) => searchDense(client, kb, vector, k, this.options.efSearch));
    }

    public denseScores(vector: readonly number[], labels: readonly number[]): Promise<Map<number, number>> {
        return this.read((client, kb) => scoreDense(client, kb, vector, labels));
    }

    public lexicalSearch(terms: readonly string[], k: number): Promise<LexicalHit[]> {
        return this.read((client, kb) => searchLexical(client, kb, terms, k));
    }

    public lexicalScores(terms: readonly string[], labels: readonly number[]): Promise<Map<number, LexicalHit>> {
        return this.read((client, kb) => scoreLexical(client, kb, terms, labels));
    }

    public promptTemplate(language: Language): Promise<PromptOverride | undefined> {
        return this.read(async (_client, kb) => {
            const text = kb.prompts[language];
            return text != null ? { text, origin: `the ${language} prompt of knowledge base "${kb.name}" in ${this.options.location}` } : undefined;
        });
    }

    public async close(): Promise<void> {
        this.closed = true;
    }

    public async [Symbol.asyncDispose](): Promise<void> {
        await this.close();
    }

    private async read<T>(job: (client: Queryable, kb: KnowledgeBaseRow) => Promise<T>): Promise<T> {
        if (this.closed) throw new KnowledgeBaseClosedError(this.name);
        return inTransaction(this.options.pool, async (client) => job(client, await getKnowledgeBase(client, this.name, this.options.location, this.options.embedder)), SNAPSHOT);
    }
}

/**
 * The one writer of a knowledge base of the PostgreSQL backend, by its lease (`WriterLease`).
 * Changes wait in memory until `commit()` writes them in one transaction: the documents whole,
 * with their chunks, vectors and postings, and a new version. Readers see all of it or none.
 */
export class PostgresWriter extends BufferedWriter {
    public constructor(
        private readonly lease: WriterLease,
        private readonly kb: KnowledgeBaseRow,
        private readonly options: PostgresKnowledgeBaseOptions,
    ) {
        super();
    }

    public get name(): string {
        return this.options.name;
    }

    protected get compromised(): Error | undefined {
        return this.lease.compromised;
    }

    protected storedDocuments(): Promise<DocumentRecord[]> {
        return this.lease.use((client) => readDocuments(client, this.kb));
    }

    protected storedDocument(id: string): Promise<DocumentRecord | undefined> {
        return this.lease.use((client) => readDocument(client, this.kb, id));
    }

    protected storedWithHash(hash: string, except: readonly string[]): Promise<DocumentRecord | undefined> {
        return this.lease.use((client) => readDocumentWithHash(client, this.kb, hash, except));
    }

    public async putDocument(document: Omit<DocumentRecord, "labels">, chunks: readonly NewChunk[], vectors: readonly (readonly number[])[]): Promise<DocumentRecord> {
        this.assertWritable();
        assertVectors(this.name, this.kb.dimension, chunks, vectors);
        const labels = chunks.length === 0
            ? []
            : await this.lease.use(async (client) => {
                    const { rows } = await client.query<{ label: number }>("SELECT nextval('yizhi_labels') AS label FROM generate_series(1, $1)", [chunks.length]);
                    return rows.map((row) => row.label).sort((a, b) => a - b);
                });
        const record: DocumentRecord = { ...document, labels };
        this.pending.set(document.id, { kind: "put", record, chunks: chunksToStore(this.name, this.kb.dimension, document, chunks, vectors, labels) });
        return record;
    }

    public async commit(): Promise<void> {
        this.assertWritable();
        if (this.pending.size === 0) return;
        await this.lease.use((client) => transactionOn(client, async () => {
            if (await findKnowledgeBase(client, this.name, true) == null || !await this.lease.assertHeldIn(client)) {
                throw new KnowledgeBaseLockLostError(this.name, this.lease.compromised?.message ?? "the knowledge base was deleted");
            }
            await writeChanges(client, this.kb, this.pending);
        }));
        this.pending.clear();
    }

    public async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        this.pending.clear();
        await this.lease.release();
    }
}
