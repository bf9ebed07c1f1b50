/**
 * The tables of the PostgreSQL backend. A knowledge base is a row of `yizhi_knowledge_bases`; its
 * chunks, vectors and lexical index are LIST partitions of their tables, one per knowledge base, so
 * that each has its own HNSW index over vectors of its own dimension, and deleting it drops them.
 * Only `yizhi_vectors` needs pgvector: the rest, the coordination of writers included, runs on any
 * PostgreSQL.
 */

export interface Migration {
    version: number;
    description: string;
    sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        description: "knowledge bases, documents, chunks, the lexical index and writer leases",
        sql: `
            CREATE SEQUENCE yizhi_versions;
            CREATE SEQUENCE yizhi_labels;
            CREATE TABLE yizhi_knowledge_bases (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL UNIQUE,
                created_at timestamptz NOT NULL DEFAULT now(),
                embedder_id text NOT NULL,
                dimension integer NOT NULL,
                hnsw_m integer NOT NULL,
                hnsw_ef_construction integer NOT NULL,
                tokenizer text NOT NULL,
                version bigint NOT NULL DEFAULT 0,
                documents integer NOT NULL DEFAULT 0,
                chunks integer NOT NULL DEFAULT 0,
                total_length bigint NOT NULL DEFAULT 0,
                prompts jsonb NOT NULL DEFAULT '{}'
            );
            -- The one writer of a knowledge base: held while the holder's connection lives and the lease is renewed.
            CREATE TABLE yizhi_writer_leases (
                kb_id bigint PRIMARY KEY REFERENCES yizhi_knowledge_bases (id) ON DELETE CASCADE,
                holder uuid NOT NULL,
                backend_pid integer NOT NULL,
                backend_start timestamptz,
                expires_at timestamptz NOT NULL
            );
            CREATE TABLE yizhi_documents (
                kb_id bigint NOT NULL REFERENCES yizhi_knowledge_bases (id) ON DELETE CASCADE,
                id text NOT NULL,
                hash text NOT NULL,
                record jsonb NOT NULL,
                labels bigint[] NOT NULL,
                PRIMARY KEY (kb_id, id)
            );
            CREATE INDEX ON yizhi_documents (kb_id, hash);
            CREATE TABLE yizhi_chunks (
                kb_id bigint NOT NULL,
                label bigint NOT NULL,
                document_id text NOT NULL,
                length integer NOT NULL,
                chunk jsonb NOT NULL,
                PRIMARY KEY (kb_id, label)
            ) PARTITION BY LIST (kb_id);
            -- BM25 over the tokenizer's terms: how many chunks hold each term, and each chunk's count of it.
            CREATE TABLE yizhi_terms (
                kb_id bigint NOT NULL,
                term text NOT NULL,
                chunks integer NOT NULL,
                PRIMARY KEY (kb_id, term)
            ) PARTITION BY LIST (kb_id);
            CREATE TABLE yizhi_postings (
                kb_id bigint NOT NULL,
                term text NOT NULL,
                label bigint NOT NULL,
                count integer NOT NULL,
                length integer NOT NULL
            ) PARTITION BY LIST (kb_id);
            CREATE INDEX ON yizhi_postings (term);
            CREATE INDEX ON yizhi_postings (label);
        `,
    },
    {
        version: 2,
        description: "chunk vectors (pgvector)",
        sql: `
            CREATE EXTENSION IF NOT EXISTS vector;
            CREATE TABLE yizhi_vectors (
                kb_id bigint NOT NULL,
                label bigint NOT NULL,
                embedding vector NOT NULL,
                PRIMARY KEY (kb_id, label)
            ) PARTITION BY LIST (kb_id);
        `,
    },
    {
        version: 3,
        description: "remote embedders' fingerprints",
        sql: `
            CREATE TABLE yizhi_embedder_fingerprints (
                kb_id bigint PRIMARY KEY REFERENCES yizhi_knowledge_bases (id) ON DELETE CASCADE,
                fingerprint double precision[] NOT NULL
            );
        `,
    },
    {
        version: 4,
        description: "saved conversations",
        sql: `
            CREATE TABLE yizhi_conversations (
                kb_id bigint NOT NULL REFERENCES yizhi_knowledge_bases (id) ON DELETE CASCADE,
                id text NOT NULL,
                title text NOT NULL,
                created_at text NOT NULL,
                updated_at text NOT NULL,
                turns jsonb NOT NULL,
                PRIMARY KEY (kb_id, id)
            );
        `,
    },
];

/** The migrations that need no extension: the coordination tests run them on a PostgreSQL without pgvector. */
export const COORDINATION_MIGRATIONS: readonly Migration[] = MIGRATIONS.filter((migration) => migration.version === 1);

/** The per-knowledge-base tables (LIST partitions) of knowledge base `id`. */
export function partitionsOf(id: number): { chunks: string; terms: string; postings: string; vectors: string } {
    if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`not a knowledge-base id: ${id}`);
    return { chunks: `yizhi_chunks_${id}`, terms: `yizhi_terms_${id}`, postings: `yizhi_postings_${id}`, vectors: `yizhi_vectors_${id}` };
}

/**
 * How vectors of a dimension are indexed and compared: pgvector's HNSW indexes `vector` up to 2,000
 * dimensions and `halfvec` up to 4,000; beyond, search is exact (no index).
 */
export function vectorTypeOf(dimension: number): { cast: string; ops: string } | undefined {
    if (dimension <= 2000) return { cast: `vector(${dimension})`, ops: "vector_cosine_ops" };
    if (dimension <= 4000) return { cast: `halfvec(${dimension})`, ops: "halfvec_cosine_ops" };
    return undefined;
}

/** The statements that make the partitions of knowledge base `id`, with its HNSW index. */
export function createPartitionsSql(id: number, dimension: number, hnsw: { m: number; efConstruction: number }): string[] {
    const tables = partitionsOf(id);
    const type = vectorTypeOf(dimension);
    return [
        `CREATE TABLE ${tables.chunks} PARTITION OF yizhi_chunks FOR VALUES IN (${id})`,
        `CREATE TABLE ${tables.terms} PARTITION OF yizhi_terms FOR VALUES IN (${id})`,
        `CREATE TABLE ${tables.postings} PARTITION OF yizhi_postings FOR VALUES IN (${id})`,
        `CREATE TABLE ${tables.vectors} PARTITION OF yizhi_vectors FOR VALUES IN (${id})`,
        ...(type != null
            ? [`CREATE INDEX ${tables.vectors}_hnsw ON ${tables.vectors} USING hnsw ((embedding::${type.cast}) ${type.ops}) WITH (m = ${Math.trunc(hnsw.m)}, ef_construction = ${Math.trunc(hnsw.efConstruction)})`]
            : []),
    ];
}

export function dropPartitionsSql(id: number): string[] {
    return Object.values(partitionsOf(id)).map((table) => `DROP TABLE IF EXISTS ${table}`);
}
