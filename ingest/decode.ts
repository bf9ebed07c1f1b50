import chardet from "chardet";
import iconv from "iconv-lite";

export interface DecodedText {
    text: string;
    /** The encoding actually used, lower-case ("utf-8", "gb18030", "big5", "utf-16le"). */
    encoding: string;
}

export interface DecodeOptions {
    /** A charset the file claims for itself (an HTML `<meta charset>`); used only when the bytes are not UTF-8. */
    declaredCharset?: string;
}

type IconvEncoding = Parameters<typeof iconv.decode>[1];

const BOMS: readonly { bytes: readonly number[]; encoding: string }[] = [
    { bytes: [0xef, 0xbb, 0xbf], encoding: "utf-8" },
    { bytes: [0xff, 0xfe], encoding: "utf-16le" },
    { bytes: [0xfe, 0xff], encoding: "utf-16be" },
];

/** GB18030 is a superset of both, and files labelled GB2312 routinely contain GBK-only characters. */
const SUPERSETS: Readonly<Record<string, string>> = {
    gb2312: "gb18030",
    gbk: "gb18030",
    "x-gbk": "gb18030",
    cp936: "gb18030",
    "windows-936": "gb18030",
};

/** chardet reads every byte it is given; this much is plenty to recognise an encoding. */
const DETECTION_SAMPLE_BYTES = 64 * 1024;

/**
 * Decodes a text file's bytes. The order of trust: a byte-order mark; the zero-byte pattern of
 * BOM-less UTF-16; bytes that are valid UTF-8 (pages often declare a charset their bytes do not
 * use); the declared charset, if it decodes cleanly; chardet's statistical guess.
 */
export function decodeText(bytes: Uint8Array, options: DecodeOptions = {}): DecodedText {
    for (const bom of BOMS) {
        if (bom.bytes.every((byte, i) => bytes[i] === byte)) {
            return decodeWith(bytes.subarray(bom.bytes.length), bom.encoding);
        }
    }
    const utf16 = guessBomlessUtf16(bytes);
    if (utf16 !== undefined) {
        return decodeWith(bytes, utf16);
    }
    try {
        return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8" };
    } catch {
        // Not UTF-8: try what the file says about itself, then guess.
    }
    const declared = options.declaredCharset === undefined ? undefined : canonicalEncoding(options.declaredCharset);
    if (declared !== undefined) {
        const decoded = decodeWith(bytes, declared);
        if (!decoded.text.includes("\uFFFD")) {
            return decoded;
        }
    }
    const detected = chardet.detect(bytes.subarray(0, DETECTION_SAMPLE_BYTES));
    return decodeWith(bytes, (detected === null ? undefined : canonicalEncoding(detected)) ?? "utf-8");
}

/** The lower-case name iconv-lite decodes `label` with, or undefined when it does not know it. */
function canonicalEncoding(label: string): string | undefined {
    const name = label.trim().toLowerCase();
    const encoding = SUPERSETS[name] ?? name;
    return iconv.encodingExists(encoding) ? encoding : undefined;
}

function decodeWith(bytes: Uint8Array, encoding: string): DecodedText {
    // iconv-lite's `Encoding` type lists only normalised names ("utf8"); it accepts every alias
    // that encodingExists() accepts, which is all that reaches here.
    return { text: iconv.decode(bytes, encoding as IconvEncoding), encoding };
}

/**
 * Mostly-ASCII text saved as UTF-16 without a BOM has a zero in every other byte. Such bytes are
 * also valid UTF-8 (full of NULs), so this must be checked before UTF-8.
 */
function guessBomlessUtf16(bytes: Uint8Array): string | undefined {
    const sample = bytes.subarray(0, Math.min(bytes.length, 4096) & ~1);
    if (sample.length < 4) {
        return undefined;
    }
    let evenZeros = 0;
    let oddZeros = 0;
    for (let i = 0; i < sample.length; i += 2) {
        if (sample[i] === 0) {
            evenZeros++;
        }
        if (sample[i + 1] === 0) {
            oddZeros++;
        }
    }
    const pairs = sample.length / 2;
    // A few zeros in the other half are characters such as U+4E00, whose low byte is zero.
    if (oddZeros > pairs * 0.4 && evenZeros < pairs * 0.05) {
        return "utf-16le";
    }
    if (evenZeros > pairs * 0.4 && oddZeros < pairs * 0.05) {
        return "utf-16be";
    }
    return undefined;
}
