import { cropPng, prepareImage } from "./images.js";
import type { OcrEngine, OcrLine, OcrSettings } from "./ocrEngine.js";
import { pageBlocks } from "./pageLayout.js";
import { readingOrder } from "./readingOrder.js";

/** The text OCR read from one page or picture. */
export interface OcrText {
    /** Its lines in reading order, one per line. */
    text: string;
    /** The mean confidence of its characters, 0..1. */
    confidence: number;
}

/** How far OCR of a file has got: pages (or pictures) read out of those to read. */
export interface OcrProgress {
    pagesDone: number;
    pagesTotal: number;
}

export interface OcrReaderOptions {
    settings: OcrSettings;
    /** Pixels a picture may have before it is decoded (see `ParseLimits.maxImagePixels`). */
    maxImagePixels: number;
    /** The engine, asked for when the first picture is read. */
    engine: () => Promise<OcrEngine>;
    /** Called as pages are read. */
    onProgress?: (progress: OcrProgress) => void;
}

/** Long side, in pixels, pictures are scaled down to before OCR: A4 at about 170 dpi. */
export const OCR_LONG_SIDE = 2000;

/** Reads the text of pictures and scanned pages for the loaders, one at a time, in reading order. */
export class OcrReader {
    public constructor(private readonly options: OcrReaderOptions) {}

    public get settings(): OcrSettings {
        return this.options.settings;
    }

    /** Reports that `pagesDone` of `pagesTotal` pages are read. */
    public progress(pagesDone: number, pagesTotal: number): void {
        this.options.onProgress?.({ pagesDone, pagesTotal });
    }

    /**
     * The text of a picture (PNG, JPEG, WebP, TIFF, BMP); empty when it has none. Its blocks
     * (columns; see `pageBlocks`) are read one after another, the lines of each in reading order.
     */
    public async read(picture: Uint8Array): Promise<OcrText> {
        const { png, grey } = await prepareImage(picture, { maxSide: OCR_LONG_SIDE, maxPixels: this.options.maxImagePixels });
        const engine = await this.options.engine();
        const blocks = pageBlocks(grey);
        const rows: string[] = [];
        const found: OcrLine[] = [];
        // One block (a page without columns): the whole picture, uncropped. None: a blank page.
        for (const block of blocks) {
            const lines = await engine.recognize(blocks.length > 1 ? await cropPng(png, block) : png);
            rows.push(...readingOrder(lines));
            found.push(...lines);
        }
        const characters = found.reduce((sum, line) => sum + line.text.length, 0);
        return {
            text: rows.join("\n"),
            confidence: characters > 0 ? found.reduce((sum, line) => sum + line.confidence * line.text.length, 0) / characters : 0,
        };
    }
}
