import { Jieba } from "@node-rs/jieba";
import { dict } from "@node-rs/jieba/dict.js";

// `new Jieba()` has an empty dictionary; the bundled one is loaded once, on first use (~0.2 s).
let jieba: Jieba | undefined;

/** Words too common to tell passages apart, in Chinese and English. */
const stopWords = new Set([
    "的", "了", "是", "在", "和", "与", "及", "或", "也", "就", "都", "而", "之", "其", "这", "那", "有", "为", "对", "等", "中", "上", "把", "被", "从", "以",
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "is", "are", "was", "were", "be", "been", "by", "with", "as", "it", "its",
    "this", "that", "these", "those", "from", "what", "which", "who", "how", "do", "does", "did",
]);

const hasLetterOrDigit = /[\p{L}\p{N}]/u;

/**
 * Terms for lexical search: jieba in search mode (which also emits the shorter words inside a long
 * one, so 中华人民共和国 matches 共和国), lower-cased, without punctuation and stop words. Latin
 * words and numbers come out whole.
 */
export function tokenize(text: string): string[] {
    jieba ??= Jieba.withDict(dict);
    const terms: string[] = [];
    for (const word of jieba.cutForSearch(text.normalize("NFKC").toLowerCase(), true)) {
        const term = word.trim();
        if (term !== "" && hasLetterOrDigit.test(term) && !stopWords.has(term)) terms.push(term);
    }
    return terms;
}
