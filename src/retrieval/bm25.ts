/** Okapi BM25 parameters: every backend scores with these, so a threshold means the same on each. */
export const BM25 = {
    /** Term-frequency saturation. */
    k1: 1.2,
    /** Length normalisation, 0 (none) to 1 (full). */
    b: 0.75,
} as const;

export interface LexicalHit {
    label: number;
    /** BM25 score, ≥ 0; unbounded, so only comparable within one query. */
    score: number;
    /**
     * The BM25 score divided by the score of an average-length chunk holding each of the query's
     * terms once, capped at 1: roughly the IDF-weighted share of the query's terms the chunk has.
     * Comparable across queries, so a threshold can apply to it. A query term found in no chunk
     * counts with the highest IDF, so a question about something absent scores low everywhere.
     */
    relevance: number;
}

/** The statistics BM25 needs of the whole collection. */
export interface CollectionStats {
    chunks: number;
    /** Sum of the chunks' lengths in terms. */
    totalLength: number;
}

/**
 * Some of a term's postings as a backend stores them: for each chunk holding the term, a triple of
 * its label, how often it holds the term and its length in terms.
 */
export type Postings = ArrayLike<number>;

/** A query's terms with the weight each carries in this collection. */
export class Bm25Query {
    /** The query's terms found in the collection, with their IDF. */
    public readonly terms: { term: string; idf: number }[] = [];
    /** What an average-length chunk holding every query term once would score. */
    private readonly fullMatchScore: number;
    private readonly averageLength: number;

    /** `documentFrequency` gives how many chunks hold a term. */
    public constructor(
        terms: readonly string[],
        private readonly stats: CollectionStats,
        documentFrequency: (term: string) => number,
    ) {
        let fullMatchScore = 0;
        for (const term of new Set(terms)) {
            const frequency = documentFrequency(term);
            // Lucene's IDF: never negative, even for a term in most chunks.
            const idf = Math.log(1 + (stats.chunks - frequency + 0.5) / (frequency + 0.5));
            fullMatchScore += idf;
            if (frequency > 0) this.terms.push({ term, idf });
        }
        this.fullMatchScore = fullMatchScore;
        this.averageLength = stats.chunks > 0 ? stats.totalLength / stats.chunks : 0;
    }

    /** One term's contribution to a chunk's score. */
    public termScore(idf: number, count: number, length: number): number {
        const { k1, b } = BM25;
        return idf * count * (k1 + 1) / (count + k1 * (1 - b + b * length / this.averageLength));
    }

    public hit(label: number, score: number): LexicalHit {
        return { label, score, relevance: this.fullMatchScore > 0 ? Math.min(1, score / this.fullMatchScore) : 0 };
    }

    /** The k best chunks over the query terms' postings, best first. */
    public search(postingsOf: (term: string) => Iterable<Postings>, k: number): LexicalHit[] {
        if (this.stats.chunks === 0 || k <= 0) return [];
        const scores = new Map<number, number>();
        for (const { term, idf } of this.terms) {
            for (const triples of postingsOf(term)) {
                for (let i = 0; i < triples.length; i += 3) {
                    const label = triples[i]!;
                    scores.set(label, (scores.get(label) ?? 0) + this.termScore(idf, triples[i + 1]!, triples[i + 2]!));
                }
            }
        }
        return bestK(scores, k).map(([label, score]) => this.hit(label, score));
    }
}

/**
 * The k highest-scoring entries, best first (ties: lower label first), through a bounded min-heap:
 * a common word can put most chunks in `scores`, and sorting them all dominated search time.
 */
export function bestK(scores: ReadonlyMap<number, number>, k: number): [label: number, score: number][] {
    const heap: [number, number][] = [];
    // "Worse" puts the lower score, or at equal scores the higher label, nearer the root.
    const worse = (a: [number, number], b: [number, number]) => a[1] < b[1] || (a[1] === b[1] && a[0] > b[0]);
    const siftDown = (from: number) => {
        for (let i = from; ;) {
            const left = 2 * i + 1;
            const right = left + 1;
            let smallest = i;
            if (left < heap.length && worse(heap[left]!, heap[smallest]!)) smallest = left;
            if (right < heap.length && worse(heap[right]!, heap[smallest]!)) smallest = right;
            if (smallest === i) return;
            [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
            i = smallest;
        }
    };
    for (const entry of scores) {
        if (heap.length < k) {
            heap.push(entry);
            for (let i = heap.length - 1; i > 0;) {
                const parent = (i - 1) >> 1;
                if (!worse(heap[i]!, heap[parent]!)) break;
                [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
                i = parent;
            }
        } else if (worse(heap[0]!, entry)) {
            heap[0] = entry;
            siftDown(0);
        }
    }
    return heap.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
}

/** A chunk's terms with their counts, and its length: what BM25 stores of it. */
export function termCounts(terms: readonly string[]): { counts: Map<string, number>; length: number } {
    const counts = new Map<string, number>();
    for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
    return { counts, length: terms.length };
}
