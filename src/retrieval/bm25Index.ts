export interface Bm25Params {
    /** Term-frequency saturation (default 1.2). */
    k1: number;
    /** Length normalisation, 0 (none) to 1 (full) (default 0.75). */
    b: number;
}

export interface Bm25Hit {
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

/** The persisted form: each chunk's term counts; the postings are rebuilt from it on load. */
export interface Bm25Snapshot {
    k1: number;
    b: number;
    chunks: [label: number, terms: [term: string, count: number][]][];
}

interface PreparedQuery {
    terms: { posting: Map<number, number>; idf: number }[];
    /** What an average-length chunk holding every query term once would score. */
    fullMatchScore: number;
}

const DEFAULT_BM25_PARAMS: Bm25Params = { k1: 1.2, b: 0.75 };

/**
 * An Okapi BM25 inverted index over chunks, keyed by the same labels as the vector index. Chunks
 * are added with their terms (see `tokenize`) and removed by label.
 */
export class Bm25Index {
    private readonly postings = new Map<string, Map<number, number>>();
    private readonly chunkTerms = new Map<number, [string, number][]>();
    private readonly lengths = new Map<number, number>();
    private totalLength = 0;

    public constructor(private readonly params: Bm25Params = DEFAULT_BM25_PARAMS) {}

    public static fromSnapshot(snapshot: Bm25Snapshot): Bm25Index {
        const index = new Bm25Index({ k1: snapshot.k1, b: snapshot.b });
        for (const [label, terms] of snapshot.chunks) index.addCounts(label, terms);
        return index;
    }

    public get size(): number {
        return this.chunkTerms.size;
    }

    public add(label: number, terms: readonly string[]): void {
        const counts = new Map<string, number>();
        for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
        this.addCounts(label, [...counts]);
    }

    public remove(label: number): void {
        const terms = this.chunkTerms.get(label);
        if (terms == null) return;
        for (const [term] of terms) {
            const posting = this.postings.get(term)!;
            posting.delete(label);
            if (posting.size === 0) this.postings.delete(term);
        }
        this.totalLength -= this.lengths.get(label)!;
        this.lengths.delete(label);
        this.chunkTerms.delete(label);
    }

    /** The k best-scoring chunks for the query's terms, best first; chunks sharing no term are not returned. */
    public search(queryTerms: readonly string[], k: number): Bm25Hit[] {
        if (this.chunkTerms.size === 0 || k <= 0) return [];
        const query = this.prepare(queryTerms);
        const scores = new Map<number, number>();
        for (const { posting, idf } of query.terms) {
            for (const [label, count] of posting) scores.set(label, (scores.get(label) ?? 0) + this.termScore(idf, count, label));
        }
        return bestK(scores, k).map(([label, score]) => this.hit(label, score, query));
    }

    /** How given chunks (found by other means, e.g. dense search) score for the query; unknown labels are left out. */
    public scoreChunks(queryTerms: readonly string[], labels: readonly number[]): Bm25Hit[] {
        const query = this.prepare(queryTerms);
        return labels.filter((label) => this.chunkTerms.has(label)).map((label) => {
            let score = 0;
            for (const { posting, idf } of query.terms) {
                const count = posting.get(label);
                if (count != null) score += this.termScore(idf, count, label);
            }
            return this.hit(label, score, query);
        });
    }

    public toSnapshot(): Bm25Snapshot {
        return { k1: this.params.k1, b: this.params.b, chunks: [...this.chunkTerms] };
    }

    private prepare(queryTerms: readonly string[]): PreparedQuery {
        const chunkCount = this.chunkTerms.size;
        const terms: PreparedQuery["terms"] = [];
        let fullMatchScore = 0;
        for (const term of new Set(queryTerms)) {
            const posting = this.postings.get(term);
            const documentFrequency = posting?.size ?? 0;
            // Lucene's IDF: never negative, even for a term in most chunks.
            const idf = Math.log(1 + (chunkCount - documentFrequency + 0.5) / (documentFrequency + 0.5));
            fullMatchScore += idf;
            if (posting != null) terms.push({ posting, idf });
        }
        return { terms, fullMatchScore };
    }

    private termScore(idf: number, count: number, label: number): number {
        const { k1, b } = this.params;
        const averageLength = this.totalLength / this.chunkTerms.size;
        return idf * count * (k1 + 1) / (count + k1 * (1 - b + b * this.lengths.get(label)! / averageLength));
    }

    private hit(label: number, score: number, query: PreparedQuery): Bm25Hit {
        return { label, score, relevance: query.fullMatchScore > 0 ? Math.min(1, score / query.fullMatchScore) : 0 };
    }

    private addCounts(label: number, counts: [string, number][]): void {
        this.remove(label);
        let length = 0;
        for (const [term, count] of counts) {
            let posting = this.postings.get(term);
            if (posting == null) this.postings.set(term, posting = new Map());
            posting.set(label, count);
            length += count;
        }
        this.chunkTerms.set(label, counts);
        this.lengths.set(label, length);
        this.totalLength += length;
    }
}

/**
 * The k highest-scoring entries, best first (ties: lower label first), through a bounded min-heap:
 * a common word can put most chunks in `scores`, and sorting them all dominated search time.
 */
function bestK(scores: ReadonlyMap<number, number>, k: number): [label: number, score: number][] {
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
