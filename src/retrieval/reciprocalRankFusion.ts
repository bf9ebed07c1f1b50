export interface FusedHit {
    label: number;
    /**
     * The reciprocal-rank-fusion score divided by the most a chunk can get (ranked first in every
     * list), so that it lies in 0..1 and 1 means "best in every list".
     */
    score: number;
}

/**
 * Reciprocal-rank fusion (Cormack et al., 2009): a chunk scores Σ 1 / (k + rank) over the ranked
 * lists it appears in, ranks counted from 1. Only ranks matter, so lists with incomparable scores
 * (cosine similarity, BM25) fuse fairly. Ties keep the order of first appearance.
 */
export function reciprocalRankFusion(rankedLists: readonly (readonly number[])[], k: number): FusedHit[] {
    if (rankedLists.length === 0) return [];
    const sums = new Map<number, number>();
    for (const list of rankedLists) list.forEach((label, i) => sums.set(label, (sums.get(label) ?? 0) + 1 / (k + i + 1)));
    const best = rankedLists.length / (k + 1);
    return [...sums].map(([label, sum]) => ({ label, score: sum / best })).sort((x, y) => y.score - x.score);
}
