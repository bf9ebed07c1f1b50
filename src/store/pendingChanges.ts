import { YizhiError } from "../errors.js";
import { termCounts } from "../retrieval/bm25.js";
import { tokenize } from "../retrieval/tokenize.js";
import type { ChunkRecord, DocumentChanges, DocumentRecord, NewChunk } from "./records.js";

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

/**
 * A writer's changes not committed yet, by document id, and what the writer sees through them: its
 * own changes at once, over what is stored.
 */
export class PendingChanges extends Map<string, DocumentChange> {
    /** The stored documents as the changes leave them. */
    public overlay(stored: readonly DocumentRecord[]): DocumentRecord[] {
        const documents = stored.filter((document) => !this.has(document.id));
        for (const change of this.values()) if (change.kind !== "remove") documents.push(change.record);
        return documents;
    }

    /** The document as the changes leave it: `null` when they remove it, undefined when they do not touch it. */
    public document(id: string): DocumentRecord | null | undefined {
        const change = this.get(id);
        if (change == null) return undefined;
        return change.kind === "remove" ? null : change.record;
    }

    /** A document the changes add or change that holds `hash`. */
    public withHash(hash: string): DocumentRecord | undefined {
        for (const change of this.values()) if (change.kind !== "remove" && change.record.hash === hash) return change.record;
        return undefined;
    }

    /** Records `changes` to document `id`, which is `current` (undefined: there is none, and nothing changes). */
    public update(id: string, changes: DocumentChanges, current: DocumentRecord | undefined): void {
        const change = this.get(id);
        if (change?.kind === "put") this.set(id, { ...change, record: { ...change.record, ...changes } });
        else if (current != null) this.set(id, { kind: "update", record: { ...current, ...changes } });
    }
}
