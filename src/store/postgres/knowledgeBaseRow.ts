import { KnowledgeBaseNotFoundError } from "../../errors.js";
import type { EmbedderIdentity } from "../../models/models.js";
import { assertSameEmbedder } from "../sameEmbedder.js";
import type { Queryable } from "./database.js";

/** A row of `yizhi_knowledge_bases`. */
export interface KnowledgeBaseRow {
    id: number;
    name: string;
    created_at: Date;
    embedder_id: string;
    dimension: number;
    hnsw_m: number;
    hnsw_ef_construction: number;
    tokenizer: string;
    version: number;
    documents: number;
    chunks: number;
    total_length: number;
    prompts: Record<string, string>;
}

/** The embedder the knowledge base was built with, with its fingerprint when it has one. */
export async function embedderOf(client: Queryable, row: KnowledgeBaseRow): Promise<EmbedderIdentity> {
    const { rows } = await client.query<{ fingerprint: number[] }>("SELECT fingerprint FROM yizhi_embedder_fingerprints WHERE kb_id = $1", [row.id]);
    return { id: row.embedder_id, dimension: row.dimension, ...(rows[0] != null ? { fingerprint: rows[0].fingerprint } : {}) };
}

/** The knowledge base named `name`, or undefined; `lock` locks its row until the transaction ends. */
export async function findKnowledgeBase(client: Queryable, name: string, lock = false): Promise<KnowledgeBaseRow | undefined> {
    const { rows } = await client.query<KnowledgeBaseRow>(`SELECT * FROM yizhi_knowledge_bases WHERE name = $1${lock ? " FOR UPDATE" : ""}`, [name]);
    return rows[0];
}

/** The knowledge base named `name`; with `embedder`, `EmbedderMismatchError` unless it was built with one of its id and dimension. */
export async function getKnowledgeBase(client: Queryable, name: string, location: string, embedder?: EmbedderIdentity): Promise<KnowledgeBaseRow> {
    const row = await findKnowledgeBase(client, name);
    if (row == null) {
        const { rows } = await client.query<{ name: string }>("SELECT name FROM yizhi_knowledge_bases ORDER BY name");
        throw new KnowledgeBaseNotFoundError(name, { dataDir: location, existing: rows.map((existing) => existing.name) });
    }
    if (embedder != null) assertEmbedder(row, embedder);
    return row;
}

export function assertEmbedder(row: KnowledgeBaseRow, embedder: EmbedderIdentity): void {
    assertSameEmbedder(row.name, { id: row.embedder_id, dimension: row.dimension }, embedder);
}
