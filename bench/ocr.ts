/**
 * OCR benchmark, all measured side by side in one run:
 *
 *  1. reading order: character error rate of the recogniser's own order, of rows across the whole
 *     page, and of the shipped order (recursive XY-cut on the page's pixels, then rows in each
 *     block), on the two-column and table fixtures (tests/fixtures/ocr, against their
 *     transcription) and on pages of real multi-column PDFs rendered as pictures (against their
 *     text layers, which these PDFs hold in reading order);
 *  2. speed: pages per second reading the 8-page scanned fixture through a parser process (one OCR
 *     thread), and the parser process's peak resident memory;
 *  3. questions while a scan is read: latency of questions (retrieval only, and whole answers with
 *     the test model) while copies of the scanned fixture (`--pages`, default 100) are ingested,
 *     against the same questions with nothing ingested.
 *
 *   npm run bench:ocr -- [--pages 100] [--questions 20] [--only order,speed,latency]
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { defaultParseLimits } from "../ingest/limits.js";
import { loadPdf, renderPageForOcr } from "../ingest/loaders/pdf.js";
import { prepareImage } from "../ingest/ocr/images.js";
import { defaultOcrSettings } from "../ingest/ocr/ocrEngine.js";
import { OCR_LONG_SIDE, OcrReader } from "../ingest/ocr/ocrReader.js";
import { sharedPaddleOcrEngine } from "../ingest/ocr/paddleOcrEngine.js";
import { pageBlocks } from "../ingest/ocr/pageLayout.js";
import { readingOrder } from "../ingest/ocr/readingOrder.js";
import { ParserPool } from "../ingest/sandbox/parserPool.js";
import { Yizhi } from "../src/yizhi.js";
import { benchConfig, log, table } from "./retrievalBench.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const ocrFixtures = path.join(repoRoot, "tests", "fixtures", "ocr");
const sharedFixtures = path.resolve(repoRoot, "../shared/fixtures");
const scannedPdf = path.join(sharedFixtures, "zh/pdf/scanned_zh_small_ocr.pdf");
const SCAN_PAGES = 8;
const questionDocs = ["zh/md/zh_llm_inference_optimization.md", "zh/md/zh_llm_tech_stack_algorithms.md"].map((file) => path.join(sharedFixtures, file));
const questions = ["什么是KV Cache？", "大模型推理如何优化显存？", "量化有哪些方法？", "什么是Flash Attention？", "模型并行和数据并行有什么区别？"];

/** Text as compared: NFKC (full-width and half-width forms are one character; ligatures split), without white space. */
const comparable = (text: string) => [...text.normalize("NFKC").replace(/\s+/g, "")];

/** Levenshtein distance. */
function editDistance(x: readonly string[], y: readonly string[]): number {
    let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const current = [i];
        for (let j = 1; j <= y.length; j++) {
            current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[y.length]!;
}

const cer = (hypothesis: string, reference: string) => `${(editDistance(comparable(hypothesis), comparable(reference)) / comparable(reference).length * 100).toFixed(1)} %`;
const median = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const p95 = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
};
const ms = (value: number) => value.toFixed(0);

/** Pages of real multi-column PDFs whose text layers are in reading order, and what is on them. */
const layoutPages: { file: string; page: number; layout: string }[] = [
    { file: "en/pdf/en_dpr_paper_two_column.pdf", page: 1, layout: "title and abstract across, then two columns" },
    { file: "en/pdf/en_dpr_paper_two_column.pdf", page: 2, layout: "two columns" },
    { file: "en/pdf/en_ieee_two_column_paper.pdf", page: 2, layout: "two columns, equations" },
    { file: "zh/pdf/zh_securities_research_report_688556.pdf", page: 1, layout: "sidebar and main column" },
    { file: "zh/pdf/zh_securities_research_report_688556.pdf", page: 3, layout: "two tables side by side, each with rules" },
    { file: "zh/pdf/zh_securities_research_report_688556.pdf", page: 4, layout: "one column, a box beside a table" },
];

