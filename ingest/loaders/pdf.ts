import { createRequire } from "node:module";
import path from "node:path";
import { PasswordException, PDFParse, type PageTextResult } from "pdf-parse";
import { UnreadableFileError } from "../../src/errors.js";
import { limitExceeded, type ParseLimits } from "../limits.js";
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

/** PDF text layer, one section per page that has text. Text is left as extracted, not normalised. */
export const loadPdf: Loader = async (bytes, _fileName, limits) => {
    const sections: LoadedSection[] = (await pageTexts(bytes, limits))
        .filter((page) => page.text.trim() !== "")
        .map((page) => ({ text: page.text, page: page.num }));
    if (sections.length === 0) {
        throw new UnreadableFileError(
            "This PDF has no text layer; its pages are probably scanned images. Run OCR on it first (for example with ocrmypdf) and ingest the result.",
        );
    }
    return { sections };
};

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

async function pageTexts(bytes: Uint8Array, limits: ParseLimits): Promise<PageTextResult[]> {
    checkObjectCount(bytes, limits);
    // pdf.js takes over (detaches) the buffer it is given; the caller's bytes must stay usable.
    const parser = new PDFParse({ data: bytes.slice(), ...pdfjsData });
    try {
        // The page tree is counted before any page is read: one page referenced a million times is a million pages.
        const { total } = await parser.getInfo();
        if (total > limits.maxPages) throw limitExceeded("maxPages", limits, `has ${total.toLocaleString("en")} pages`);
        return (await parser.getText()).pages;
    } catch (error) {
        if (error instanceof UnreadableFileError) throw error;
        if (error instanceof PasswordException) {
            throw new UnreadableFileError(
                "This PDF is encrypted with a password. Remove the password (or print it to a new PDF) and ingest it again.",
                { cause: error },
            );
        }
        throw new UnreadableFileError("This file is not a valid PDF, or it is damaged, so its text cannot be read.", { cause: error });
    } finally {
        await parser.destroy();
    }
}
