const CJK = "\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff";
const CJK_OR_FULLWIDTH_PUNCT = `${CJK}\\u3000-\\u303f\\uff00-\\uffef`;

// Full-width punctuation (，；：！？（）) is how Chinese is written; NFKC would turn it into ASCII.
const notFullWidthPunctuation = /[^\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+/g;
const zeroWidth = /[\u200b-\u200d\u2060\ufeff\u00ad]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const spaceRuns = /[ \t\u00a0\u3000]+/g;
const spaceBetweenCjk = new RegExp(`(?<=[${CJK_OR_FULLWIDTH_PUNCT}]) (?=[${CJK_OR_FULLWIDTH_PUNCT}])`, "g");
const wrappedCjkLine = new RegExp(`(?<=[${CJK}，、（“‘《])\\n(?=[${CJK_OR_FULLWIDTH_PUNCT}])`, "g");
const hyphenatedLine = /(?<=[a-z])-\n(?=[a-z])/g;
const wrappedLatinLine = /(?<=[a-z,;])\n(?=[a-z])/g;

export interface NormalizeOptions {
    /**
     * Join lines that a layout broke in the middle of a sentence (PDF text): a newline between two
     * Chinese characters, or a hyphenated or lower-case English line break. Off for formats whose
     * line breaks are the author's own.
     */
    reflowLines?: boolean;
}

/**
 * Cleans extracted text so that the same words always become the same characters: NFKC except for
 * full-width punctuation (PDFs emit Kangxi radicals such as U+2F60 for 瓜), one kind of newline, no invisible or
 * control characters, single spaces, no spaces that layout put between Chinese characters, and at
 * most one blank line in a row.
 */
export function normalizeText(text: string, options: NormalizeOptions = {}): string {
    let result = text.replace(notFullWidthPunctuation, (run) => run.normalize("NFKC"))
        .replace(/\r\n?/g, "\n")
        .replace(zeroWidth, "")
        .replace(controlChars, "")
        .replace(spaceRuns, " ")
        .replace(/ *\n */g, "\n")
        .replace(spaceBetweenCjk, "");
    if (options.reflowLines === true) {
        result = result
            .replace(hyphenatedLine, "")
            .replace(wrappedCjkLine, "")
            .replace(wrappedLatinLine, " ");
    }
    return result.replace(/\n{3,}/g, "\n\n").trim();
}

/** Normalises each section's text and drops the sections left empty. */
export function normalizeSections<Section extends { text: string }>(sections: readonly Section[], options: NormalizeOptions = {}): Section[] {
    return sections
        .map((section) => ({ ...section, text: normalizeText(section.text, options) }))
        .filter((section) => section.text !== "");
}
