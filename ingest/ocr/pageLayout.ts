/** A rectangle of a picture, in pixels. */
export interface Region {
    left: number;
    top: number;
    width: number;
    height: number;
}

/** A greyscale picture, one byte a pixel, row by row. */
export interface GreyImage {
    data: Uint8Array;
    width: number;
    height: number;
}

/** Darker than this is ink. */
const INK = 160;
/** A white band must be this share of the picture's width (a gutter) or height (between blocks) to cut at. */
const MIN_GUTTER_SHARE = 0.015;
const MIN_BAND_SHARE = 0.015;
/** Each side of a gutter must be this share of its region's width: a margin note is not a column. */
const MIN_COLUMN_SHARE = 0.15;
/** Each side of a gutter must hold this many lines: a wide space inside one line is not a gutter. */
const MIN_COLUMN_LINES = 2;
/** White kept around a block, in pixels: the text detector needs some. */
const PADDING = 10;

/**
 * The blocks of a page in reading order, by recursive XY-cut on its pixels: a region is cut at a
 * white gutter that runs its whole height (columns, left to right), else at a white band across
 * its whole width (top to bottom) when that lets a part below or above it be cut into columns.
 * A page without columns is one block. Each block is read by OCR on its own: the text detector
 * otherwise joins the lines of two columns into one wherever the gutter is narrow.
 */
export function pageBlocks(image: GreyImage): Region[] {
    const whole = inkBounds(image, { left: 0, top: 0, width: image.width, height: image.height });
    if (whole == null) return [];
    const minGutter = Math.max(8, Math.round(image.width * MIN_GUTTER_SHARE));
    const minBand = Math.max(8, Math.round(image.height * MIN_BAND_SHARE));
    const blocks = split(image, whole, minGutter, minBand);
    return blocks.map((block) => pad(block, image));
}

function split(image: GreyImage, region: Region, minGutter: number, minBand: number): Region[] {
    const columns = cutAt(image, region, "vertical", minGutter);
    if (columns != null && columns.every((part) => part.width >= region.width * MIN_COLUMN_SHARE && lineCount(image, part) >= MIN_COLUMN_LINES)) {
        return columns.flatMap((part) => split(image, part, minGutter, minBand));
    }
    const bands = cutAt(image, region, "horizontal", minBand);
    if (bands == null) return [region];
    const parts = bands.map((part) => split(image, part, minGutter, minBand));
    // Bands with no columns in them stay one block: fewer, larger pictures for the detector.
    return parts.every((blocks) => blocks.length === 1) ? [region] : parts.flat();
}

/**
 * The region cut in two at its widest white run (across its whole height for `vertical`, its whole
 * width for `horizontal`) of at least `minRun` pixels, each part trimmed to its ink; undefined
 * when it has none.
 */
function cutAt(image: GreyImage, region: Region, direction: "vertical" | "horizontal", minRun: number): [Region, Region] | undefined {
    const vertical = direction === "vertical";
    const length = vertical ? region.width : region.height;
    const inkAt = (i: number) => (vertical ? columnHasInk(image, region, region.left + i) : rowHasInk(image, region, region.top + i));
    let best: { start: number; end: number } | undefined;
    let runStart = -1;
    for (let i = 0; i <= length; i++) {
        const white = i < length && !inkAt(i);
        if (white && runStart < 0) runStart = i;
        if (!white && runStart >= 0) {
            // Runs at the region's edges are margins, not gaps (a trimmed region has none).
            if (runStart > 0 && i < length && i - runStart >= minRun && (best == null || i - runStart > best.end - best.start)) best = { start: runStart, end: i };
            runStart = -1;
        }
    }
    if (best == null) return undefined;
    const first = vertical
        ? { ...region, width: best.start }
        : { ...region, height: best.start };
    const second = vertical
        ? { ...region, left: region.left + best.end, width: region.width - best.end }
        : { ...region, top: region.top + best.end, height: region.height - best.end };
    const parts = [inkBounds(image, first), inkBounds(image, second)];
    return parts[0] != null && parts[1] != null ? [parts[0], parts[1]] : undefined;
}

/** Rows of ink shorter than this are specks and rules, not lines of text. */
const MIN_LINE_PIXELS = 8;

/** Lines of text in a region: runs of rows with ink, between white rows, at least `MIN_LINE_PIXELS` high. */
function lineCount(image: GreyImage, region: Region): number {
    let lines = 0;
    let run = 0;
    for (let y = region.top; y <= region.top + region.height; y++) {
        if (y < region.top + region.height && rowHasInk(image, region, y)) {
            run++;
            continue;
        }
        if (run >= MIN_LINE_PIXELS) lines++;
        run = 0;
    }
    return lines;
}

function columnHasInk(image: GreyImage, region: Region, x: number): boolean {
    for (let y = region.top; y < region.top + region.height; y++) if (image.data[y * image.width + x]! < INK) return true;
    return false;
}

function rowHasInk(image: GreyImage, region: Region, y: number): boolean {
    const row = y * image.width;
    for (let x = region.left; x < region.left + region.width; x++) if (image.data[row + x]! < INK) return true;
    return false;
}

/** The smallest region holding all of `region`'s ink; undefined when it has none. */
function inkBounds(image: GreyImage, region: Region): Region | undefined {
    let left = Infinity;
    let right = -1;
    let top = Infinity;
    let bottom = -1;
    for (let y = region.top; y < region.top + region.height; y++) {
        const row = y * image.width;
        for (let x = region.left; x < region.left + region.width; x++) {
            if (image.data[row + x]! >= INK) continue;
            left = Math.min(left, x);
            right = Math.max(right, x);
            top = Math.min(top, y);
            bottom = Math.max(bottom, y);
        }
    }
    return right < 0 ? undefined : { left, top, width: right - left + 1, height: bottom - top + 1 };
}

function pad(region: Region, image: GreyImage): Region {
    const left = Math.max(0, region.left - PADDING);
    const top = Math.max(0, region.top - PADDING);
    return {
        left,
        top,
        width: Math.min(image.width, region.left + region.width + PADDING) - left,
        height: Math.min(image.height, region.top + region.height + PADDING) - top,
    };
}
