import type { ParseLimits } from "../limits.js";

/** A run of text from one place in a file: a PDF page, a section under a heading, a CSV row. */
export interface LoadedSection {
    text: string;
    /** 1-based page number, for paged formats (PDF). */
    page?: number;
    /** Headings above this text, outermost first, for formats that have them (Markdown, DOCX, HTML). */
    headingPath?: string[];
}

export interface LoadedFile {
    sections: LoadedSection[];
    /** The text encoding that was detected, for byte-oriented text formats. */
    encoding?: string;
}

/**
 * Turns a file's bytes into text. Throws `UnreadableFileError` with a reason a person understands
 * when the file cannot be read (encrypted, no text layer, corrupt, empty, over one of `limits`).
 */
export type Loader = (bytes: Uint8Array, fileName: string, limits: ParseLimits) => Promise<LoadedFile>;
