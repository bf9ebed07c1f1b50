import type pg from "pg";
import type { Language } from "../../answer/language.js";
import { KnowledgeBaseExistsError, KnowledgeBaseLockLostError } from "../../errors.js";
import { assertSameEmbedder } from "../sameEmbedder.js";
import type { EmbedderIdentity } from "../../models/models.js";
import { termCounts } from "../../retrieval/bm25.js";
import { TOKENIZER_VERSION, tokenize } from "../../retrieval/tokenize.js";
import { byUpdatedAtDescending, CONVERSATION_ID, type Conversation, type ConversationSummary, type ConversationTurn } from "../conversations.js";
import { validateKbName } from "../knowledgeBaseName.js";
import type {
    CompactReport, KnowledgeBaseReader, KnowledgeBaseSummary, KnowledgeBaseWriter, LockWaitOptions, OpenWriterOptions, RepairReport, Storage,
} from "../storage.js";
import type { HnswParams } from "../vectorGraph.js";
import { createPool, explainDatabaseError, inTransaction, redactUrl, transactionOn, type Queryable } from "./database.js";
import { embedderOf, findKnowledgeBase, getKnowledgeBase, type KnowledgeBaseRow } from "./knowledgeBaseRow.js";
import { migrate } from "./migrate.js";
import { PostgresReader, PostgresWriter, type PostgresKnowledgeBaseOptions } from "./postgresKnowledgeBase.js";
import { createPartitionsSql, dropPartitionsSql, partitionsOf } from "./schema.js";
import { insertPostings } from "./writeChanges.js";
import { WriterLease } from "./writerLease.js";

const DEFAULT_LOCK_WAIT_MS = 10_000;
/** Chunks whose postings are computed again per transaction when the tokenizer changed. */
const REBUILD_BATCH = 2000;

export interface PostgresStorageOptions {
    /** A `postgres://` URL. */
    url: string;
    /** Connections this process may hold (default 10). */
    poolSize?: number;
    /** The graph parameters of new knowledge bases (`m`, `efConstruction`) and of every search (`efSearch`). */
    hnsw: HnswParams;
    /** How long a writer's lease lasts without renewal, in milliseconds (default 30 s). */
    leaseMs?: number;
}

/**
 * Knowledge bases in PostgreSQL with pgvector, shared by every Yizhi server pointed at the same
 * database. The schema is brought up to date on first use (`migrate`); writers to one knowledge
 * base take turns by a lease in the database; readers read committed snapshots.
 */
export class PostgresStorage implements Storage {
    public readonly location: string;
    public readonly commitIntervalMs = 0;
    private readonly pool: pg.Pool;
    private migrated: Promise<void> | undefined;

    public constructor(private readonly options: PostgresStorageOptions) {
        this.location = redactUrl(options.url);
        this.pool = createPool({ url: options.url, ...(options.poolSize != null ? { poolSize: options.poolSize } : {}) });
    }

    /** Connects and migrates the schema once; after a failure, the next call tries again. */
    public ready(): Promise<void> {
        this.migrated ??= migrate(this.pool).then(() => undefined, (error: unknown) => {
            this.migrated = undefined;
            throw explainDatabaseError(error, this.options.url);
        });
        return this.migrated;
    }

    public list(): Promise<KnowledgeBaseSummary[]> {
        return this.run(async () => {
            const { rows } = await this.pool.query<KnowledgeBaseRow>("SELECT * FROM yizhi_knowledge_bases ORDER BY name");
            return rows.map((row) => ({ name: row.name, createdAt: row.created_at.toISOString(), embedder: row.embedder_id, documents: row.documents, chunks: row.chunks }));
        });
    }

    public exists(name: string): Promise<boolean> {
        return this.run(async () => await findKnowledgeBase(this.pool, validateKbName(name)) != null);
    }

    public assertExists(name: string): Promise<void> {
        return this.run(async () => {
            await getKnowledgeBase(this.pool, validateKbName(name), this.location);
        });
    }

    public embedder(name: string): Promise<EmbedderIdentity> {
        return this.run(async () => embedderOf(this.pool, await getKnowledgeBase(this.pool, validateKbName(name), this.location)));
    }

    public create(name: string, embedder: EmbedderIdentity): Promise<void> {
        return this.run(async () => {
            if (!await this.createIfMissing(validateKbName(name), embedder)) throw new KnowledgeBaseExistsError(name);
        });
    }

    public delete(name: string, options: LockWaitOptions = {}): Promise<void> {
        return this.run(() => this.withLease(name, options, async (kb, lease) => lease.use((client) => transactionOn(client, async () => {
            if (!await lease.assertHeldIn(client)) throw new KnowledgeBaseLockLostError(name, lease.compromised?.message ?? "");
            for (const statement of dropPartitionsSql(kb.id)) await client.query(statement);
            await client.query("DELETE FROM yizhi_knowledge_bases WHERE id = $1", [kb.id]);
        }))));
    }

