import type { ChunkRecord, HnswVectorStore } from "../store/hnswVectorStore.js";

export interface RetrievedChunk {
    chunk: ChunkRecord;
    /** Cosine similarity to the question, -1..1, higher is more similar. */
    score: number;
}

export interface RetrieveOptions {
    topK: number;
    /** Chunks scoring below this are not returned. */
    scoreThreshold: number;
}

/** The question's `topK` nearest chunks that score at least `scoreThreshold`, best first. */
export function retrieveChunks(store: HnswVectorStore, queryVector: readonly number[], options: RetrieveOptions): RetrievedChunk[] {
    return store.searchChunks(queryVector, options.topK)
        .filter(([, score]) => score >= options.scoreThreshold)
        .map(([chunk, score]) => ({ chunk, score }));
}
