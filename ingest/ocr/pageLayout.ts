import { INK, InkMap, type GreyImage, type Region } from "./inkMap.js";

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
    ink: InkMap;
    /** The picture without its thin horizontal rules: where bands between blocks are looked for. */
    inkWithoutRules: InkMap;
    /** 1 for each row of the picture that held a rule. */
    ruled: Uint8Array;
    lineHeight: number;
    minGutter: number;
    minBand: number;
}

/**
 * The blocks of a page in reading order, by recursive XY-cut on its pixels: a region is cut at a
 * white gutter that runs its whole height (columns, left to right), else at the white bands
 * across its whole width (top to bottom), when that lets some of its parts be cut into columns.
 * Bands whose columns line up are read as one region first: a band that happens to cross a
 * sidebar and the main column beside it does not split them both in two. A page without columns
 * is one block, and so is a table. Gaps are measured against the page's line height, and thin
 * horizontal rules are ignored. Each block is read by OCR on its own: the text detector otherwise
 * joins the lines of two columns into one wherever the gutter is narrow.
 */
export function pageBlocks(picture: GreyImage): Region[] {
    const ink = new InkMap(picture);
    const whole = ink.inkBounds({ left: 0, top: 0, width: picture.width, height: picture.height });
    if (whole == null) return [];
    const line = lineHeight(ink, whole);
    const { image, ruled } = withoutRules(picture, line);
    const page: Page = {
        ink,
        inkWithoutRules: new InkMap(image),
        ruled,
        lineHeight: line,
        minGutter: Math.max(6, Math.round(line * MIN_GUTTER_LINES)),
        minBand: Math.max(6, Math.round(line * MIN_BAND_LINES)),
    };
    return split(page, whole).map((block) => pad(block, picture));
}

function split(page: Page, region: Region): Region[] {
    const columns = columnsOf(page, region);
    if (columns != null) return columns.every((part) => !isTable(page, part)) ? columns.flatMap((part) => split(page, part)) : [region];
    const bands = alignedBands(page, bandsOf(page, region));
    if (bands.length < 2) return [region];
    const parts = bands.map((part) => split(page, part));
    // Bands with no columns in them stay one block: fewer, larger pictures for the detector.
    return parts.some((blocks) => blocks.length > 1) ? parts.flat() : [region];
}

/** The region cut at each of its white bands, top to bottom, each part trimmed to its ink. */
function bandsOf(page: Page, region: Region): Region[] {
    // A rule separates what is above it from what is below, however close they are.
    const isBand = (gap: Gap) => gap.end - gap.start >= page.minBand || page.ruled.subarray(region.top + gap.start, region.top + gap.end).includes(1);
    const bands = gaps(page.inkWithoutRules, region, "horizontal", isBand).sort((a, b) => a.start - b.start);
    const edges = [0, ...bands.flatMap((band) => [band.start, band.end]), region.height];
    const parts: Region[] = [];
    for (let i = 0; i < edges.length; i += 2) {
        const part = page.ink.inkBounds({ ...region, top: region.top + edges[i]!, height: edges[i + 1]! - edges[i]! });
        if (part != null) parts.push(part);
    }
    return parts;
}

/**
 * The bands grouped where their columns line up: from each band on, the longest run of bands
 * that keeps a gutter open down through them all and has columns is one region. Then runs of
 * bands without columns are joined: one picture for the detector where there is no layout.
 */
function alignedBands(page: Page, bands: readonly Region[]): Region[] {
    const hasColumns = (part: Region) => columnsOf(page, part) != null;
    const aligned: Region[] = [];
    for (let i = 0; i < bands.length;) {
        // runs[k]: bands i to i + k, as long as a gutter stays open down through them all...
        const runs = [bands[i]!];
        for (let j = i + 1; j < bands.length; j++) {
            const longer = bounds(runs.at(-1)!, bands[j]!);
            if (!mayHaveGutter(page, longer)) break;
            runs.push(longer);
        }
        // ...and the longest of those with columns (a running footer may leave the gutter open but spoil the columns).
        let k = runs.length - 1;
        while (k > 0 && !hasColumns(runs[k]!)) k--;
        aligned.push(runs[k]!);
        i += k + 1;
    }
    return joinWhere(aligned, (both, last, band) => !hasColumns(last) && !hasColumns(band) && !hasColumns(both));
}

/** Whether `region` has a white run down it wide enough for a gutter, with a column's width each side of it (see `columnsOf`). */
function mayHaveGutter(page: Page, region: Region): boolean {
    const narrowest = Math.max(region.width * MIN_COLUMN_SHARE, page.lineHeight * MIN_COLUMN_WIDTH_LINES);
    for (let x = Math.ceil(region.left + narrowest), run = 0; x < region.left + region.width - narrowest; x++) {
        run = page.ink.columnHasInk(region, x) ? 0 : run + 1;
        if (run >= page.minGutter) return true;
    }
    return false;
}

