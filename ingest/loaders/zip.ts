import iconv from "iconv-lite";
import { UnreadableFileError } from "../../src/errors.js";
import { readArchive } from "./archive.js";
import { containedName, isClutter } from "./containedName.js";
import type { ContainedFile, Loader } from "./types.js";

/** A zip's first bytes: a local file header, or the end record of an empty archive. */
const ZIP_SIGNATURES = [[0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06]];

/**
 * A .zip archive: no text of its own, each file inside a document of its own (folders and dot-files
 * left out), named by its path inside the archive. An entry whose name climbs out of the archive
 * is refused. The archive's limits (entries, inflated bytes) hold for all its entries together.
 */
export const loadZip: Loader = async (bytes, _fileName, limits) => {
    if (!ZIP_SIGNATURES.some((signature) => signature.every((byte, i) => bytes[i] === byte))) {
        throw new UnreadableFileError("This file is not a zip archive, or it is damaged.");
    }
    const contained: ContainedFile[] = [];
    for (const entry of readArchive(bytes, limits, (name) => !name.endsWith("/"))) {
        const raw = entryName(entry.name);
        const name = containedName(raw);
        if (name == null) contained.push({ name: escapedName(raw), refused: `Its name (${JSON.stringify(raw)}) points outside the archive, so it was not read.` });
        else if (!isClutter(name)) contained.push({ name, bytes: entry.bytes });
    }
    return { sections: [], contained };
};

/**
 * An entry's name as its writer meant it. fflate decodes a name not flagged as UTF-8 as Latin-1;
 * Chinese Windows writes such names in GBK (code page 936), so bytes that are not UTF-8 are read
 * as GB18030, GBK's superset.
 */
function entryName(name: string): string {
    // A character above U+00FF: fflate decoded UTF-8 already.
    if ([...name].some((character) => character.codePointAt(0)! > 0xff)) return name;
    const raw = Buffer.from(name, "latin1");
    const utf8 = raw.toString("utf8");
    return utf8.includes("\ufffd") ? iconv.decode(raw, "gb18030") : utf8;
}

/** A refused name as it is shown: its `..` segments escaped, so that it reads as no path out of the archive. */
function escapedName(raw: string): string {
    return raw.split(/[\\/]/).map((part) => (part === ".." ? "%2E%2E" : part)).filter((part) => part !== "").join("/") || "(no name)";
}