    public version(name: string): Promise<number> {
        return this.run(async () => (await getKnowledgeBase(this.pool, validateKbName(name), this.location)).version);
    }

    public openReader(name: string, embedder: EmbedderIdentity): Promise<KnowledgeBaseReader> {
        return this.run(async () => {
            const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location, embedder);
            await this.assertFingerprint(kb, embedder);
            if (kb.tokenizer !== TOKENIZER_VERSION) await this.withLease(name, {}, (current, lease) => this.rebuildPostings(current, lease));
            return new PostgresReader(this.knowledgeBaseOptions(name, embedder));
        });
    }

    public openWriter(name: string, embedder: EmbedderIdentity, options: OpenWriterOptions = {}): Promise<KnowledgeBaseWriter> {
        return this.run(async () => {
            validateKbName(name);
            if (options.create === true) await this.createIfMissing(name, embedder);
            const kb = await getKnowledgeBase(this.pool, name, this.location, embedder);
            await this.assertFingerprint(kb, embedder);
            const lease = await this.acquireLease(kb, options);
            try {
                if (kb.tokenizer !== TOKENIZER_VERSION) await this.rebuildPostings(kb, lease);
                return new PostgresWriter(lease, kb, this.knowledgeBaseOptions(name, embedder));
            } catch (error) {
                await lease.release();
                throw error;
            }
        });
    }

    public repair(name: string, options: LockWaitOptions = {}): Promise<RepairReport> {
        return this.run(() => this.withLease(name, options, (kb, lease) => lease.use((client) => transactionOn(client, () => repairCounts(client, kb)))));
    }

    public compact(name: string, options: LockWaitOptions = {}): Promise<CompactReport> {
        return this.run(() => this.withLease(name, options, async (kb) => {
            const bytesBefore = await this.bytesOf(kb);
            // VACUUM cannot run in a transaction; it removes what replaced and deleted chunks left, in the HNSW index too.
            for (const table of Object.values(partitionsOf(kb.id))) await this.pool.query(`VACUUM (ANALYZE) ${table}`);
            return { chunks: kb.chunks, bytesBefore, bytesAfter: await this.bytesOf(kb) };
        }));
    }

    public setPromptTemplate(name: string, language: Language, text: string | undefined): Promise<void> {
        return this.run(async () => {
            const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location);
            await this.pool.query(
                text != null ? "UPDATE yizhi_knowledge_bases SET prompts = prompts || jsonb_build_object($2::text, $3::text) WHERE id = $1" : "UPDATE yizhi_knowledge_bases SET prompts = prompts - $2::text WHERE id = $1",
                text != null ? [kb.id, language, text] : [kb.id, language],
            );
        });
    }

    public listConversations(name: string): Promise<ConversationSummary[]> {
        return this.run(async () => {
            const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location);
            const { rows } = await this.pool.query<{ id: string; title: string; created_at: string; updated_at: string; turns: number }>(
                "SELECT id, title, created_at, updated_at, jsonb_array_length(turns) AS turns FROM yizhi_conversations WHERE kb_id = $1",
                [kb.id],
            );
            return rows.map((row) => ({ id: row.id, title: row.title, createdAt: row.created_at, updatedAt: row.updated_at, turns: row.turns }))
                .sort(byUpdatedAtDescending);
        });
    }

    public getConversation(name: string, id: string): Promise<Conversation | undefined> {
        return this.run(async () => {
            const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location);
            if (!CONVERSATION_ID.test(id)) return undefined;
            const { rows } = await this.pool.query<{ title: string; created_at: string; updated_at: string; turns: ConversationTurn[] }>(
                "SELECT title, created_at, updated_at, turns FROM yizhi_conversations WHERE kb_id = $1 AND id = $2",
                [kb.id, id],
            );
            const row = rows[0];
            return row == null ? undefined : { id, title: row.title, createdAt: row.created_at, updatedAt: row.updated_at, turns: row.turns };
        });
    }

    public saveConversation(name: string, conversation: Conversation): Promise<void> {
        return this.run(async () => {
            const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location);
            if (!CONVERSATION_ID.test(conversation.id)) throw new RangeError(`not a conversation id: ${conversation.id}`);
            const { id, title, createdAt, updatedAt, turns } = conversation;
            await this.pool.query(
                "INSERT INTO yizhi_conversations (kb_id, id, title, created_at, updated_at, turns) VALUES ($1, $2, $3, $4, $5, $6::jsonb) " +
                "ON CONFLICT (kb_id, id) DO UPDATE SET title = EXCLUDED.title, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, turns = EXCLUDED.turns",
                [kb.id, id, title, createdAt, updatedAt, JSON.stringify(turns)],
            );
        });
    }

    public deleteConversation(name: string, id: string): Promise<boolean> {
        return this.run(async () => {
            const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location);
            if (!CONVERSATION_ID.test(id)) return false;
            const { rowCount } = await this.pool.query("DELETE FROM yizhi_conversations WHERE kb_id = $1 AND id = $2", [kb.id, id]);
            return (rowCount ?? 0) > 0;
        });
    }

    public async close(): Promise<void> {
        await this.pool.end();
    }

    private knowledgeBaseOptions(name: string, embedder: EmbedderIdentity): PostgresKnowledgeBaseOptions {
        return { pool: this.pool, name, embedder, location: this.location, ...(this.options.hnsw.efSearch != null ? { efSearch: this.options.hnsw.efSearch } : {}) };
    }

    /** Runs `job` once the schema is ready, with database errors put in words a person can act on. */
    private async run<T>(job: () => Promise<T>): Promise<T> {
        await this.ready();
        try {
            return await job();
        } catch (error) {
            throw explainDatabaseError(error, this.options.url);
        }
    }

    /** Creates the knowledge base with its partitions; false when it exists (made by this server or another). */
    private async createIfMissing(name: string, embedder: EmbedderIdentity): Promise<boolean> {
        return inTransaction(this.pool, async (client) => {
            const { rows } = await client.query<{ id: number }>(
                `INSERT INTO yizhi_knowledge_bases (name, embedder_id, dimension, hnsw_m, hnsw_ef_construction, tokenizer)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING id`,
                [name, embedder.id, embedder.dimension, this.options.hnsw.m, this.options.hnsw.efConstruction, TOKENIZER_VERSION],
            );
            if (rows[0] == null) return false;
            for (const statement of createPartitionsSql(rows[0].id, embedder.dimension, this.options.hnsw)) await client.query(statement);
            if (embedder.fingerprint != null) await client.query("INSERT INTO yizhi_embedder_fingerprints (kb_id, fingerprint) VALUES ($1, $2)", [rows[0].id, embedder.fingerprint]);
            return true;
        });
    }

    /** A remote embedder's fingerprint against the one stored at creation (readers check the id and dimension on every call). */
    private async assertFingerprint(kb: KnowledgeBaseRow, embedder: EmbedderIdentity): Promise<void> {
        if (embedder.fingerprint != null) assertSameEmbedder(kb.name, await embedderOf(this.pool, kb), embedder);
    }

    private async acquireLease(kb: KnowledgeBaseRow, options: LockWaitOptions): Promise<WriterLease> {
        const client = await this.pool.connect();
        try {
            return await WriterLease.acquire(client, kb.id, kb.name, {
                waitMs: options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
                ...(this.options.leaseMs != null ? { leaseMs: this.options.leaseMs } : {}),
            });
        } catch (error) {
            client.release();
            throw error;
        }
    }

    private async withLease<T>(name: string, options: LockWaitOptions, job: (kb: KnowledgeBaseRow, lease: WriterLease) => Promise<T>): Promise<T> {
        const kb = await getKnowledgeBase(this.pool, validateKbName(name), this.location);
        const lease = await this.acquireLease(kb, options);
        try {
            // Read again under the lease: what the last writer committed before letting go.
            return await job(await getKnowledgeBase(this.pool, name, this.location), lease);
        } finally {
            await lease.release();
        }
    }

    /** Computes every chunk's postings again with this tokenizer, in one transaction. */
    private async rebuildPostings(kb: KnowledgeBaseRow, lease: WriterLease): Promise<void> {
        const tables = partitionsOf(kb.id);
        await lease.use((client) => transactionOn(client, async () => {
            const current = await findKnowledgeBase(client, kb.name, true);
            if (current == null || current.tokenizer === TOKENIZER_VERSION) return;
            await client.query(`DELETE FROM ${tables.postings} WHERE kb_id = $1`, [kb.id]);
            await client.query(`DELETE FROM ${tables.terms} WHERE kb_id = $1`, [kb.id]);
            for (let after = -1; ;) {
                const { rows } = await client.query<{ label: number; text: string }>(
                    `SELECT label, chunk->>'text' AS text FROM ${tables.chunks} WHERE kb_id = $1 AND label > $2 ORDER BY label LIMIT $3`,
                    [kb.id, after, REBUILD_BATCH],
                );
                if (rows.length === 0) break;
                after = rows.at(-1)!.label;
                await insertPostings(client, kb.id, rows.map((row) => ({ label: row.label, ...termCounts(tokenize(row.text)) })));
            }
            await client.query(
                `UPDATE yizhi_knowledge_bases SET tokenizer = $2, total_length = (SELECT coalesce(sum(length), 0) FROM ${tables.chunks} WHERE kb_id = $1) WHERE id = $1`,
                [kb.id, TOKENIZER_VERSION],
            );
        }));
    }

    private async bytesOf(kb: KnowledgeBaseRow): Promise<number> {
        const { rows } = await this.pool.query<{ bytes: number }>(
            "SELECT coalesce(sum(pg_total_relation_size(t::regclass)), 0)::int8 AS bytes FROM unnest($1::text[]) AS t",
            [Object.values(partitionsOf(kb.id))],
        );
        return rows[0]!.bytes;
    }
}

