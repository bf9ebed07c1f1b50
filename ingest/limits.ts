import { UnreadableFileError } from "../src/errors.js";

/**
 * How much a document may make of itself once opened. Each is checked while the file is read,
 * before what it inflates to is held, so a hostile file fails with a reason instead of taking the
 * memory or the time of everything else. The names are the configuration settings' names.
 */
export interface ParseLimits {
    /** Bytes the entries of a zip-based document (DOCX, XLSX, PPTX, OpenDocument, EPUB) or a .zip archive may inflate to, together. Default 256 MiB. */
    maxInflatedBytes: number;
    /** Entries a zip-based document or a .zip archive may have. Default 10,000. */
    maxArchiveEntries: number;
    /** How deep archives and e-mails may be inside one another (a zip in a zip in a mail is 3). Default 3. */
    maxArchiveNesting: number;
    /** Depth of nested elements in HTML and in a document's XML. Default 512. */
    maxNestingDepth: number;
    /** Pages of a PDF. Default 10,000. */
    maxPages: number;
    /** Objects a PDF may declare (its trailer's `/Size`). Default 5,000,000. */
    maxPdfObjects: number;
    /** Rows of a CSV, TSV or spreadsheet. Default 1,000,000. */
    maxTableRows: number;
    /** Columns of one row. Default 10,000. */
    maxTableColumns: number;
    /** Characters of one CSV record or spreadsheet cell. Default 1,000,000. */
    maxCellChars: number;
    /** Characters of text a document may hold. Default 20,000,000 (about 50,000 chunks). */
    maxTextChars: number;
    /** Pixels a picture read by OCR may have, checked before it is decoded. Default 100,000,000 (10,000 × 10,000). */
    maxImagePixels: number;
}

export const defaultParseLimits: Readonly<ParseLimits> = {
    maxInflatedBytes: 256 * 1024 * 1024,
    maxArchiveEntries: 10_000,
    maxArchiveNesting: 3,
    maxNestingDepth: 512,
    maxPages: 10_000,
    maxPdfObjects: 5_000_000,
    maxTableRows: 1_000_000,
    maxTableColumns: 10_000,
    maxCellChars: 1_000_000,
    maxTextChars: 20_000_000,
    maxImagePixels: 100_000_000,
};

/** A file over one of the limits: the reason names what it exceeded and the setting that allows more. */
export function limitExceeded(limit: keyof ParseLimits, limits: ParseLimits, what: string): UnreadableFileError {
    return new UnreadableFileError(`This file ${what}: the limit is ${limits[limit].toLocaleString("en")} (setting ${limit}).`);
}
