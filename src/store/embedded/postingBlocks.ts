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

/** How many chunks hold a term, in how many merged blocks its postings are, and which recent segments hold more of them. */
export interface TermStats {
    df: number;
    blocks: number;
    /** The recent segments (each a commit's first label) holding entries of the term, in order; absent when none. */
    segments?: number[];
}

export type PostingsDatabase = Database<Buffer, [term: string, firstLabel: number]>;
export type RecentDatabase = Database<Buffer, [segment: number, term: string]>;
export type TermsDatabase = Database<TermStats, string>;
/** The terms whose postings are spread over more blocks than they need: what compaction merges. */
export type FragmentedDatabase = Database<true, string>;

/**
 * BM25 postings kept in LMDB, so that nothing is rebuilt at open. Each term's postings are blocks
 * of (label, count, length) triples in label order, in two places:
 * - merged: keyed by the term and the block's first label, up to `BLOCK_ENTRIES` a block;
 * - recent: what each commit added since the last merge, keyed by the commit's segment (its first
 *   label) and the term. A commit writes all its keys at the end of this table, so it touches a few
 *   pages, not one in every part of the merged table (which, read through LMDB's memory map, kept
 *   the whole store resident during a bulk ingest), and its cost follows the change.
 * `mergeRecent` moves recent entries into the merged blocks: at compaction, and when a writer has
 * left `MAX_RECENT_SEGMENTS`. Removals rewrite only the blocks holding what they remove.
 */
export class PostingBlocks {
    public constructor(
        private readonly postings: PostingsDatabase,
        private readonly recent: RecentDatabase,
        private readonly terms: TermsDatabase,
        private readonly fragmented: FragmentedDatabase,
    ) {}

    /** How many chunks hold `term`. */
    public documentFrequency(term: string): number {
        return this.terms.get(term)?.df ?? 0;
    }

    /** The term's postings, block by block: merged ones, then recent ones. */
    public* scan(term: string): Generator<Postings> {
        for (const { value } of this.postings.getRange({ start: [term, 0], end: [term, AFTER_LAST_LABEL] })) yield decode(value);
        for (const segment of this.terms.get(term)?.segments ?? []) {
            const value = this.recent.getBinary([segment, term]);
            if (value != null) yield decode(value);
        }
    }

    /** The entries under `term` of those of `labels` whose chunks hold the term (the term's stats read once). */
    public find(term: string, labels: readonly number[]): Map<number, PostingEntry> {
        const stats = this.terms.get(term);
        const found = new Map<number, PostingEntry>();
        if (stats == null) return found;
        for (const label of labels) {
            const segment = segmentHolding(stats, label);
            const triples = segment != null ? this.recentTriples(segment, term) : this.blockHolding(term, label)?.triples;
            const i = triples != null ? indexOfLabel(triples, label) : -1;
            if (i >= 0) found.set(label, { label, count: triples![i * 3 + 1]!, length: triples![i * 3 + 2]! });
        }
        return found;
    }

    /**
     * Applies one commit's changes; call inside its write transaction. `added` maps each term to
     * its new entries, all with labels from `segment` (the commit's first label) up, above every
     * stored one; `removed` maps terms to labels to drop.
     */
    public apply(segment: number, added: ReadonlyMap<string, PostingEntry[]>, removed: ReadonlyMap<string, number[]>): void {
        for (const [term, labels] of removed) this.remove(term, labels);
        for (const [term, entries] of added) {
            if (entries.length === 0) continue;
            entries.sort((a, b) => a.label - b.label);
            this.recent.putSync([segment, term], encode(entries.flatMap(({ label, count, length }) => [label, count, length])));
            const stats = this.terms.get(term) ?? { df: 0, blocks: 0 };
            this.terms.putSync(term, { ...stats, df: stats.df + entries.length, segments: [...stats.segments ?? [], segment] });
        }
    }

    /** Adds entries straight to the merged blocks (labels above every stored one); call inside a write transaction. */
    public appendMerged(added: ReadonlyMap<string, PostingEntry[]>): void {
        for (const [term, entries] of added) this.append(term, entries.sort((a, b) => a.label - b.label));
    }

    /** Removes every posting; call inside a write transaction. */
    public clear(): void {
        this.postings.clearSync();
        this.recent.clearSync();
        this.terms.clearSync();
        this.fragmented.clearSync();
    }

