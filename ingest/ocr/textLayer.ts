import iconv from "iconv-lite";

/**
 * Whether a PDF page's text layer is worth keeping, or the page should be read by OCR instead: it
 * has too little text for its page (a scan with a page number, a stamp), or its text is garbled —
 * 30 % or more of it private-use, U+FFFD, control or unassigned characters (a PDF whose fonts lack
 * ToUnicode maps came out 95–100 % control characters), or most of its Chinese characters outside
 * the common ones (glyph ids read as if they were code points land in rare CJK blocks).
 */
export function isUsableTextLayer(text: string): boolean {
    const characters = [...text.replace(/\s+/g, "")];
    if (characters.length < MIN_CHARACTERS) return false;
    const garbled = characters.filter((character) => GARBLED.test(character)).length;
    if (garbled / characters.length >= MAX_GARBLED_SHARE) return false;
    const han = characters.filter((character) => HAN.test(character));
    if (han.length >= MIN_CHARACTERS) {
        const common = han.filter(isCommonHan).length;
        if (common / han.length < MIN_COMMON_HAN_SHARE) return false;
    }
    return true;
}

/** Fewer visible characters than this on a page: no usable text layer. */
const MIN_CHARACTERS = 20;
const MAX_GARBLED_SHARE = 0.3;
/** Kept: 200 pages of news, simplified and traditional; flagged: 50 pages of code points drawn at random. */
const MIN_COMMON_HAN_SHARE = 0.7;

// Private use, the replacement character, controls, and code points Unicode has not assigned.
const GARBLED = /[\p{Co}\ufffd\p{Cc}\p{Cn}]/u;
const HAN = /\p{Script=Han}/u;
const commonHan = new Map<string, boolean>();

/** GB2312's Chinese characters: GBK (iconv-lite's "gb2312" is GBK) bytes 0xB0–0xF7, then 0xA1–0xFE. */
function inGb2312(character: string): boolean {
    const bytes = iconv.encode(character, "gbk");
    return bytes.length === 2 && bytes[0]! >= 0xb0 && bytes[0]! <= 0xf7 && bytes[1]! >= 0xa1 && bytes[1]! <= 0xfe &&
        iconv.decode(bytes, "gbk") === character;
}

/** Big5's frequently used characters (常用字), 0xA440–0xC67E. */
function inBig5Common(character: string): boolean {
    const bytes = iconv.encode(character, "big5");
    const code = bytes.length === 2 ? bytes[0]! * 256 + bytes[1]! : 0;
    return code >= 0xa440 && code <= 0xc67e && iconv.decode(bytes, "big5") === character;
}

/**
 * Whether a Chinese character is a common one: in GB2312 (the 6,763 of everyday simplified text)
 * or among Big5's 5,401 frequently used traditional ones. Garbled text lands all over the
 * 90,000 code points of the unified ideographs.
 */
function isCommonHan(character: string): boolean {
    let common = commonHan.get(character);
    if (common == null) {
        common = inGb2312(character) || inBig5Common(character);
        commonHan.set(character, common);
    }
    return common;
}