async function readingOrderRows(): Promise<string[][]> {
    const engine = await sharedPaddleOcrEngine(1);
    const reader = new OcrReader({ settings: defaultOcrSettings, maxImagePixels: defaultParseLimits.maxImagePixels, engine: () => Promise.resolve(engine) });
    const measure = async (name: string, layout: string, picture: Uint8Array, reference: string) => {
        const { png, grey } = await prepareImage(picture, { maxSide: OCR_LONG_SIDE, maxPixels: defaultParseLimits.maxImagePixels });
        const lines = await engine.recognize(png);
        return [name, layout, String(pageBlocks(grey).length), cer(lines.map((line) => line.text).join(""), reference), cer(readingOrder(lines).join(""), reference), cer((await reader.read(picture)).text, reference)];
    };
    const rows: string[][] = [];
    for (const [name, layout] of [["zh_two_columns", "two columns (a scan's lines side by side)"], ["zh_table_without_rules", "a table without rules"]] as const) {
        log(`reading order: tests/fixtures/ocr/${name}.png`);
        const picture = new Uint8Array(await fs.readFile(path.join(ocrFixtures, `${name}.png`)));
        rows.push(await measure(`tests/fixtures/ocr/${name}.png`, layout, picture, await fs.readFile(path.join(ocrFixtures, `${name}.txt`), "utf8")));
    }
    for (const { file, page, layout } of layoutPages) {
        log(`reading order: ${file} page ${page}`);
        const bytes = new Uint8Array(await fs.readFile(path.join(sharedFixtures, file)));
        const textLayer = await loadPdf(bytes, file, defaultParseLimits, { ocr: new OcrReader({ settings: { ...defaultOcrSettings, mode: "off" }, maxImagePixels: defaultParseLimits.maxImagePixels, engine: () => Promise.resolve(engine) }) });
        const reference = textLayer.sections.find((section) => section.page === page)?.text ?? "";
        rows.push(await measure(`${file} p. ${page}`, layout, await renderPageForOcr(bytes, page), reference));
    }
    return rows;
}

