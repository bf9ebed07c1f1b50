import sharp from "sharp";
import { UnreadableFileError } from "../../src/errors.js";
import type { GreyImage, Region } from "./inkMap.js";

export type ImageFormat = "png" | "jpeg" | "webp" | "tiff" | "bmp";

/** File extensions of the pictures Yizhi reads by OCR. */
export const imageExtensions: Readonly<Record<string, ImageFormat>> = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp",
};

/** A picture's format from its first bytes, whatever its name says; undefined when it is none of these. */
export function imageFormatOf(bytes: Uint8Array): ImageFormat | undefined {
    const starts = (...signature: number[]) => signature.every((byte, i) => bytes[i] === byte);
    if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
    if (starts(0xff, 0xd8, 0xff)) return "jpeg";
    if (starts(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return "webp";
    if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "tiff";
    if (starts(0x42, 0x4d)) return "bmp";
    return undefined;
}

export interface PreparedImage {
    png: Uint8Array;
    /** The same pixels in grey, for the page's layout. */
    grey: GreyImage;
}

/**
 * A picture made ready for OCR: decoded by sharp (libvips; TIFF too, which crashes the canvas
 * library pdf-parse brings), turned upright by its EXIF orientation (photos of pages), scaled down
 * to at most `maxSide` pixels on its long side, as PNG. The decoder reads at most `maxPixels`.
 */
export async function prepareImage(bytes: Uint8Array, { maxSide, maxPixels }: { maxSide: number; maxPixels: number }): Promise<PreparedImage> {
    const format = imageFormatOf(bytes);
    if (format == null) throw new UnreadableFileError("This file is not a PNG, JPEG, WebP, TIFF or BMP picture, or it is damaged.");
    try {
        const input = format === "bmp" ? decodeBmp(bytes, maxPixels) : sharp(bytes, { limitInputPixels: maxPixels, failOn: "error" });
        const upright = input.rotate().resize({ width: maxSide, height: maxSide, fit: "inside", withoutEnlargement: true });
        const png = await upright.clone().png({ compressionLevel: 1 }).toBuffer();
        const { data, info } = await upright.greyscale().raw().toBuffer({ resolveWithObject: true });
        return { png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), grey: { data, width: info.width, height: info.height } };
    } catch (error) {
        if (error instanceof UnreadableFileError) throw error;
        const message = (error as Error).message;
        if (/pixel limit/i.test(message)) {
            throw new UnreadableFileError(`This picture has more than ${maxPixels.toLocaleString("en")} pixels, more than OCR reads (setting maxImagePixels).`, { cause: error });
        }
        throw new UnreadableFileError(`This picture (${format}) is damaged, so it cannot be read: ${message}`, { cause: error });
    }
}

/**
 * An uncompressed 24- or 32-bit Windows bitmap (what scanners and Paint write), which libvips does
 * not read, as a sharp image.
 */
function decodeBmp(bytes: Uint8Array, maxPixels: number): sharp.Sharp {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 54) throw new UnreadableFileError("This BMP picture is damaged: it is shorter than its header.");
    const dataOffset = view.getUint32(10, true);
    const width = view.getInt32(18, true);
    const rawHeight = view.getInt32(22, true);
    const bitsPerPixel = view.getUint16(28, true);
    const compression = view.getUint32(30, true);
    const height = Math.abs(rawHeight);
    if (width <= 0 || height === 0 || (bitsPerPixel !== 24 && bitsPerPixel !== 32) || (compression !== 0 && compression !== 3)) {
        throw new UnreadableFileError("This BMP picture is compressed or paletted, which Yizhi does not read; save it as PNG.");
    }
    if (width * height > maxPixels) {
        throw new UnreadableFileError(`This picture has more than ${maxPixels.toLocaleString("en")} pixels, more than OCR reads (setting maxImagePixels).`);
    }
    const bytesPerPixel = bitsPerPixel / 8;
    const rowBytes = Math.ceil(width * bytesPerPixel / 4) * 4;
    if (dataOffset + rowBytes * height > bytes.length) throw new UnreadableFileError("This BMP picture is damaged: its pixels are cut short.");
    const rgb = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
        // Rows are stored bottom-up unless the height is negative.
        const source = dataOffset + (rawHeight > 0 ? height - 1 - y : y) * rowBytes;
        for (let x = 0; x < width; x++) {
            const from = source + x * bytesPerPixel;
            const to = (y * width + x) * 3;
            rgb[to] = bytes[from + 2]!;
            rgb[to + 1] = bytes[from + 1]!;
            rgb[to + 2] = bytes[from]!;
        }
    }
    return sharp(rgb, { raw: { width, height, channels: 3 } });
}

/** A region of a PNG, as a PNG. */
export async function cropPng(png: Uint8Array, region: Region): Promise<Uint8Array> {
    const cropped = await sharp(png).extract(region).png({ compressionLevel: 1 }).toBuffer();
    return new Uint8Array(cropped.buffer, cropped.byteOffset, cropped.byteLength);
}
