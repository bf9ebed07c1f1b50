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
/**
 * Gaps are measured in lines of text (see `lineHeight`). A gutter at least this wide is a gutter
 * wherever it runs past a few lines: gaps inside lines (after a full-width comma, between
 * spaced-out characters) are up to about one character wide, and line up only by chance.
 */
const WIDE_GUTTER_LINES = 1;
/** A narrower gutter (a sidebar's, often about half a character) counts only where it runs `NARROW_GUTTER_HEIGHT_LINES` down. */
const MIN_GUTTER_LINES = 0.5;
const NARROW_GUTTER_HEIGHT_LINES = 8;
/** A white band across a region at least this high may separate blocks (the space between lines is less). */
const MIN_BAND_LINES = 0.75;
/** Lines of text each side of a gutter must hold. */
const MIN_COLUMN_LINES = 3;
/** Each side of a gutter must be this share of its region's width: a margin note is not a column. */
const MIN_COLUMN_SHARE = 0.15;
/**
 * A column of text is at least this many lines wide (10 Chinese characters, about 20 Latin
 * letters); the columns of a table are narrower. A table is read row by row: a region that cuts
 * into narrower columns is not cut at all, and neither is one beside it.
 */
const MIN_COLUMN_WIDTH_LINES = 10;
/** Vertical strips the page is measured in for its line height: most lie within one column. */
const LINE_HEIGHT_STRIPS = 8;
/**
 * A horizontal rule (under a running head, between a table's rows) is a run of ink at least this
 * share of the page's width and this many lines long, and at most `RULE_THICKNESS_LINES` thick.
 * Bands between blocks are looked for without rules (a running head's would close the band above
 * a page's columns); gutters, with them (a rule across a table's columns holds them together).
 */
const RULE_MIN_SHARE = 0.1;
const RULE_MIN_LINES = 5;
const RULE_THICKNESS_LINES = 0.25;
/** White kept around a block, in pixels: the text detector needs some. */
const PADDING = 10;

/** A page being cut into blocks, and what its gaps are measured against, in pixels. */
interface Page {
    image: GreyImage;
    /** The picture without its thin horizontal rules: where bands between blocks are looked for. */
    withoutRules: GreyImage;
    /** 1 for each row of the picture that held a rule. */
    ruled: Uint8Array;
    lineHeight: number;
    minGutter: number;
    minBand: number;
}

/**
 * The blocks of a page in reading order, by recursive XY-cut on its pixels: a region is cut at a
 * white gutter that runs its whole height (columns, left to right), else at a white band across
 * its whole width (top to bottom) when that lets a part below or above it be cut into columns.
 * A page without columns is one block, and so is a table. Gaps are measured against the page's
 * line height, and thin horizontal rules are ignored. Each block is read by OCR on its own: the
 * text detector otherwise joins the lines of two columns into one wherever the gutter is narrow.
 */
export function pageBlocks(picture: GreyImage): Region[] {
    const whole = inkBounds(picture, { left: 0, top: 0, width: picture.width, height: picture.height });
    if (whole == null) return [];
    const line = lineHeight(picture, whole);
    const page: Page = {
        image: picture,
        ...withoutRules(picture, line),
        lineHeight: line,
        minGutter: Math.max(6, Math.round(line * MIN_GUTTER_LINES)),
        minBand: Math.max(6, Math.round(line * MIN_BAND_LINES)),
    };
    return split(page, whole).map((block) => pad(block, picture));
}

function split(page: Page, region: Region): Region[] {
    const columns = columnsOf(page, region);
    if (columns != null) {
        if (columns.every((part) => !isTable(page, part))) return columns.flatMap((part) => split(page, part));
    } else {
        // A rule separates what is above it from what is below, however close they are.
        const isBand = (gap: Gap) => gap.end - gap.start >= page.minBand || page.ruled.subarray(region.top + gap.start, region.top + gap.end).includes(1);
        const [band] = gaps(page.withoutRules, region, "horizontal", isBand);
        const bands = band == null ? undefined : cut(page.image, region, "horizontal", band);
        if (bands != null) {
            const parts = bands.map((part) => split(page, part));
            // Bands with no columns in them stay one block: fewer, larger pictures for the detector.
            if (parts.some((blocks) => blocks.length > 1)) return parts.flat();
        }
    }
    return [region];
}

/**
 * The region cut in two at its widest gutter with a column each side: at least
 * `MIN_COLUMN_SHARE` of the region and `MIN_COLUMN_WIDTH_LINES` wide (with `narrowest`, any width
 * the share allows), holding `MIN_COLUMN_LINES` lines. Undefined when it has none.
 */
function columnsOf(page: Page, region: Region, narrowest = page.lineHeight * MIN_COLUMN_WIDTH_LINES): [Region, Region] | undefined {
    for (const gap of gaps(page.image, region, "vertical", (gutter) => gutter.end - gutter.start >= page.minGutter)) {
        const parts = cut(page.image, region, "vertical", gap);
        const wide = gap.end - gap.start >= page.lineHeight * WIDE_GUTTER_LINES;
        if (!wide && region.height < page.lineHeight * NARROW_GUTTER_HEIGHT_LINES) continue;
        if (parts?.every((part) => part.width >= Math.max(region.width * MIN_COLUMN_SHARE, narrowest) && lineCount(page.image, part) >= MIN_COLUMN_LINES)) return parts;
    }
    return undefined;
}

