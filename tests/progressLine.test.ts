import assert from "node:assert/strict";
import { describe, it } from "node:test";
import stringWidth from "string-width";
import type { IngestProgress } from "../ingest/ingestFiles.js";
import { formatDuration, formatProgressLine, shortenMiddle } from "../src/cli/ingestProgressBar.js";

const progress: IngestProgress = {
    filesDone: 3, filesTotal: 12, chunksEmbedded: 418, bytesDone: 4_000_000, bytesTotal: 10_000_000,
    active: [
        { file: "年度报告/二〇二五年第三季度经营分析与下一年度预算编制说明（定稿）.pdf", stage: "embedding", chunksEmbedded: 96, chunks: 240 },
        { file: "notes.md", stage: "parsing", chunksEmbedded: 0, chunks: 0 },
    ],
};

describe("the ingest progress line", () => {
    for (const width of [200, 120, 79, 60, 40, 20]) {
        it(`fits ${width} columns, Chinese characters counted as two`, () => {
            const line = formatProgressLine(progress, "2m10s", width, 0.4);
            assert.ok(stringWidth(line) <= width, `${stringWidth(line)} columns: ${line}`);
            assert.match(line, /3\/12 files/);
        });
    }

    it("names the file under way with how far it has got, keeping the file name's end when it must be shortened", () => {
        const wide = formatProgressLine(progress, undefined, 200, 0.4);
        assert.match(wide, /418 chunks/);
        assert.match(wide, /年度报告\/二〇二五年第三季度经营分析与下一年度预算编制说明（定稿）\.pdf embedding 96\/240 \+1$/);
        const narrow = formatProgressLine(progress, undefined, 79, 0.4);
        assert.match(narrow, /…[^…]*定稿）\.pdf embedding 96\/240 \+1$/);
    });

    it("shows an ETA only when it is given, and a parsing file as parsing", () => {
        assert.doesNotMatch(formatProgressLine(progress, undefined, 120, 0.4), /ETA/);
        assert.match(formatProgressLine(progress, "9s", 120, 0.4), /ETA 9s/);
        assert.match(formatProgressLine({ ...progress, active: [progress.active[1]!] }, undefined, 120, 0.4), /notes\.md parsing$/);
    });

    it("shortens in the middle by columns and formats durations", () => {
        assert.equal(shortenMiddle("short.txt", 20), "short.txt");
        const shortened = shortenMiddle("很长的中文文件名称很长的中文文件名称.txt", 16);
        assert.ok(stringWidth(shortened) <= 16 && shortened.includes("…") && shortened.endsWith(".txt"), shortened);
        assert.deepEqual([formatDuration(9_400), formatDuration(130_000), formatDuration(7_500_000)], ["9s", "2m10s", "2h05m"]);
    });
});
