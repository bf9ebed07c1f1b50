import type { Database } from "lmdb";
import type { Postings } from "../../retrieval/bm25.js";

/** Entries per block: small enough that a commit rewrites little, large enough that a scan reads few keys. */
const BLOCK_ENTRIES = 512;
/** Above every label: the end of a term's key range. */
const AFTER_LAST_LABEL = 2 ** 32;

/** A chunk's entry in a term's postings. */
export interface PostingEntry {
    label: number;
    count: number;
    length: number;
}

export type PostingsDatabase = Database<Buffer, [term: string, firstLabel: number]>;
export type TermsDatabase = Database<number, string>;

/**
 * BM25 postings kept in LMDB so that nothing is rebuilt at open: each term's postings are blocks
 * of (label, count, length) triples in label order, keyed by the term and the block's first label.
 * A commit touches only the last block of each term it adds to and the blocks holding what it
 * removes, so its cost follows the change, not the size of the knowledge base.
 */
export class PostingBlocks {
    public constructor(private readonly postings: PostingsDatabase, private readonly terms: TermsDatabase) {}

    /** How many chunks hold `term`. */
    public documentFrequency(term: string): number {
        return this.terms.get(term) ?? 0;
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

    private append(term: string, entries: readonly PostingEntry[]): void {
        if (entries.length === 0) return;
        let pending: number[] = [];
        let key: [string, number] = [term, entries[0]!.label];
        const last = this.lastBlock(term);
        if (last != null && last.triples.length / 3 < BLOCK_ENTRIES) {
            pending = [...last.triples];
            key = last.key;
        }
        for (const entry of entries) {
            if (pending.length / 3 === BLOCK_ENTRIES) {
                this.postings.putSync(key, encode(pending));
                pending = [];
                key = [term, entry.label];
            }
            pending.push(entry.label, entry.count, entry.length);
        }
        this.postings.putSync(key, encode(pending));
        this.terms.putSync(term, this.documentFrequency(term) + entries.length);
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
        for (const { key, triples } of changed.values()) {
            if (triples.length === 0) this.postings.removeSync(key);
            else this.postings.putSync(key, encode(triples));
        }
        const left = this.documentFrequency(term) - dropped;
        if (left > 0) this.terms.putSync(term, left);
        else this.terms.removeSync(term);
    }

    private lastBlock(term: string): { key: [string, number]; triples: Uint32Array } | undefined {
        return this.blockBefore(term, AFTER_LAST_LABEL);
    }

    /** The block whose range covers `label` (the last one starting at or before it). */
    private blockHolding(term: string, label: number): { key: [string, number]; triples: Uint32Array } | undefined {
        return this.blockBefore(term, label);
    }

    private blockBefore(term: string, label: number): { key: [string, number]; triples: Uint32Array } | undefined {
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
