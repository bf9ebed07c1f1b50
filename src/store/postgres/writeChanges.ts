import type { ChunkToStore, DocumentChange } from "../pendingChanges.js";
import type { DocumentRecord } from "../records.js";
import type { Queryable } from "./database.js";
import type { KnowledgeBaseRow } from "./knowledgeBaseRow.js";
import { vectorLiteral } from "./readQueries.js";
import { partitionsOf } from "./schema.js";

/** Writes `changes` in the caller's transaction, and gives the knowledge base a new version. */
export async function writeChanges(client: Queryable, kb: KnowledgeBaseRow, changes: ReadonlyMap<string, DocumentChange>): Promise<void> {
    const tables = partitionsOf(kb.id);
    const replaced = [...changes].filter(([, change]) => change.kind !== "update").map(([id]) => id);
    const { rows: old } = await client.query<{ id: string; labels: number[] }>(
        "DELETE FROM yizhi_documents WHERE kb_id = $1 AND id = ANY($2::text[]) RETURNING id, labels",
        [kb.id, replaced],
    );
    const removed = old.flatMap((row) => row.labels.map(Number));
    let chunksDelta = 0;
    let lengthDelta = 0;
    if (removed.length > 0) {
        await client.query(`DELETE FROM ${tables.vectors} WHERE kb_id = $1 AND label = ANY($2::bigint[])`, [kb.id, removed]);
        const { rows: [gone] } = await client.query<{ chunks: number; length: number }>(
            `WITH gone AS (DELETE FROM ${tables.chunks} WHERE kb_id = $1 AND label = ANY($2::bigint[]) RETURNING length)
             SELECT count(*)::int AS chunks, coalesce(sum(length), 0)::int8 AS length FROM gone`,
            [kb.id, removed],
        );
        chunksDelta -= gone!.chunks;
        lengthDelta -= gone!.length;
        await client.query(
            `WITH gone AS (DELETE FROM ${tables.postings} WHERE label = ANY($2::bigint[]) RETURNING term),
                  counts AS (SELECT term, count(*)::int AS n FROM gone GROUP BY term)
             UPDATE ${tables.terms} AS t SET chunks = t.chunks - counts.n FROM counts WHERE t.kb_id = $1 AND t.term = counts.term`,
            [kb.id, removed],
        );
        await client.query(`DELETE FROM ${tables.terms} WHERE kb_id = $1 AND chunks <= 0`, [kb.id]);
    }

    const documents: { id: string; hash: string; record: Omit<DocumentRecord, "labels">; labels: number[] }[] = [];
    const chunks: ChunkToStore[] = [];
    for (const [id, change] of changes) {
        if (change.kind === "remove") continue;
        const { labels, ...record } = change.record;
        if (change.kind === "update") {
            await client.query("UPDATE yizhi_documents SET hash = $3, record = $4 WHERE kb_id = $1 AND id = $2", [kb.id, id, record.hash, record]);
            continue;
        }
        documents.push({ id, hash: record.hash, record, labels });
        chunks.push(...change.chunks);
    }
    if (documents.length > 0) {
        await client.query(
            `INSERT INTO yizhi_documents (kb_id, id, hash, record, labels)
             SELECT $1, d->>'id', d->>'hash', d->'record', ARRAY(SELECT jsonb_array_elements_text(d->'labels')::bigint)
             FROM jsonb_array_elements($2::jsonb) AS d`,
            [kb.id, JSON.stringify(documents)],
        );
    }
    if (chunks.length > 0) {
        const labels = chunks.map((item) => item.chunk.label);
        await client.query(
            `INSERT INTO ${tables.chunks} (kb_id, label, document_id, length, chunk)
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::jsonb[])`,
            [
                kb.id, labels, chunks.map((item) => item.chunk.documentId), chunks.map((item) => item.length),
                chunks.map(({ chunk: { label: _label, documentId: _id, ...rest } }) => rest),
            ],
        );
        await client.query(
            `INSERT INTO ${tables.vectors} (kb_id, label, embedding) SELECT $1, label, embedding::vector FROM unnest($2::bigint[], $3::text[]) AS v(label, embedding)`,
            [kb.id, labels, chunks.map((item) => vectorLiteral(item.vector))],
        );
        await insertPostings(client, kb.id, chunks.map(({ chunk, counts, length }) => ({ label: chunk.label, counts, length })));
        chunksDelta += chunks.length;
        lengthDelta += chunks.reduce((sum, item) => sum + item.length, 0);
    }
    await client.query(
        `UPDATE yizhi_knowledge_bases SET version = nextval('yizhi_versions'), chunks = chunks + $2, total_length = total_length + $3,
             documents = (SELECT count(*) FROM yizhi_documents WHERE kb_id = $1)
         WHERE id = $1`,
        [kb.id, chunksDelta, lengthDelta],
    );
}

/** Writes chunks' postings and adds them to the terms' chunk counts, in the caller's transaction. */
export async function insertPostings(client: Queryable, kbId: number, chunks: readonly { label: number; counts: ReadonlyMap<string, number>; length: number }[]): Promise<void> {
    const tables = partitionsOf(kbId);
    const terms: string[] = [];
    const labels: number[] = [];
    const counts: number[] = [];
    const lengths: number[] = [];
    for (const chunk of chunks) {
        for (const [term, count] of chunk.counts) {
            terms.push(term);
            labels.push(chunk.label);
            counts.push(count);
            lengths.push(chunk.length);
        }
    }
    await client.query(
        `INSERT INTO ${tables.postings} (kb_id, term, label, count, length) SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::int[], $5::int[])`,
        [kbId, terms, labels, counts, lengths],
    );
    await client.query(
        `INSERT INTO ${tables.terms} AS t (kb_id, term, chunks) SELECT $1, term, count(*) FROM unnest($2::text[]) AS term GROUP BY term
         ON CONFLICT (kb_id, term) DO UPDATE SET chunks = t.chunks + excluded.chunks`,
        [kbId, terms],
    );
}
