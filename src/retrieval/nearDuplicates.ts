/** Two chunks whose character-trigram sets overlap this much (Jaccard) say the same thing. */
export const NEAR_DUPLICATE_SIMILARITY = 0.8;

/**
 * Keeps the first of each group of near-duplicate items (so, given a ranking, the best-ranked
 * one). Near-duplicates are chunks of two versions of one document, or boilerplate repeated across
 * documents: showing both to the model wastes its context on one passage. Texts are compared by
 * their sets of character trigrams, ignoring white space, which works the same for Chinese and
 * English. Stops once `limit` items are kept.
 */
export function dropNearDuplicates<T>(items: readonly T[], textOf: (item: T) => string, limit = Infinity, similarity = NEAR_DUPLICATE_SIMILARITY): T[] {
    const kept: { item: T; shingles: Set<string> }[] = [];
    for (const item of items) {
        if (kept.length >= limit) break;
        const shingles = trigrams(textOf(item));
        if (kept.some((other) => jaccard(shingles, other.shingles) >= similarity)) continue;
        kept.push({ item, shingles });
    }
    return kept.map(({ item }) => item);
}

function trigrams(text: string): Set<string> {
    const characters = [...text.replace(/\s+/gu, "")];
    const shingles = new Set<string>();
    if (characters.length < 3) shingles.add(characters.join(""));
    for (let i = 0; i + 3 <= characters.length; i++) shingles.add(characters.slice(i, i + 3).join(""));
    return shingles;
}

function jaccard(a: Set<string>, b: Set<string>): number {
    const [small, large] = a.size <= b.size ? [a, b] : [b, a];
    let shared = 0;
    for (const shingle of small) if (large.has(shingle)) shared++;
    const union = a.size + b.size - shared;
    return union === 0 ? 1 : shared / union;
}
