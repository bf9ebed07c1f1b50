import mammoth from "mammoth";
import { parseHTML } from "linkedom";
import { UnreadableFileError } from "../../src/errors.js";
import { imageFormatOf } from "../ocr/images.js";
import type { OcrText } from "../ocr/ocrReader.js";
import { domToSections, type DomNode } from "./html.js";
import { checkArchive } from "./archive.js";
import type { LoadedSection, Loader } from "./types.js";

/** How a picture is marked in mammoth's HTML until its text is known. */
const PICTURE_MARK = "yizhi-picture:";

/**
 * Word .docx, through mammoth's HTML: sections under the document's headings, tables as " | " rows.
 * Pictures in it (a scan pasted into a report) are read by OCR, their text in their place, unless
 * `ocr` is `off`; a section holding such text says so.
 */
export const loadDocx: Loader = async (bytes, _fileName, limits, { ocr }) => {
    checkArchive(bytes, limits);
    const pictures: Uint8Array[] = [];
    // Only the pictures' bytes are kept, not their data: URLs, which mammoth would otherwise write for every one.
    const collectPicture = mammoth.images.imgElement(async (image) => {
        if (ocr.settings.mode === "off") return { src: "" };
        const picture = new Uint8Array(await image.readAsBuffer());
        if (imageFormatOf(picture) == null) return { src: "" }; // a drawing (EMF, WMF, SVG): no pixels to read
        pictures.push(picture);
        return { src: `${PICTURE_MARK}${pictures.length - 1}` };
    });
    let html: string;
    try {
        ({ value: html } = await mammoth.convertToHtml(
            { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
            { convertImage: collectPicture },
        ));
    } catch (error) {
        throw new UnreadableFileError(
            "This file is not a valid Word .docx document, or it is damaged. (An older .doc file must be saved as .docx first.)",
            { cause: error },
        );
    }

    const read: OcrText[] = [];
    for (const [i, picture] of pictures.entries()) {
        ocr.progress(i, pictures.length);
        read.push(await ocr.read(picture));
    }
    if (pictures.length > 0) ocr.progress(pictures.length, pictures.length);
    const withText = html.replace(new RegExp(`<img[^>]*src="${PICTURE_MARK}(\\d+)"[^>]*>`, "g"), (_, i: string) => {
        const text = read[Number(i)]?.text ?? "";
        return text !== "" ? `<p>${escapeHtml(text).replace(/\n/g, "<br>")}</p>` : "";
    });
    const { document }: { document: { body: DomNode } } = parseHTML(`<!DOCTYPE html><html><body>${withText}</body></html>`);
    return { sections: markOcrSections(domToSections(document.body), read) };
};

/** Sections holding the text of a picture read by OCR, with that reading's confidence (the lowest, if several). */
function markOcrSections(sections: LoadedSection[], read: readonly OcrText[]): LoadedSection[] {
    return sections.map((section) => {
        const confidences = read.filter(({ text }) => text !== "" && section.text.includes(text.split("\n")[0]!)).map(({ confidence }) => confidence);
        return confidences.length > 0 ? { ...section, ocr: { confidence: Math.min(...confidences) } } : section;
    });
}

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
