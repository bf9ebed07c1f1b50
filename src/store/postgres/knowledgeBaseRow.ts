import { EmbedderMismatchError, KnowledgeBaseNotFoundError } from "../../errors.js";
import type { EmbedderIdentity } from "../../models/llamaEmbeddings.js";
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

export function embedderOf(row: KnowledgeBaseRow): EmbedderIdentity {
    return { id: row.embedder_id, dimension: row.dimension };
}

/** The knowledge base named `name`, or undefined; `lock` locks its row until the transaction ends. */
export async function findKnowledgeBase(client: Queryable, name: string, lock = false): Promise<KnowledgeBaseRow | undefined> {
    const { rows } = await client.query<KnowledgeBaseRow>(`SELECT * FROM yizhi_knowledge_bases WHERE name = $1${lock ? " FOR UPDATE" : ""}`, [name]);
    return rows[0];
}

/** The knowledge base named `name`; with `embedder`, `EmbedderMismatchError` unless it was built with that one. */
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
    if (row.embedder_id !== embedder.id || row.dimension !== embedder.dimension) {
        throw new EmbedderMismatchError(row.name, `"${row.embedder_id}" (${row.dimension}-dim)`, `"${embedder.id}" (${embedder.dimension}-dim)`);
    }
}