/** Consecutive regions joined where `join` accepts the region holding both. */
function joinWhere(regions: readonly Region[], join: (both: Region, last: Region, next: Region) => boolean): Region[] {
    const joined: Region[] = [];
    for (const region of regions) {
        const last = joined.at(-1);
        if (last != null && join(bounds(last, region), last, region)) joined[joined.length - 1] = bounds(last, region);
        else joined.push(region);
    }
    return joined;
}

/**
 * The region cut in two at its widest gutter with a column each side: at least
 * `MIN_COLUMN_SHARE` of the region and `MIN_COLUMN_WIDTH_LINES` wide (with `narrowest`, any width
 * the share allows), holding `MIN_COLUMN_LINES` lines. Undefined when it has none.
 */
function columnsOf(page: Page, region: Region, narrowest = page.lineHeight * MIN_COLUMN_WIDTH_LINES): [Region, Region] | undefined {
    for (const gap of gaps(page.ink, region, "vertical", (gutter) => gutter.end - gutter.start >= page.minGutter)) {
        const parts = cut(page.ink, region, gap);
        const wide = gap.end - gap.start >= page.lineHeight * WIDE_GUTTER_LINES;
        if (!wide && region.height < page.lineHeight * NARROW_GUTTER_HEIGHT_LINES) continue;
        if (parts?.every((part) => part.width >= Math.max(region.width * MIN_COLUMN_SHARE, narrowest) && lineCount(page.ink, part) >= MIN_COLUMN_LINES)) return parts;
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
function gaps(ink: InkMap, region: Region, direction: "vertical" | "horizontal", isGap: (run: Gap) => boolean): Gap[] {
    const vertical = direction === "vertical";
    const length = vertical ? region.width : region.height;
    const found: Gap[] = [];
    let runStart = -1;
    for (let i = 0; i <= length; i++) {
        const white = i < length && !(vertical ? ink.columnHasInk(region, region.left + i) : ink.rowHasInk(region, region.top + i));
        if (white && runStart < 0) runStart = i;
        if (!white && runStart >= 0) {
            if (runStart > 0 && i < length && isGap({ start: runStart, end: i })) found.push({ start: runStart, end: i });
            runStart = -1;
        }
    }
    return found.sort((a, b) => (b.end - b.start) - (a.end - a.start));
}

/** The region cut in two at a vertical `gap`, each part trimmed to its ink. */
function cut(ink: InkMap, region: Region, gap: Gap): [Region, Region] | undefined {
    const left = ink.inkBounds({ ...region, width: gap.start });
    const right = ink.inkBounds({ ...region, left: region.left + gap.end, width: region.width - gap.end });
    return left != null && right != null ? [left, right] : undefined;
}

/** A copy of the picture with its thin horizontal rules made white (see `RULE_MIN_SHARE`), and the rows they were on. */
function withoutRules(image: GreyImage, lineHeight: number): { image: GreyImage; ruled: Uint8Array } {
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
    return { image: { data, width: image.width, height: image.height }, ruled };
}

/** Rows of ink shorter than this are specks and rules, not lines of text. */
const MIN_LINE_PIXELS = 8;

/** The heights of a region's lines of text: runs of rows with ink, between white rows, at least `MIN_LINE_PIXELS` high. */
function lineHeights(ink: InkMap, region: Region): number[] {
    const heights: number[] = [];
    let run = 0;
    for (let y = region.top; y <= region.top + region.height; y++) {
        if (y < region.top + region.height && ink.rowHasInk(region, y)) {
            run++;
            continue;
        }
        if (run >= MIN_LINE_PIXELS) heights.push(run);
        run = 0;
    }
    return heights;
}

const lineCount = (ink: InkMap, region: Region) => lineHeights(ink, region).length;

/**
 * The usual height of a line of text on the page: the median line height over narrow vertical
 * strips of it (across a whole page, lines of two columns at different heights would merge).
 */
function lineHeight(ink: InkMap, page: Region): number {
    const width = Math.ceil(page.width / LINE_HEIGHT_STRIPS);
    const heights: number[] = [];
    for (let left = page.left; left < page.left + page.width; left += width) {
        heights.push(...lineHeights(ink, { ...page, left, width: Math.min(width, page.left + page.width - left) }));
    }
    heights.sort((a, b) => a - b);
    return heights[Math.floor(heights.length / 2)] ?? 0;
}

/** The smallest region holding both. */
function bounds(a: Region, b: Region): Region {
    const left = Math.min(a.left, b.left);
    const top = Math.min(a.top, b.top);
    return { left, top, width: Math.max(a.left + a.width, b.left + b.width) - left, height: Math.max(a.top + a.height, b.top + b.height) - top };
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