/** Whether a region cuts into columns narrower than a column of text: a table's. */
function isTable(page: Page, region: Region): boolean {
    const parts = columnsOf(page, region, 0);
    return parts != null && parts.some((part) => part.width < page.lineHeight * MIN_COLUMN_WIDTH_LINES || isTable(page, part));
}

/** A white run across a region, from `start` to `end` pixels into it. */
interface Gap {
    start: number;
    end: number;
}

/**
 * The region's white runs (across its whole height for `vertical`, its whole width for
 * `horizontal`) that `isGap` accepts, widest first. Runs at its edges are margins, not
 * gaps (a region trimmed to its ink has none).
 */
function gaps(image: GreyImage, region: Region, direction: "vertical" | "horizontal", isGap: (run: Gap) => boolean): Gap[] {
    const vertical = direction === "vertical";
    const length = vertical ? region.width : region.height;
    const found: Gap[] = [];
    let runStart = -1;
    for (let i = 0; i <= length; i++) {
        const white = i < length && !(vertical ? columnHasInk(image, region, region.left + i) : rowHasInk(image, region, region.top + i));
        if (white && runStart < 0) runStart = i;
        if (!white && runStart >= 0) {
            if (runStart > 0 && i < length && isGap({ start: runStart, end: i })) found.push({ start: runStart, end: i });
            runStart = -1;
        }
    }
    return found.sort((a, b) => (b.end - b.start) - (a.end - a.start));
}

/** The region cut in two at `gap`, each part trimmed to its ink. */
function cut(image: GreyImage, region: Region, direction: "vertical" | "horizontal", gap: Gap): [Region, Region] | undefined {
    const [first, second] = direction === "vertical"
        ? [{ ...region, width: gap.start }, { ...region, left: region.left + gap.end, width: region.width - gap.end }]
        : [{ ...region, height: gap.start }, { ...region, top: region.top + gap.end, height: region.height - gap.end }];
    const parts = [inkBounds(image, first), inkBounds(image, second)];
    return parts[0] != null && parts[1] != null ? [parts[0], parts[1]] : undefined;
}

/** A copy of the picture with its thin horizontal rules made white (see `RULE_MIN_SHARE`), and the rows they were on. */
function withoutRules(image: GreyImage, lineHeight: number): Pick<Page, "withoutRules" | "ruled"> {
    const minLength = Math.max(Math.round(image.width * RULE_MIN_SHARE), Math.round(lineHeight * RULE_MIN_LINES));
    const maxThickness = Math.max(3, Math.round(lineHeight * RULE_THICKNESS_LINES));
    // A copy: the picture's data may be a Buffer, whose slice() is a view of the same memory.
    const data = new Uint8Array(image.data);
    const ruled = new Uint8Array(image.height);
    // Long runs of ink, row by row; a stack of more than `maxThickness` such rows is a filled box, not a rule.
    let stack: [number, number, number][] = [];
    const eraseIfThin = () => {
        const rows = new Set(stack.map(([y]) => y));
        if (rows.size <= maxThickness) {
            for (const [y, from, to] of stack) {
                data.fill(255, y * image.width + from, y * image.width + to);
                ruled[y] = 1;
            }
        }
        stack = [];
    };
    for (let y = 0; y < image.height; y++) {
        const row = y * image.width;
        const runs: [number, number, number][] = [];
        let start = -1;
        for (let x = 0; x <= image.width; x++) {
            const ink = x < image.width && image.data[row + x]! < INK;
            if (ink && start < 0) start = x;
            if (!ink && start >= 0) {
                if (x - start >= minLength) runs.push([y, start, x]);
                start = -1;
            }
        }
        if (runs.length === 0) eraseIfThin();
        else stack.push(...runs);
    }
    eraseIfThin();
    return { withoutRules: { data, width: image.width, height: image.height }, ruled };
}

/** Rows of ink shorter than this are specks and rules, not lines of text. */
const MIN_LINE_PIXELS = 8;

/** The heights of a region's lines of text: runs of rows with ink, between white rows, at least `MIN_LINE_PIXELS` high. */
function lineHeights(image: GreyImage, region: Region): number[] {
    const heights: number[] = [];
    let run = 0;
    for (let y = region.top; y <= region.top + region.height; y++) {
        if (y < region.top + region.height && rowHasInk(image, region, y)) {
            run++;
            continue;
        }
        if (run >= MIN_LINE_PIXELS) heights.push(run);
        run = 0;
    }
    return heights;
}

const lineCount = (image: GreyImage, region: Region) => lineHeights(image, region).length;

/**
 * The usual height of a line of text on the page: the median line height over narrow vertical
 * strips of it (across a whole page, lines of two columns at different heights would merge).
 */
function lineHeight(image: GreyImage, page: Region): number {
    const width = Math.ceil(page.width / LINE_HEIGHT_STRIPS);
    const heights: number[] = [];
    for (let left = page.left; left < page.left + page.width; left += width) {
        heights.push(...lineHeights(image, { ...page, left, width: Math.min(width, page.left + page.width - left) }));
    }
    heights.sort((a, b) => a - b);
    return heights[Math.floor(heights.length / 2)] ?? 0;
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
