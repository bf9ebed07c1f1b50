import { BM25, Bm25Query, bestK, type LexicalHit } from "../../retrieval/bm25.js";
import type { ChunkRecord, DocumentRecord } from "../records.js";
import type { ScoredLabel } from "../storage.js";
import { autoEfSearch } from "../vectorGraph.js";
import type { Queryable } from "./database.js";
import type { KnowledgeBaseRow } from "./knowledgeBaseRow.js";
import { partitionsOf, vectorTypeOf } from "./schema.js";

/*
 * The reads of a knowledge base, shared by its readers and its writer. Each takes the knowledge
 * base's row as read in the same transaction, so that the statistics and the rows agree.
 */

/** pgvector's HNSW scan returns at most `hnsw.ef_search` rows, and takes at most 1,000. */
const MAX_EF_SEARCH = 1000;

interface DocumentRow {
    record: Omit<DocumentRecord, "labels">;
    labels: number[];
}

function toDocument(row: DocumentRow): DocumentRecord {
    return { ...row.record, labels: row.labels.map(Number) };
}

export async function readDocuments(client: Queryable, kb: KnowledgeBaseRow): Promise<DocumentRecord[]> {
    const { rows } = await client.query<DocumentRow>("SELECT record, labels FROM yizhi_documents WHERE kb_id = $1 ORDER BY id", [kb.id]);
    return rows.map(toDocument);
}

export async function readDocument(client: Queryable, kb: KnowledgeBaseRow, id: string): Promise<DocumentRecord | undefined> {
    const { rows } = await client.query<DocumentRow>("SELECT record, labels FROM yizhi_documents WHERE kb_id = $1 AND id = $2", [kb.id, id]);
    return rows[0] != null ? toDocument(rows[0]) : undefined;
}

/** The document holding `hash`, leaving out those with the ids in `except`. */
export async function readDocumentWithHash(client: Queryable, kb: KnowledgeBaseRow, hash: string, except: readonly string[]): Promise<DocumentRecord | undefined> {
    const { rows } = await client.query<DocumentRow>(
        "SELECT record, labels FROM yizhi_documents WHERE kb_id = $1 AND hash = $2 AND NOT (id = ANY($3::text[])) ORDER BY id LIMIT 1",
        [kb.id, hash, except],
    );
    return rows[0] != null ? toDocument(rows[0]) : undefined;
}

export async function readChunks(client: Queryable, kb: KnowledgeBaseRow, labels: readonly number[]): Promise<Map<number, ChunkRecord>> {
    if (labels.length === 0) return new Map();
    const { rows } = await client.query<{ label: number; document_id: string; chunk: Omit<ChunkRecord, "label" | "documentId"> }>(
        `SELECT label, document_id, chunk FROM ${partitionsOf(kb.id).chunks} WHERE kb_id = $1 AND label = ANY($2::bigint[])`,
        [kb.id, labels],
    );
    return new Map(rows.map((row) => [row.label, { label: row.label, documentId: row.document_id, ...row.chunk }]));
}

export async function readVectors(client: Queryable, kb: KnowledgeBaseRow, labels: readonly number[]): Promise<Map<number, number[]>> {
    if (labels.length === 0) return new Map();
    const { rows } = await client.query<{ label: number; embedding: string }>(
        `SELECT label, embedding::text AS embedding FROM ${partitionsOf(kb.id).vectors} WHERE kb_id = $1 AND label = ANY($2::bigint[])`,
        [kb.id, labels],
    );
    // pgvector prints the shortest decimal that reads back as the same 32-bit float: the float is what was stored.
    return new Map(rows.map((row) => [row.label, (JSON.parse(row.embedding) as number[]).map(Math.fround)]));
}

/** pgvector's text form of a vector. */
export function vectorLiteral(vector: readonly number[]): string {
    return JSON.stringify(vector);
}

/**
 * The k chunks nearest to `vector` by cosine similarity, best first, through the knowledge base's
 * HNSW index at `efSearch` (default: `autoEfSearch` of its size), in the caller's transaction. When
 * k covers every chunk, or the dimension has no index, the search is exact.
 */
export async function searchDense(client: Queryable, kb: KnowledgeBaseRow, vector: readonly number[], k: number, efSearch: number | undefined): Promise<ScoredLabel[]> {
    if (k <= 0 || kb.chunks === 0) return [];
    const type = vectorTypeOf(kb.dimension);
    const exact = type == null || k >= kb.chunks || k > MAX_EF_SEARCH;
    const cast = type?.cast ?? "vector";
    if (exact) {
        await client.query("SELECT set_config('enable_indexscan', 'off', true)");
    } else {
        const ef = Math.min(MAX_EF_SEARCH, Math.max(k, efSearch ?? autoEfSearch(kb.chunks)));
        await client.query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'strict_order', true)", [String(ef)]);
    }
    const { rows } = await client.query<{ label: number; score: number }>(
        `SELECT label, 1 - (embedding::${cast} <=> $1::${cast}) AS score FROM ${partitionsOf(kb.id).vectors}
         ORDER BY embedding::${cast} <=> $1::${cast} LIMIT $2`,
        [vectorLiteral(vector), k],
    );
    return rows;
}