    /**
     * Moves the recent entries of up to `limit` terms, from `after` on (exclusive), into their merged
     * blocks; call inside a write transaction. Returns the last term it looked at, or undefined when
     * it reached the end of the terms.
     */
    public mergeRecent(after: string | undefined, limit: number): string | undefined {
        // Read first, then written: the range is not iterated while its database changes.
        const batch: [string, TermStats & { segments: number[] }][] = [];
        let last: string | undefined;
        let reachedEnd = true;
        for (const { key: term, value: stats } of this.terms.getRange(after != null ? { start: after } : {})) {
            if (term === after) continue;
            last = term;
            if (stats.segments != null) batch.push([term, { ...stats, segments: stats.segments }]);
            if (batch.length === limit) {
                reachedEnd = false;
                break;
            }
        }
        for (const [term, stats] of batch) {
            // The term's last merged block is filled up first (rewritten under its own key), so merged blocks stay full.
            const tail = this.lastBlock(term);
            const triples = tail != null ? [...tail.triples] : [];
            for (const segment of stats.segments) {
                const entries = this.recentTriples(segment, term);
                for (const value of entries ?? []) triples.push(value);
                this.recent.removeSync([segment, term]);
            }
            let blocks = stats.blocks - (tail != null ? 1 : 0);
            for (let i = 0; i < triples.length; i += BLOCK_ENTRIES * 3) {
                this.postings.putSync([term, triples[i]!], encode(triples.slice(i, i + BLOCK_ENTRIES * 3)));
                blocks++;
            }
            this.putStats(term, { df: stats.df, blocks });
        }
        return reachedEnd ? undefined : last;
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
        const stats = this.terms.get(term) ?? { df: 0, blocks: 0 };
        const inMerged: number[] = [];
        const bySegment = new Map<number, number[]>();
        for (const label of labels) {
            const segment = segmentHolding(stats, label);
            if (segment == null) inMerged.push(label);
            else bySegment.set(segment, [...bySegment.get(segment) ?? [], label]);
        }
        let dropped = this.removeMerged(term, inMerged, stats);
        for (const [segment, gone] of bySegment) {
            const triples = this.recentTriples(segment, term);
            if (triples == null) continue;
            const kept: number[] = [];
            for (let i = 0; i < triples.length; i += 3) {
                if (gone.includes(triples[i]!)) dropped++;
                else kept.push(triples[i]!, triples[i + 1]!, triples[i + 2]!);
            }
            if (kept.length > 0) {
                this.recent.putSync([segment, term], encode(kept));
            } else {
                this.recent.removeSync([segment, term]);
                stats.segments = stats.segments?.filter((other) => other !== segment);
            }
        }
        stats.df -= dropped;
        if (stats.segments?.length === 0) delete stats.segments;
        if (stats.df > 0) {
            this.putStats(term, stats);
        } else {
            this.terms.removeSync(term);
            this.fragmented.removeSync(term);
        }
    }

    /** Drops `labels` from the term's merged blocks, counting the blocks in `stats`; returns how many it dropped. */
    private removeMerged(term: string, labels: readonly number[], stats: TermStats): number {
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
        for (const { key, triples } of changed.values()) {
            if (triples.length > 0) {
                this.postings.putSync(key, encode(triples));
                continue;
            }
            this.postings.removeSync(key);
            stats.blocks--;
        }
        return dropped;
    }

    private putStats(term: string, stats: TermStats): void {
        this.terms.putSync(term, stats);
        if (stats.blocks > Math.ceil(stats.df / BLOCK_ENTRIES) + MAX_EXTRA_BLOCKS) this.fragmented.putSync(term, true);
    }

    private recentTriples(segment: number, term: string): Uint32Array | undefined {
        const value = this.recent.getBinary([segment, term]);
        return value != null ? decode(value) : undefined;
    }

    /** The term's last merged block. */
    private lastBlock(term: string): { key: [string, number]; triples: Uint32Array } | undefined {
        return this.blockHolding(term, AFTER_LAST_LABEL);
    }

    /** The block whose range covers `label` (the last one starting at or before it). */
    private blockHolding(term: string, label: number): { key: [string, number]; triples: Uint32Array } | undefined {
        for (const { key, value } of this.postings.getRange({ start: [term, label], end: [term], reverse: true, limit: 1 })) {
            return { key, triples: decode(value) };
        }
        return undefined;
    }
}

/**
 * The recent segment that would hold `label`'s entry for a term: the last of the term's segments
 * starting at or before it (a later one starts above every label of the commit that wrote `label`).
 * Undefined: the entry, if any, is in the merged blocks.
 */
function segmentHolding(stats: TermStats | undefined, label: number): number | undefined {
    let holding: number | undefined;
    for (const segment of stats?.segments ?? []) {
        if (segment > label) break;
        holding = segment;
    }
    return holding;
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
