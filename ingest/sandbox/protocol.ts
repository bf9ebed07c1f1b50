import type { OcrProgress } from "../ocr/ocrReader.js";
import type { ParsedFile, ParseRequest, ParseSettings } from "../parseFile.js";

/** Parent → parser process: one file to read. */
export interface ParseJob {
    id: number;
    request: ParseRequest;
    settings: ParseSettings;
}

/** Parser process → parent: how far OCR of the file has got (any number of times), then the file's chunks, or why it cannot be read. */
export type ParseAnswer =
    | { id: number; progress: OcrProgress } |
    { id: number; ok: true; parsed: ParsedFile } |
    { id: number; ok: false; reason: string };