/** Peak resident memory of the process `pid`, sampled every 100 ms until `done` settles. */
async function peakRss(pids: () => number[], done: Promise<unknown>): Promise<number> {
    let peak = 0;
    let finished = false;
    const finish = () => (finished = true);
    done.then(finish, finish);
    while (!finished) {
        for (const pid of pids()) {
            const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
            const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
            peak = Math.max(peak, kb * 1024);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return peak;
}

/** Children of this process whose command line names the parser process. */
async function parserPids(): Promise<number[]> {
    const pids: number[] = [];
    for (const entry of await fs.readdir("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
        const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
        if (cmdline.includes("parserProcess") && Number(stat.split(") ")[1]?.split(" ")[1]) === process.pid) pids.push(Number(entry));
    }
    return pids;
}

async function speedRow(): Promise<string[]> {
    const pool = new ParserPool({ limits: defaultParseLimits, ocr: defaultOcrSettings, processes: 1, timeoutMs: 600_000 });
    try {
        const bytes = new Uint8Array(await fs.readFile(scannedPdf));
        let pids: number[] = [];
        const started = performance.now();
        const parsing = pool.parse({ bytes, fileName: "scan.pdf" }, { chunkSize: 400, chunkOverlap: 50 });
        const refresh = setInterval(() => void parserPids().then((found) => (pids = found)), 500);
        const peak = await peakRss(() => pids, parsing);
        clearInterval(refresh);
        await parsing;
        const seconds = (performance.now() - started) / 1000;
        return [String(SCAN_PAGES), seconds.toFixed(1), (SCAN_PAGES / seconds).toFixed(3), (seconds / SCAN_PAGES).toFixed(1), `${Math.round(peak / 1024 / 1024)} MB`];
    } finally {
        await pool.dispose();
    }
}

async function latencyRows(pages: number, questionCount: number): Promise<{ rows: string[][]; ingest: string }> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-ocr-"));
    const scans = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-scans-"));
    const yizhi = new Yizhi(benchConfig(dataDir, { maxAnswerTokens: 32 }));
    try {
        await yizhi.knowledgeBases.ingest("docs", questionDocs);
        const copies = Math.ceil(pages / SCAN_PAGES);
        // Each copy is a document of its own, read by OCR again (a different path).
        for (let i = 0; i < copies; i++) await fs.copyFile(scannedPdf, path.join(scans, `scan-${String(i).padStart(3, "0")}.pdf`));

        const measure = async (stop: () => boolean, minimum: number) => {
            const search: number[] = [];
            const answer: number[] = [];
            for (let i = 0; i < minimum || !stop(); i++) {
                const question = questions[i % questions.length]!;
                let started = performance.now();
                await yizhi.knowledgeBases.search("docs", { question });
                search.push(performance.now() - started);
                started = performance.now();
                await yizhi.knowledgeBases.ask("docs", { question });
                answer.push(performance.now() - started);
            }
            return { search, answer };
        };
        await measure(() => true, 3); // warm: the models load
        log(`latency: idle, ${questionCount} questions`);
        const idle = await measure(() => true, questionCount);
        log(`latency: while ${copies * SCAN_PAGES} scanned pages are ingested`);
        let ingesting = true;
        const started = performance.now();
        const ingest = yizhi.knowledgeBases.ingest("scans", [scans]).finally(() => (ingesting = false));
        const during = await measure(() => !ingesting, questionCount);
        const report = await ingest;
        const seconds = (performance.now() - started) / 1000;
        const stored = report.files.filter((file) => file.status === "ingested").length;
        const failed = report.files.filter((file) => file.status === "failed").length;
        const rows = (["search", "answer"] as const).map((kind) => [
            kind === "search" ? "retrieval (search)" : "whole answer (ask, test model)",
            String(idle[kind].length), ms(median(idle[kind])), ms(p95(idle[kind])),
            String(during[kind].length), ms(median(during[kind])), ms(p95(during[kind])),
            (median(during[kind]) / median(idle[kind])).toFixed(2),
        ]);
        return {
            rows,
            ingest: `${copies} copies (${copies * SCAN_PAGES} pages), each read by OCR, in ${seconds.toFixed(0)} s: ${(copies * SCAN_PAGES / seconds).toFixed(3)} pages/s ` +
                `with ${yizhi.config.parseProcesses} parser processes (${stored} stored, ${copies - stored - failed} found to hold the first one's text, ${failed} failed)`,
        };
    } finally {
        await yizhi.dispose();
        await fs.rm(dataDir, { recursive: true, force: true });
        await fs.rm(scans, { recursive: true, force: true });
    }
}

const parts = ["order", "speed", "latency"] as const;
type Part = (typeof parts)[number];

async function main(): Promise<void> {
    const { values } = parseArgs({
        args: process.argv.slice(2),
        options: { pages: { type: "string", default: "100" }, questions: { type: "string", default: "20" }, only: { type: "string", default: parts.join(",") } },
        strict: true,
    });
    const pages = Number(values.pages);
    const questionCount = Number(values.questions);
    if (!Number.isInteger(pages) || pages < 1 || !Number.isInteger(questionCount) || questionCount < 1) throw new Error("--pages and --questions take whole numbers ≥ 1");
    const only = new Set(values.only.split(",").map((part) => part.trim()));
    const unknown = [...only].filter((part) => !parts.includes(part as Part));
    if (unknown.length > 0) throw new Error(`--only takes ${parts.join(", ")}, not ${unknown.join(", ")}`);

    const out = [
        "# OCR benchmark\n",
        `PP-OCRv4 (Chinese) on ONNX Runtime's CPU library, ${defaultOcrSettings.threads} thread, pages rendered ${OCR_LONG_SIDE} px on their long side at most; ${os.cpus().length} cores.\n`,
    ];
    if (only.has("order")) {
        out.push(
            "## Reading order (character error rate, after NFKC and without white space)\n",
            "Against the fixtures' transcriptions (tests/fixtures/ocr/*.txt), and against each PDF page's text layer; the recogniser's own errors are in every column.\n",
            table(["page", "layout", "blocks found", "recogniser's order", "rows across the page", "XY-cut, then rows (shipped)"], await readingOrderRows()),
        );
    }
    if (only.has("speed")) {
        log("speed");
        out.push("\n## Speed (the 8-page scanned fixture, one parser process)\n", table(["pages", "seconds", "pages/s", "s/page", "parser process peak RSS"], [await speedRow()]));
    }
    if (only.has("latency")) {
        const latency = await latencyRows(pages, questionCount);
        out.push(
            "\n## Questions while scanned pages are read by OCR\n",
            `${latency.ingest}.\n`,
            table(["request", "idle n", "idle median ms", "idle p95 ms", "during n", "during median ms", "during p95 ms", "median during / idle"], latency.rows),
        );
    }
    process.stdout.write(`${out.join("\n")}\n`);
}

await main();