export async function scoreDense(client: Queryable, kb: KnowledgeBaseRow, vector: readonly number[], labels: readonly number[]): Promise<Map<number, number>> {
    if (labels.length === 0) return new Map();
    const { rows } = await client.query<{ label: number; score: number }>(
        `SELECT label, 1 - (embedding <=> $1::vector) AS score FROM ${partitionsOf(kb.id).vectors} WHERE kb_id = $2 AND label = ANY($3::bigint[])`,
        [vectorLiteral(vector), kb.id, labels],
    );
    return new Map(rows.map((row) => [row.label, row.score]));
}

/** The BM25 query for `terms` over the knowledge base's statistics. */
async function lexicalQuery(client: Queryable, kb: KnowledgeBaseRow, terms: readonly string[]): Promise<Bm25Query> {
    const unique = [...new Set(terms)];
    const { rows } = unique.length === 0
        ? { rows: [] }
        : await client.query<{ term: string; chunks: number }>(`SELECT term, chunks FROM ${partitionsOf(kb.id).terms} WHERE kb_id = $1 AND term = ANY($2::text[])`, [kb.id, unique]);
    const frequency = new Map(rows.map((row) => [row.term, row.chunks]));
    return new Bm25Query(terms, { chunks: kb.chunks, totalLength: kb.total_length }, (term) => frequency.get(term) ?? 0);
}

interface PostingRow {
    label: number;
    /** Positions (from 1) in the query's terms, with the chunk's count of each. */
    terms: number[];
    counts: number[];
    length: number;
}

/**
 * A chunk's score from its postings, summed in the query's term order as `Bm25Query.search` sums
 * it, so both backends give the same number to the last bit.
 */
function scoreOf(query: Bm25Query, row: PostingRow): number {
    const order = row.terms.map((term, i) => [term, row.counts[i]!] as const).sort((a, b) => a[0] - b[0]);
    let score = 0;
    for (const [term, count] of order) score += query.termScore(query.terms[term - 1]!.idf, count, row.length);
    return score;
}

/**
 * The k best BM25 matches, best first. PostgreSQL ranks the candidates with the same formula;
 * the scores are then computed again here, exactly as the embedded backend computes them, over a
 * few more candidates than k so that rounding at the boundary cannot change which chunks make it.
 */
export async function searchLexical(client: Queryable, kb: KnowledgeBaseRow, terms: readonly string[], k: number): Promise<LexicalHit[]> {
    const query = await lexicalQuery(client, kb, terms);
    if (query.terms.length === 0 || k <= 0) return [];
    const { k1, b } = BM25;
    const averageLength = kb.total_length / kb.chunks;
    // `term = ANY(…)` is what the planner reads through the term index even without statistics (a join
    // with unnest was a sequential scan). Ranked by the sum alone; only the best are read term by term.
    const postings = partitionsOf(kb.id).postings;
    const { rows } = await client.query<PostingRow>(
        `WITH best AS (
             SELECT label FROM ${postings} WHERE term = ANY($1::text[])
             GROUP BY label
             ORDER BY sum(($2::float8[])[array_position($1::text[], term)] * count * ($3::float8 + 1)
                          / (count + $3::float8 * (1 - $4::float8 + $4::float8 * length / $5::float8))) DESC, label
             LIMIT $6)
         SELECT label, array_agg(array_position($1::text[], term)) AS terms, array_agg(count) AS counts, max(length) AS length
         FROM ${postings} WHERE label IN (SELECT label FROM best) AND term = ANY($1::text[])
         GROUP BY label`,
        [query.terms.map((term) => term.term), query.terms.map((term) => term.idf), k1, b, averageLength, k + Math.min(k, 100) + 10],
    );
    const scores = new Map(rows.map((row) => [row.label, scoreOf(query, row)]));
    return bestK(scores, k).map(([label, score]) => query.hit(label, score));
}

/** How these chunks score for the terms, by label; chunks not stored are left out. */
export async function scoreLexical(client: Queryable, kb: KnowledgeBaseRow, terms: readonly string[], labels: readonly number[]): Promise<Map<number, LexicalHit>> {
    if (labels.length === 0) return new Map();
    const query = await lexicalQuery(client, kb, terms);
    const tables = partitionsOf(kb.id);
    const { rows: stored } = await client.query<{ label: number }>(`SELECT label FROM ${tables.chunks} WHERE kb_id = $1 AND label = ANY($2::bigint[])`, [kb.id, labels]);
    const scores = new Map(stored.map((row) => [row.label, 0]));
    if (query.terms.length > 0 && scores.size > 0) {
        const { rows } = await client.query<PostingRow>(
            `SELECT label, array_agg(array_position($1::text[], term)) AS terms, array_agg(count) AS counts, max(length) AS length
             FROM ${tables.postings} WHERE label = ANY($2::bigint[]) AND term = ANY($1::text[])
             GROUP BY label`,
            [query.terms.map((term) => term.term), [...scores.keys()]],
        );
        for (const row of rows) scores.set(row.label, scoreOf(query, row));
    }
    return new Map([...scores].map(([label, score]) => [label, query.hit(label, score)]));
}
