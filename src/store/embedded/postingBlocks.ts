import type { Database } from "lmdb";
import type { Postings } from "../../retrieval/bm25.js";

/** Entries per block once merged: large enough that a scan reads few keys. */
const BLOCK_ENTRIES = 512;
/** Blocks a term may have beyond what its entries need merged, before compaction merges them. */
const MAX_EXTRA_BLOCKS = 8;
/** Above every label: the end of a term's key range. */
const AFTER_LAST_LABEL = 2 ** 32;

/** A chunk's entry in a term's postings. */
export interface PostingEntry {
    label: number;
    count: number;
    length: number;
}

/** How many chunks hold a term, and in how many blocks its postings are. */
export interface TermStats {
    df: number;
    blocks: number;
}

export type PostingsDatabase = Database<Buffer, [term: string, firstLabel: number]>;
export type TermsDatabase = Database<TermStats, string>;
/** The terms whose postings are spread over more blocks than they need: what compaction merges. */
export type FragmentedDatabase = Database<true, string>;

/**
 * BM25 postings kept in LMDB, so that nothing is rebuilt at open: each term's postings are blocks
 * of (label, count, length) triples in label order, keyed by the term and the block's first label.
 * A commit adds each term's new entries as a block of their own (they come after every stored
 * label) and rewrites only the blocks holding what it removes, so its cost follows the change, not
 * the size of the knowledge base. Compaction merges the small blocks that commits leave.
 */
export class PostingBlocks {
    public constructor(
        private readonly postings: PostingsDatabase,
        private readonly terms: TermsDatabase,
        private readonly fragmented: FragmentedDatabase,
    ) {}

    /** How many chunks hold `term`. */
    public documentFrequency(term: string): number {
        return this.terms.get(term)?.df ?? 0;
    }

    /** The term's postings, block by block. */
    public* scan(term: string): Generator<Postings> {
        for (const { value } of this.postings.getRange({ start: [term, 0], end: [term, AFTER_LAST_LABEL] })) yield decode(value);
    }

    /** The entry of `label` under `term`, if the chunk holds the term. */
    public find(term: string, label: number): PostingEntry | undefined {
        const block = this.blockHolding(term, label);
        if (block == null) return undefined;
        const i = indexOfLabel(block.triples, label);
        return i < 0 ? undefined : { label, count: block.triples[i * 3 + 1]!, length: block.triples[i * 3 + 2]! };
    }

    /**
     * Applies one commit's changes; call inside its write transaction. `added` maps each term to
     * its new entries, all with labels above every stored one; `removed` maps terms to labels to drop.
     */
    public apply(added: ReadonlyMap<string, PostingEntry[]>, removed: ReadonlyMap<string, number[]>): void {
        for (const [term, labels] of removed) this.remove(term, labels);
        for (const [term, entries] of added) this.append(term, entries.sort((a, b) => a.label - b.label));
    }

    /** Removes every posting; call inside a write transaction. */
    public clear(): void {
        this.postings.clearSync();
        this.terms.clearSync();
        this.fragmented.clearSync();
    }

    /**
     * Merges the postings of up to `limit` fragmented terms into full blocks; call inside a write
     * transaction. Returns how many terms it merged (0: none was left).
     */
    public mergeFragments(limit: number): number {
        const terms = [...this.fragmented.getKeys({ limit })];
        for (const term of terms) {
            const triples: number[] = [];
            for (const { key, value } of this.postings.getRange({ start: [term, 0], end: [term, AFTER_LAST_LABEL] })) {
                triples.push(...decode(value));
                this.postings.removeSync(key);
            }
            let blocks = 0;
            for (let i = 0; i < triples.length; i += BLOCK_ENTRIES * 3) {
                this.postings.putSync([term, triples[i]!], encode(triples.slice(i, i + BLOCK_ENTRIES * 3)));
                blocks++;
            }
            this.terms.putSync(term, { df: triples.length / 3, blocks });
            this.fragmented.removeSync(term);
        }
        return terms.length;
    }

    private append(term: string, entries: readonly PostingEntry[]): void {
        if (entries.length === 0) return;
        const stats = this.terms.get(term) ?? { df: 0, blocks: 0 };
        for (let i = 0; i < entries.length; i += BLOCK_ENTRIES) {
            const block = entries.slice(i, i + BLOCK_ENTRIES);
            this.postings.putSync([term, block[0]!.label], encode(block.flatMap(({ label, count, length }) => [label, count, length])));
            stats.blocks++;
        }
        stats.df += entries.length;
        this.putStats(term, stats);
    }

    private remove(term: string, labels: readonly number[]): void {
        const changed = new Map<number, { key: [string, number]; triples: number[] }>();
        let dropped = 0;
        for (const label of labels) {
            const stored = this.blockHolding(term, label);
            if (stored == null) continue;
            const block = changed.get(stored.key[1]) ?? { key: stored.key, triples: [...stored.triples] };
            const i = indexOfLabel(block.triples, label);
            if (i < 0) continue;
            block.triples.splice(i * 3, 3);
            changed.set(stored.key[1], block);
            dropped++;
        }
        const stats = this.terms.get(term) ?? { df: 0, blocks: 0 };
        for (const { key, triples } of changed.values()) {
            if (triples.length > 0) {
                this.postings.putSync(key, encode(triples));
                continue;
            }
            this.postings.removeSync(key);
            stats.blocks--;
        }
        stats.df -= dropped;
        if (stats.df > 0) {
            this.putStats(term, stats);
        } else {
            this.terms.removeSync(term);
            this.fragmented.removeSync(term);
        }
    }

    private putStats(term: string, stats: TermStats): void {
        this.terms.putSync(term, stats);
        if (stats.blocks > Math.ceil(stats.df / BLOCK_ENTRIES) + MAX_EXTRA_BLOCKS) this.fragmented.putSync(term, true);
    }

    /** The block whose range covers `label` (the last one starting at or before it). */
    private blockHolding(term: string, label: number): { key: [string, number]; triples: Uint32Array } | undefined {
        for (const { key, value } of this.postings.getRange({ start: [term, label], end: [term], reverse: true, limit: 1 })) {
            return { key, triples: decode(value) };
        }
        return undefined;
    }
}

function encode(triples: ArrayLike<number>): Buffer {
    return Buffer.from(Uint32Array.from(triples).buffer);
}

function decode(value: Buffer): Uint32Array {
    // A view needs 4-byte alignment; LMDB's buffers usually have it, a copy stands in when not.
    return value.byteOffset % 4 === 0
        ? new Uint32Array(value.buffer, value.byteOffset, value.length / 4)
        : new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length));
}

/** Binary search of a block's labels; -1 when absent. */
function indexOfLabel(triples: ArrayLike<number>, label: number): number {
    let low = 0;
    let high = triples.length / 3 - 1;
    while (low <= high) {
        const middle = (low + high) >> 1;
        const found = triples[middle * 3]!;
        if (found === label) return middle;
        if (found < label) low = middle + 1;
        else high = middle - 1;
    }
    return -1;
}
