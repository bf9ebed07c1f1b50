import WordExtractor from "word-extractor";
import { UnreadableFileError } from "../../src/errors.js";
import type { Loader } from "./types.js";

/**
 * Word 97–2003 .doc, through word-extractor (which reads the OLE compound file and its piece
 * table, 8-bit and UTF-16 text alike): the body, then text boxes, footnotes and endnotes. The
 * format keeps no heading structure that word-extractor exposes, so the text is one section;
 * a table row's cells, which come out tab-separated, are joined by " | " as in the other formats.
 */
export const loadDoc: Loader = async (bytes) => {
    let document: WordExtractor.Document;
    try {
        document = await new WordExtractor().extract(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
        throw new UnreadableFileError("This file is not a valid Word 97–2003 .doc document, or it is damaged.", { cause: error });
    }
    const parts = [document.getBody(), document.getTextboxes({ includeHeadersAndFooters: false }), document.getFootnotes(), document.getEndnotes()];
    const text = parts.join("\n")
        .split("\n")
        .map((line) => (line.includes("\t") ? line.replace(/\t+$/, "").split("\t").join(" | ") : line))
        .join("\n");
    return { sections: [{ text }] };
};
