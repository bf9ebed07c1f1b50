import type { ParseLimits } from "../limits.js";
import type { OcrReader } from "../ocr/ocrReader.js";

/** A run of text from one place in a file: a PDF page, a section under a heading, a CSV row. */
export interface LoadedSection {
    text: string;
    /** 1-based page number, for paged formats (PDF). */
    page?: number;
    /** Headings above this text, outermost first, for formats that have them (Markdown, DOCX, HTML). */
    headingPath?: string[];
    /** Set when the text was read by OCR (a scanned page, a picture): the recogniser's mean confidence, 0..1. */
    ocr?: { confidence: number };
}

/**
 * A file inside another (an archive's entry, an e-mail's attachment), to be read as a document of
 * its own; or, with `refused`, one that is not read, and why (its name tries to leave the archive).
 */
export type ContainedFile = { name: string; bytes: Uint8Array } | { name: string; refused: string };

export interface LoadedFile {
    sections: LoadedSection[];
    /** The text encoding that was detected, for byte-oriented text formats. */
    encoding?: string;
    /** Files inside this one, in order, named by their path inside it (`/`-separated, confined by `containedName`). */
    contained?: ContainedFile[];
}

/** What a loader may use besides the file: OCR, for pictures and scanned pages. */
export interface LoadContext {
    ocr: OcrReader;
}

/**
 * Turns a file's bytes into text. Throws `UnreadableFileError` with a reason a person understands
 * when the file cannot be read (encrypted, no text layer, corrupt, empty, over one of `limits`).
 */
export type Loader = (bytes: Uint8Array, fileName: string, limits: ParseLimits, context: LoadContext) => Promise<LoadedFile>;
