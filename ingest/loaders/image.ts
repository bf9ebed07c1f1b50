import { UnreadableFileError } from "../../src/errors.js";
import type { Loader } from "./types.js";

/**
 * A picture (a photo or a scan of a page: PNG, JPEG, WebP, TIFF, BMP, told apart by their bytes,
 * not their names), read by OCR as one page. With `ocr` set to `off`, pictures are not read.
 */
export const loadImage: Loader = async (bytes, _fileName, _limits, { ocr }) => {
    if (ocr.settings.mode === "off") {
        throw new UnreadableFileError("This is a picture, and OCR is off (setting ocr), so its text cannot be read.");
    }
    ocr.progress(0, 1);
    const { text, confidence } = await ocr.read(bytes);
    ocr.progress(1, 1);
    if (text.trim() === "") throw new UnreadableFileError("OCR found no text in this picture.");
    return { sections: [{ text, ocr: { confidence } }] };
};
