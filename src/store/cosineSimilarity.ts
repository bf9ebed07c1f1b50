/** Cosine similarity of two vectors of one dimension, -1..1; 0 when either is all zeros. */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
    let dot = 0;
    let normA = 0;
    let normB = 0;
    for (let i = 0; i < a.length; i++) {
        dot += a[i]! * b[i]!;
        normA += a[i]! * a[i]!;
        normB += b[i]! * b[i]!;
    }
    return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
