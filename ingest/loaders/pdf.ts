import { createRequire } from "node:module";
import path from "node:path";
import { PasswordException, PDFParse, type PageTextResult } from "pdf-parse";
import { UnreadableFileError } from "../../src/errors.js";
import { limitExceeded, type ParseLimits } from "../limits.js";
import { isUsableTextLayer } from "../ocr/textLayer.js";
import type { LoadedSection, Loader } from "./types.js";

/**
 * pdf.js reads CJK fonts that use Adobe's predefined CMaps only with its CMap files, and without
 * them drops that text silently; pdf-parse does not point it at them, so this does.
 */
const pdfjsDir = path.dirname(createRequire(import.meta.resolve("pdf-parse")).resolve("pdfjs-dist/package.json"));
const pdfjsData = {
    cMapUrl: path.join(pdfjsDir, "cmaps") + path.sep,
    cMapPacked: true,
    standardFontDataUrl: path.join(pdfjsDir, "standard_fonts") + path.sep,
};

/** Width pages are rendered at for OCR, in pixels: an A4 page comes out about 1,400 × 2,000. */
export const OCR_PAGE_WIDTH = 1400;

/**
 * PDF text, one section per page that has text: its text layer, or, for a page without a usable
 * one (a scan, or a layer of garbled characters; see `isUsableTextLayer`), what OCR reads on the
 * page rendered as a picture. `ocr` `force` reads every page by OCR, `off` none. Text is left as
 * extracted, not normalised.
 */
export const loadPdf: Loader = async (bytes, _fileName, limits, { ocr }) => {
    return withPdf(bytes, limits, async (parser, pages) => {
        const { mode } = ocr.settings;
        const toRead = pages.filter((page) => mode === "force" || (mode === "auto" && !isUsableTextLayer(page.text)));
        const read = new Map<number, LoadedSection>();
        ocr.progress(0, toRead.length);
        for (const [i, page] of toRead.entries()) {
            const { text, confidence } = await ocr.read(await renderForOcr(parser, page.num));
            if (text.trim() !== "") read.set(page.num, { text, page: page.num, ocr: { confidence } });
            ocr.progress(i + 1, toRead.length);
        }
        // A page OCR found nothing on keeps its layer only if that is usable (with `force`).
        const sections = pages.flatMap((page): LoadedSection[] => {
            const fromOcr = read.get(page.num);
            if (fromOcr != null) return [fromOcr];
            return page.text.trim() !== "" && (!toRead.includes(page) || isUsableTextLayer(page.text)) ? [{ text: page.text, page: page.num }] : [];
        });
        if (sections.length === 0) {
            throw new UnreadableFileError(mode === "off"
                ? "This PDF has no text layer; its pages are probably scanned images, and OCR is off (setting ocr)."
                : "This PDF has no text: no text layer, and OCR found none on its pages.");
        }
        return { sections };
    });
};

/** Page `num` rendered as a picture (PNG) for OCR. */
async function renderForOcr(parser: PDFParse, num: number): Promise<Uint8Array> {
    const { pages: [shot] } = await parser.getScreenshot({ partial: [num], desiredWidth: OCR_PAGE_WIDTH, imageDataUrl: false, imageBuffer: true });
    if (shot == null) throw new UnreadableFileError(`Page ${num} of this PDF could not be rendered for OCR.`);
    return shot.data;
}

/** Page `num` of a PDF as `loadPdf` renders a page it reads by OCR (same fonts and CMaps, same width): for the page layout's tests and benchmark. */
export async function renderPageForOcr(bytes: Uint8Array, num: number): Promise<Uint8Array> {
    const parser = new PDFParse({ data: bytes.slice(), ...pdfjsData });
    try {
        return await renderForOcr(parser, num);
    } finally {
        await parser.destroy();
    }
}

/** Where a PDF says how many objects it has: the `/Size` of its trailers and cross-reference streams. */
const declaredSize = /\/Size\s+(\d+)/g;
const TRAILER_REGION_BYTES = 1024 * 1024;

/**
 * Throws when the PDF declares more objects than `limits.maxPdfObjects`: pdf.js sizes its
 * cross-reference table by that count before reading a page. The trailers sit at the end (and, in a
 * linearised file, at the start), so only those regions are read.
 */
function checkObjectCount(bytes: Uint8Array, limits: ParseLimits): void {
    const regions = bytes.length <= 2 * TRAILER_REGION_BYTES ? [bytes] : [bytes.subarray(0, TRAILER_REGION_BYTES), bytes.subarray(bytes.length - TRAILER_REGION_BYTES)];
    for (const region of regions) {
        for (const match of Buffer.from(region.buffer, region.byteOffset, region.byteLength).toString("latin1").matchAll(declaredSize)) {
            const objects = Number(match[1]);
            if (objects > limits.maxPdfObjects) throw limitExceeded("maxPdfObjects", limits, `declares ${objects.toLocaleString("en")} objects`);
        }
    }
}

/** Opens a PDF, reads its text layer page by page, and hands both to `use`; errors are named for a person. */
async function withPdf<T>(bytes: Uint8Array, limits: ParseLimits, use: (parser: PDFParse, pages: PageTextResult[]) => Promise<T>): Promise<T> {
    checkObjectCount(bytes, limits);
    // pdf.js takes over (detaches) the buffer it is given; the caller's bytes must stay usable.
    const parser = new PDFParse({ data: bytes.slice(), ...pdfjsData });
    let pages: PageTextResult[];
    try {
        // The page tree is counted before any page is read: one page referenced a million times is a million pages.
        const { total } = await parser.getInfo();
        if (total > limits.maxPages) throw limitExceeded("maxPages", limits, `has ${total.toLocaleString("en")} pages`);
        pages = (await parser.getText()).pages;
    } catch (error) {
        await parser.destroy();
        if (error instanceof UnreadableFileError) throw error;
        if (error instanceof PasswordException) {
            throw new UnreadableFileError(
                "This PDF is encrypted with a password. Remove the password (or print it to a new PDF) and ingest it again.",
                { cause: error },
            );
        }
        throw new UnreadableFileError("This file is not a valid PDF, or it is damaged, so its text cannot be read.", { cause: error });
    }
    try {
        return await use(parser, pages);
    } finally {
        await parser.destroy();
    }
}
