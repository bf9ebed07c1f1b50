import type { OcrLine } from "./ocrEngine.js";

/**
 * The text of one block's lines in reading order: the detector's boxes grouped into rows (a box
 * joins a row when its vertical middle lies within the row's height), rows top to bottom, the
 * boxes of a row left to right and joined by a space (the detector splits a line at wide gaps:
 * "尺度之所以不同，" and "部分是由于…"). Columns are told apart before this, on the page's pixels
 * (see `pageBlocks`).
 */
export function readingOrder(lines: readonly OcrLine[]): string[] {
    const rows: { top: number; bottom: number; boxes: OcrLine[] }[] = [];
    for (const line of [...lines].sort((a, b) => a.top - b.top || a.left - b.left)) {
        const middle = (line.top + line.bottom) / 2;
        const row = rows.find((candidate) => middle >= candidate.top && middle <= candidate.bottom);
        if (row != null) {
            row.boxes.push(line);
            row.top = Math.min(row.top, line.top);
            row.bottom = Math.max(row.bottom, line.bottom);
        } else {
            rows.push({ top: line.top, bottom: line.bottom, boxes: [line] });
        }
    }
    return rows.sort((a, b) => a.top - b.top)
        .map((row) => row.boxes.sort((a, b) => a.left - b.left).map((box) => box.text).join(" "));
}