/**
 * Checks what a knowledge base's rows say of one another, and puts right what disagrees: chunks no
 * document owns, documents whose chunks are missing, and the counts BM25 scores with.
 */
async function repairCounts(client: Queryable, kb: KnowledgeBaseRow): Promise<RepairReport> {
    const tables = partitionsOf(kb.id);
    const repaired: string[] = [];
    const { rows: broken } = await client.query<{ id: string }>(
        `SELECT d.id FROM yizhi_documents d WHERE d.kb_id = $1 AND (
             EXISTS (SELECT 1 FROM unnest(d.labels) AS l WHERE NOT EXISTS (SELECT 1 FROM ${tables.chunks} c WHERE c.kb_id = $1 AND c.label = l))
          OR EXISTS (SELECT 1 FROM unnest(d.labels) AS l WHERE NOT EXISTS (SELECT 1 FROM ${tables.vectors} v WHERE v.kb_id = $1 AND v.label = l)))`,
        [kb.id],
    );
    if (broken.length > 0) {
        await client.query("DELETE FROM yizhi_documents WHERE kb_id = $1 AND id = ANY($2::text[])", [kb.id, broken.map((row) => row.id)]);
        repaired.push(`removed ${broken.length} documents whose chunks were missing (${broken.map((row) => row.id).join(", ")}): ingest them again`);
    }
    const owned = `SELECT unnest(labels) FROM yizhi_documents WHERE kb_id = $1`;
    const orphans = (await client.query(`DELETE FROM ${tables.chunks} WHERE kb_id = $1 AND label NOT IN (${owned}) RETURNING label`, [kb.id])).rowCount ?? 0;
    const orphanVectors = (await client.query(`DELETE FROM ${tables.vectors} WHERE kb_id = $1 AND label NOT IN (${owned}) RETURNING label`, [kb.id])).rowCount ?? 0;
    const orphanPostings = (await client.query(`DELETE FROM ${tables.postings} WHERE label NOT IN (${owned}) RETURNING label`, [kb.id])).rowCount ?? 0;
    if (orphans + orphanVectors + orphanPostings > 0) repaired.push(`removed chunks, vectors or postings no document owned (${orphans} + ${orphanVectors} + ${orphanPostings} rows)`);

    const { rows: [terms] } = await client.query<{ wrong: number }>(
        `WITH actual AS (SELECT term, count(*)::int AS chunks FROM ${tables.postings} GROUP BY term)
         SELECT count(*)::int AS wrong FROM actual FULL JOIN ${tables.terms} t USING (term) WHERE actual.chunks IS DISTINCT FROM t.chunks`,
    );
    if (terms!.wrong > 0) {
        await client.query(`DELETE FROM ${tables.terms} WHERE kb_id = $1`, [kb.id]);
        await client.query(`INSERT INTO ${tables.terms} (kb_id, term, chunks) SELECT $1, term, count(*) FROM ${tables.postings} GROUP BY term`, [kb.id]);
        repaired.push(`recounted the chunks of ${terms!.wrong} terms`);
    }
    const { rows: [counts] } = await client.query<{ documents: number; chunks: number; total_length: number }>(
        `SELECT (SELECT count(*)::int FROM yizhi_documents WHERE kb_id = $1) AS documents, count(*)::int AS chunks, coalesce(sum(length), 0)::int8 AS total_length
         FROM ${tables.chunks} WHERE kb_id = $1`,
        [kb.id],
    );
    const current = await findKnowledgeBase(client, kb.name, true);
    if (current != null && (current.documents !== counts!.documents || current.chunks !== counts!.chunks || current.total_length !== counts!.total_length)) {
        await client.query(
            "UPDATE yizhi_knowledge_bases SET documents = $2, chunks = $3, total_length = $4, version = nextval('yizhi_versions') WHERE id = $1",
            [kb.id, counts!.documents, counts!.chunks, counts!.total_length],
        );
        repaired.push(`recounted its documents and chunks (${current.documents} → ${counts!.documents}, ${current.chunks} → ${counts!.chunks})`);
    } else if (repaired.length > 0) {
        await client.query("UPDATE yizhi_knowledge_bases SET version = nextval('yizhi_versions') WHERE id = $1", [kb.id]);
    }
    return { repaired, documents: counts!.documents };
}
