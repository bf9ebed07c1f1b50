import { YizhiError } from "../errors.js";
import { termCounts } from "../retrieval/bm25.js";
import { tokenize } from "../retrieval/tokenize.js";
import type { ChunkRecord, DocumentRecord, NewChunk } from "./records.js";

/** A chunk on its way in: its record, vector and terms. */
export interface ChunkToStore {
    chunk: ChunkRecord;
    vector: readonly number[];
    /** Its terms (see `tokenize`) with their counts, and its length in terms. */
    counts: ReadonlyMap<string, number>;
    length: number;
}

/** One document's change in a commit: stored anew (with chunks, or only its details), or removed. */
export type DocumentChange = { kind: "put"; record: DocumentRecord; chunks: readonly ChunkToStore[] } | { kind: "update"; record: DocumentRecord } | { kind: "remove" };

/** Throws unless there is one vector of the knowledge base's `dimension` per chunk. */
export function assertVectors(kb: string, dimension: number, chunks: readonly NewChunk[], vectors: readonly (readonly number[])[]): void {
    if (vectors.length !== chunks.length) throw new RangeError(`${vectors.length} vectors for ${chunks.length} chunks`);
    const wrong = vectors.find((vector) => vector.length !== dimension);
    if (wrong != null) throw new YizhiError("embedder_mismatch", `A ${wrong.length}-dim vector cannot go into knowledge base "${kb}", whose vectors are ${dimension}-dim.`);
}

/**
 * A document's chunks as a writer of knowledge base `kb` stores them, under `labels`; throws unless
 * there is one vector of the knowledge base's `dimension` per chunk.
 */
export function chunksToStore(
    kb: string, dimension: number, document: Omit<DocumentRecord, "labels">,
    chunks: readonly NewChunk[], vectors: readonly (readonly number[])[], labels: readonly number[],
): ChunkToStore[] {
    assertVectors(kb, dimension, chunks, vectors);
    return chunks.map((chunk, i) => {
        const { counts, length } = termCounts(tokenize(chunk.text));
        return { chunk: { ...chunk, label: labels[i]!, documentId: document.id, source: document.source }, vector: vectors[i]!, counts, length };
    });
}
