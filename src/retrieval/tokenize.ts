import { Jieba } from "@node-rs/jieba";
import { dict } from "@node-rs/jieba/dict.js";
import * as OpenCC from "opencc-js";
import { stemmer } from "stemmer";

// `new Jieba()` has an empty dictionary; the bundled one is loaded once, on first use (~0.2 s).
let jieba: Jieba | undefined;
// OpenCC's dictionaries take ~0.2 s to build, also done once, on first use.
let traditionalToSimplified: ((text: string) => string) | undefined;

/**
 * Names what `tokenize` does. Stored with every lexical index: an index whose terms were made by
 * another version is rebuilt from its chunks' text when opened.
 */
export const TOKENIZER_VERSION = "opencc-t2cn+jieba-search+porter-2";

/**
 * Words too common to tell passages apart, in Chinese and English, and question words: questions
 * have them and passages seldom do, so they would only match passages by accident.
 */
const stopWords = new Set([
    "的", "了", "是", "在", "和", "与", "及", "或", "也", "就", "都", "而", "之", "其", "这", "那", "有", "为", "对", "等", "中", "上", "把", "被", "从", "以",
    "什么", "哪", "哪些", "哪里", "哪个", "哪一", "哪年", "谁", "多少", "几", "怎么", "怎样", "如何", "为什么", "吗", "呢", "是否", "何时", "何", "请问",
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "is", "are", "was", "were", "be", "been", "by", "with", "as", "it", "its",
    "this", "that", "these", "those", "from", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did",
]);

const hasLetterOrDigit = /[\p{L}\p{N}]/u;
const latinWord = /^[a-z]+$/;

/**
 * Terms for lexical search, the same whichever script a text is written in: traditional characters
 * become simplified ones (OpenCC's character table, `t` → `cn`), then `segment` cuts the words. Only
 * the terms change; the text stored and shown is left as written. (bench/scripts.ts measured the
 * choice: jieba's dictionary is for simplified text, and the conversion by characters alone leaves
 * simplified text as it is, which OpenCC's Taiwan tables, with their phrases, do not.)
 */
export function tokenize(text: string): string[] {
    return segment(toSimplified(text));
}

/** `text` with traditional Chinese characters replaced by simplified ones; other text unchanged. */
export function toSimplified(text: string): string {
    const convert = traditionalToSimplified ??= OpenCC.Converter({ from: "t", to: "cn" });
    return convert(text);
}

/**
 * Words of a text: jieba in search mode (which also emits the shorter words inside a long one, so
 * 中华人民共和国 matches 共和国), lower-cased, without punctuation and stop words. Latin words are
 * reduced to their Porter stem (invented, inventions → invent); numbers come out whole.
 */
export function segment(text: string): string[] {
    jieba ??= Jieba.withDict(dict);
    const terms: string[] = [];
    for (const word of jieba.cutForSearch(text.normalize("NFKC").toLowerCase(), true)) {
        const term = word.trim();
        if (term === "" || !hasLetterOrDigit.test(term) || stopWords.has(term)) continue;
        terms.push(latinWord.test(term) ? stemmer(term) : term);
    }
    return terms;
}
