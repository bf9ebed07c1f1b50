import path from "node:path";
import { UnreadableFileError } from "../src/errors.js";
import { contentHash } from "./contentHash.js";
import { limitExceeded, type ParseLimits } from "./limits.js";
import { loaderFor, supportedExtensions } from "./loaders/index.js";
import type { ContainedFile } from "./loaders/types.js";
import { imageExtensions } from "./ocr/images.js";
import type { OcrSettings } from "./ocr/ocrEngine.js";
import { OcrReader, type OcrProgress } from "./ocr/ocrReader.js";
import { sharedPaddleOcrEngine } from "./ocr/paddleOcrEngine.js";

const imageFormats = new Set(Object.keys(imageExtensions).map((extension) => extension.slice(1)));
import { normalizeSections } from "./normalize.js";
import { splitSections, type SplitterOptions, type TextChunk } from "./splitter.js";

/** A file to read: its bytes, and the name whose extension picks the loader. */
export interface ParseRequest {
    bytes: Uint8Array;
    fileName: string;
    /** How many archives or e-mails the file is inside (default 0). */
    depth?: number;
}

/** What a file becomes before it is embedded. */
export interface ParsedFile {
    /** File format, by extension (pdf, docx, txt, ...). */
    format: string;
    /** The text encoding that was detected, for byte-oriented text formats. */
    encoding?: string;
    /** SHA-256 of the normalised text (see `contentHash`); empty for an archive, which has no text of its own. */
    hash: string;
    /** None for an archive. */
    chunks: TextChunk[];
    /** Files inside this one, to be read as documents of their own. */
    contained?: ContainedFile[];
}

export interface ParseSettings {
    limits: ParseLimits;
    splitter: SplitterOptions;
    ocr: OcrSettings;
}

/**
 * Reads a file into chunks: loader (OCR, where a file needs it, reporting each page to
 * `onOcrProgress`), normalisation, content hash, splitter. Throws `UnreadableFileError` with the reason.
 */
export async function parseFile(
    { bytes, fileName, depth = 0 }: ParseRequest,
    { limits, splitter, ocr }: ParseSettings,
    onOcrProgress?: (progress: OcrProgress) => void,
): Promise<ParsedFile> {
    const load = loaderFor(fileName);
    if (load == null) {
        throw new UnreadableFileError(`Unsupported file type ${path.extname(fileName) || "(none)"}. Supported: ${supportedExtensions.join(" ")}`);
    }
    const reader = new OcrReader({
        settings: ocr,
        maxImagePixels: limits.maxImagePixels,
        engine: () => sharedPaddleOcrEngine(ocr.threads),
        ...(onOcrProgress != null ? { onProgress: onOcrProgress } : {}),
    });
    const loaded = await load(bytes, fileName, limits, { ocr: reader });
    const characters = loaded.sections.reduce((sum, section) => sum + section.text.length, 0);
    if (characters > limits.maxTextChars) throw limitExceeded("maxTextChars", limits, `holds ${characters.toLocaleString("en")} characters of text`);

    const contained = loaded.contained ?? [];
    if (contained.length > 0 && depth >= limits.maxArchiveNesting) {
        throw limitExceeded("maxArchiveNesting", limits, `holds files but is inside ${depth} archives or e-mails already`);
    }

    const format = path.extname(fileName).slice(1).toLowerCase();
    // PDF text and OCR'd lines are broken by the layout, not by the author.
    const sections = normalizeSections(loaded.sections, { reflowLines: format === "pdf" || imageFormats.has(format) });
    if (sections.length === 0 && contained.length === 0) throw new UnreadableFileError("The file has no text.");
    return {
        format,
        ...(loaded.encoding != null ? { encoding: loaded.encoding } : {}),
        hash: sections.length > 0 ? contentHash(sections.map((section) => section.text)) : "",
        chunks: sections.length > 0 ? splitSections(sections, splitter) : [],
        ...(contained.length > 0 ? { contained } : {}),
    };
}
