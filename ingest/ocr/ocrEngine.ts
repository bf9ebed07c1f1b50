/** One line of text found in a picture, with where it is (pixels, top-left origin). */
export interface OcrLine {
    text: string;
    /** The recogniser's mean character confidence, 0..1. */
    confidence: number;
    left: number;
    top: number;
    right: number;
    bottom: number;
}

/** Reads the text of pictures. Implementations hold models; one picture at a time. */
export interface OcrEngine {
    /** The lines of text in a PNG, in no particular order. */
    recognize(png: Uint8Array): Promise<OcrLine[]>;
    dispose(): Promise<void>;
}

/** When PDF pages are read by OCR: `auto`, pages without a usable text layer; `force`, every page; `off`, none. */
export type OcrMode = "auto" | "off" | "force";

/** Languages the bundled models read. PP-OCRv4's Chinese model reads Chinese and English. */
export const ocrLanguages = ["zh", "en"] as const;
export type OcrLanguage = (typeof ocrLanguages)[number];

export interface OcrSettings {
    /** Default `auto`. */
    mode: OcrMode;
    /** Threads the recogniser uses (default 1: OCR shares the machine with answering). */
    threads: number;
    /** Default `["zh", "en"]`. */
    languages: OcrLanguage[];
}

export const defaultOcrSettings: Readonly<OcrSettings> = { mode: "auto", threads: 1, languages: ["zh", "en"] };
