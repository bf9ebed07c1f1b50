import hnswlib from "hnswlib-node";
import { cosineSimilarity } from "./cosineSimilarity.js";
import { assertCompleteIndexFile } from "./hnswIndexFile.js";
import type { ScoredLabel } from "./storage.js";

export interface HnswParams {
    /** Graph degree. */
    m: number;
    efConstruction: number;
    /**
     * Candidate list size at search time (default: `autoEfSearch` of the graph's size). hnswlib
     * resets it to 10 on every load, so it is set again.
     */
    efSearch?: number;
}

/**
 * The search breadth for a graph of `points`: 64 up to 100,000 points, doubling for every tenfold
 * beyond, up to 256. Measured with bench:latency: at 100k points ef 64 finds the exact top 10, at
 * 1M points it finds 0.87 of it, and ef 128 all of it.
 */
export function autoEfSearch(points: number): number {
    if (points <= 100_000) return 64;
    return Math.min(256, Math.round(64 * 2 ** Math.log10(points / 100_000)));
}

const INITIAL_CAPACITY = 1024;

/**
 * An hnswlib-node graph in cosine space over labelled vectors: scores are cosine similarities
 * (-1..1, higher is more similar). Deleted points are marked deleted and their slots reused by
 * later additions; the graph doubles its capacity when full.
 */
export class VectorGraph {
    private ef = 0;

    private constructor(private readonly index: hnswlib.HierarchicalNSW, private live: number, private readonly efSearch: number | undefined) {
        this.updateEf();
    }

    public static create(dimension: number, params: HnswParams): VectorGraph {
        const index = new hnswlib.HierarchicalNSW("cosine", dimension);
        index.initIndex({ maxElements: INITIAL_CAPACITY, m: params.m, efConstruction: params.efConstruction, allowReplaceDeleted: true });
        return new VectorGraph(index, 0, params.efSearch);
    }

    /** Reads a graph written by `save`; `live` is how many of its points were not deleted. */
    public static async load(file: string, dimension: number, params: HnswParams, live: number): Promise<VectorGraph> {
        const index = new hnswlib.HierarchicalNSW("cosine", dimension);
        await index.readIndex(file, true);
        return new VectorGraph(index, live, params.efSearch);
    }

    /** Points not deleted. */
    public get size(): number {
        return this.live;
    }

    public add(label: number, vector: ArrayLike<number>): void {
        // Additions reuse the slots of deleted points first (allowReplaceDeleted).
        const needed = Math.max(this.index.getCurrentCount(), this.live + 1);
        const capacity = this.index.getMaxElements();
        if (needed > capacity) this.index.resizeIndex(Math.max(needed, capacity * 2));
        this.index.addPoint(Array.from(vector), label, true);
        this.live++;
        this.updateEf();
    }

    /** Marks a point deleted; a label that is not in the graph is ignored. */
    public delete(label: number): void {
        try {
            this.index.markDelete(label);
            this.live--;
            this.updateEf();
        } catch {
            // Not in the graph, or already deleted.
        }
    }

    /** The k nearest points, best first. */
    public search(query: readonly number[], k: number, accept?: (label: number) => boolean): ScoredLabel[] {
        const wanted = Math.min(k, this.live);
        if (wanted <= 0) return [];
        const { neighbors, distances } = this.index.searchKnn([...query], wanted, accept);
        return neighbors.map((label, i) => ({ label, score: 1 - distances[i]! }));
    }

    /** Cosine similarity of `query` to a stored point; undefined for a label not in the graph. */
    public similarity(query: readonly number[], label: number): number | undefined {
        let point: number[];
        try {
            point = this.index.getPoint(label);
        } catch {
            return undefined;
        }
        return cosineSimilarity(query, point);
    }

    private updateEf(): void {
        const ef = this.efSearch ?? autoEfSearch(this.live);
        if (ef === this.ef) return;
        this.index.setEf(ef);
        this.ef = ef;
    }

    /** Writes the graph to `file`, checked to be whole (hnswlib does not check its writes). */
    public async save(file: string): Promise<void> {
        await this.index.writeIndex(file);
        await assertCompleteIndexFile(file);
    }
}
