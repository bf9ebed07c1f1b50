/**
 * Ingest throughput benchmark: ingests each corpus into a fresh knowledge base through the real
 * `Yizhi` code path and the real test model, and prints Markdown tables.
 *
 *   npm run bench:ingest -- [--corpus fixtures|news|scans|articles|all] [--threads N] [--embedding-context TOKENS]
 *                           [--embedding-contexts N,N,...] [--llama-server] [--chunk-size CHARS] [--runs N] [--limit-bytes N]
 *
 * `--embedding-contexts 1,2,4` runs each corpus once per count of parallel embedding contexts,
 * side by side, with each one's speed-up over the first; `--llama-server` adds a row embedding through
 * llama.cpp's llama-server (built by scripts/build-llama-server.sh) serving the same model on loopback,
 * in batches of `embeddingBatchSize` texts. It embeds whole chunks (it cannot truncate them), so for
 * a fair comparison give `--embedding-context` room for a chunk and a small `--chunk-size`. `--corpus articles` ingests the news
 * file's articles, 5 copies of each, once as 5 files and once as one file per article, side by
 * side: what a commit costs as the knowledge base grows shows in the second's time per chunk.
 * `--corpus scans` ingests the 8-page scanned PDF, every page read by OCR: its row gives OCR pages/s.
 * Peak memory is measured on one more ingest of each corpus by the built CLI: `npm run build` first.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { collectFiles } from "../ingest/collectFiles.js";
import type { FileOutcome } from "../ingest/ingestFiles.js";
import { defaultParseLimits } from "../ingest/limits.js";
import { defaultOcrSettings } from "../ingest/ocr/ocrEngine.js";
import { loaderFor } from "../ingest/loaders/index.js";
import { parseFile } from "../ingest/parseFile.js";
import type { SplitterOptions } from "../ingest/splitter.js";
import { envNames, loadConfig } from "../src/config/loadConfig.js";
import { LlamaEmbeddings } from "../src/models/local/llamaEmbeddings.js";
import type { Config, ConfigInput, ConfigKey } from "../src/config/schema.js";
import { Yizhi } from "../src/yizhi.js";
import { startLlamaServer } from "../tests/llamaServer.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const sharedDir = path.resolve(repoRoot, "../shared");
const modelPath = path.join(sharedDir, "models", "stories260K.gguf");
const fixturesDir = path.join(sharedDir, "fixtures");
const newsFile = path.join(fixturesDir, "zh", "crud_news_documents_dup_part_1_part_1.txt");
const scannedPdf = path.join(fixturesDir, "zh", "pdf", "scanned_zh_small_ocr.pdf");
const SCANNED_PAGES = 8;

type CorpusName = "fixtures" | "news" | "scans" | "articles-in-5-files" | "one-article-files";

/** Copies of each article in the `articles` corpora (each copy's text marked, so none is a duplicate). */
const ARTICLE_COPIES = 5;

interface BenchOptions {
    corpora: CorpusName[];
    threads: number;
    embeddingContext?: number;
    /** Embedding contexts per run, each a row; 0 is the configured default. */
    embeddingContexts: number[];
    /** Adds a row embedding through llama-server. */
    llamaServer: boolean;
    chunkSize?: number;
    runs: number;
    limitBytes?: number;
}

interface Corpus {
    name: CorpusName;
    files: string[];
    bytes: number;
    note: string;
    /** Pages read by OCR, where every page is. */
    ocrPages?: number;
}

interface RunResult {
    files: number;
    failed: number;
    unchanged: number;
    chunks: number;
    totalMs: number;
    embeddingMs: number;
    /** While at least one file was being parsed in the ingest's parser processes, OCR included. */
    parsingMs: number;
    /** While neither parsing nor embedding ran: hashing, the store and its commits. */
    otherMs: number;
    parseSplitMs: number;
    truncated: number;
    problems: FileOutcome[];
}

/** Peak resident memory of `yizhi ingest` (the built CLI) on a corpus, from /proc: all of it, and the most of each part seen at once. */
interface CliMemory {
    peakRssBytes: number;
    /** Anonymous memory: the JS heap, the model's buffers, the graph. */
    peakAnonBytes: number;
    /** File-backed pages: the store's map, the binaries, the model file. */
    peakFileBytes: number;
}

interface CorpusResult {
    corpus: Corpus;
    embedder: EmbedderRun;
    runs: RunResult[];
    memory: CliMemory;
}

function parseOptions(argv: string[]): BenchOptions {
    const { values } = parseArgs({
        args: argv,
        options: {
            corpus: { type: "string", default: "all" },
            threads: { type: "string", default: "1" },
            "embedding-context": { type: "string" },
            "embedding-contexts": { type: "string", default: "0" },
            "llama-server": { type: "boolean", default: false },
            "chunk-size": { type: "string" },
            runs: { type: "string", default: "1" },
            "limit-bytes": { type: "string" },
        },
        strict: true,
    });
    const corpus = values.corpus;
    if (corpus !== "fixtures" && corpus !== "news" && corpus !== "scans" && corpus !== "articles" && corpus !== "all")
        throw new Error(`--corpus must be fixtures, news, scans, articles or all, not ${corpus}`);
    return {
        corpora: corpus === "all" ? ["fixtures", "news", "scans"] : corpus === "articles" ? ["articles-in-5-files", "one-article-files"] : [corpus],
        threads: parseCount("--threads", values.threads, 0),
        runs: parseCount("--runs", values.runs, 1),
        embeddingContexts: (values["embedding-contexts"] ?? "0").split(",").map((count) => parseCount("--embedding-contexts", count.trim(), 0)),
        llamaServer: values["llama-server"] === true,
        ...optionalCount("embeddingContext", "--embedding-context", values["embedding-context"]),
        ...optionalCount("chunkSize", "--chunk-size", values["chunk-size"]),
        ...optionalCount("limitBytes", "--limit-bytes", values["limit-bytes"]),
    };
}

function parseCount(flag: string, raw: string | undefined, min: number): number {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${flag} must be an integer >= ${min}, not ${raw}`);
    return value;
}

function optionalCount<K extends string>(key: K, flag: string, raw: string | undefined): Partial<Record<K, number>> {
    return raw == null ? {} : { [key]: parseCount(flag, raw, 1) } as Record<K, number>;
}

/** The benchmark's own settings, which win over `YIZHI_*` variables. */
/** What embeds a row's chunks: local contexts (0: the configured default), or llama-server at `baseUrl`. */
type EmbedderRun = { contexts: number } | { llamaServer: string };

function benchFlags(options: BenchOptions, dataDir: string, embedder: EmbedderRun = { contexts: 0 }): ConfigInput {
    return {
        dataDir,
        llmModel: modelPath,
        embeddingModel: modelPath,
        threads: options.threads,
        ...(options.embeddingContext != null ? { embeddingContextSize: options.embeddingContext } : {}),
        ...("contexts" in embedder && embedder.contexts > 0 ? { embeddingContexts: embedder.contexts } : {}),
        ...("llamaServer" in embedder ? { embeddingProvider: "openai", embeddingBaseUrl: embedder.llamaServer, embeddingModel: "stories260K" } as const : {}),
        ...(options.chunkSize != null ? { chunkSize: options.chunkSize } : {}),
    };
}

/** The configuration a run uses: `YIZHI_*` variables apply, the benchmark's own flags win. */
function buildConfig(options: BenchOptions, dataDir: string, embedder?: EmbedderRun): Config {
    return loadConfig({ env: process.env, flags: benchFlags(options, dataDir, embedder) }).config;
}

async function prepareCorpus(name: CorpusName, options: BenchOptions, tempDir: string): Promise<Corpus> {
    if (name === "fixtures") {
        // The news file is its own corpus; inside this one it would dominate every other format.
        const { files } = await collectFiles([fixturesDir]);
        const chosen = files.filter((file) => file !== newsFile);
        return { name, files: chosen, bytes: await totalBytes(chosen), note: `${fixturesDir} (all files but the news file)` };
    }
    if (name === "articles-in-5-files" || name === "one-article-files") return writeArticles(name, tempDir);
    if (name === "scans") {
        return { name, files: [scannedPdf], bytes: await totalBytes([scannedPdf]), note: `${scannedPdf} (no text layer: every page read by OCR)`, ocrPages: SCANNED_PAGES };
    }
    if (options.limitBytes == null)
        return { name, files: [newsFile], bytes: await totalBytes([newsFile]), note: newsFile };
    const cut = await cutAtLine(newsFile, options.limitBytes, tempDir);
    return { name, files: [cut], bytes: await totalBytes([cut]), note: `first ${options.limitBytes} bytes of ${newsFile}, cut at a line end` };
}

/** The news file's articles, each in ${ARTICLE_COPIES} marked copies: in one file per copy, or in one file per article. */
async function writeArticles(name: "articles-in-5-files" | "one-article-files", tempDir: string): Promise<Corpus> {
    const articles = (await fs.readFile(newsFile, "utf8")).split("\n").filter((line) => line.trim() !== "");
    const dir = path.join(tempDir, name);
    await fs.mkdir(dir);
    const files: string[] = [];
    for (let copy = 1; copy <= ARTICLE_COPIES; copy++) {
        const marked = articles.map((article) => `（第${copy}份）${article}`);
        if (name === "articles-in-5-files") {
            files.push(path.join(dir, `copy-${copy}.txt`));
            await fs.writeFile(files.at(-1)!, marked.join("\n\n"));
            continue;
        }
        for (const [i, article] of marked.entries()) {
            files.push(path.join(dir, `copy-${copy}-article-${String(i).padStart(4, "0")}.txt`));
            await fs.writeFile(files.at(-1)!, article);
        }
    }
    return { name, files, bytes: await totalBytes(files), note: `the ${articles.length} articles of ${path.basename(newsFile)}, ${ARTICLE_COPIES} copies each, ${name === "one-article-files" ? "one file per article" : "one file per copy"}` };
}

/** Writes the file's first `limit` bytes, back to the last newline, to a file of the same name. */
async function cutAtLine(file: string, limit: number, tempDir: string): Promise<string> {
    const bytes = await fs.readFile(file);
    const head = bytes.subarray(0, Math.min(limit, bytes.length));
    const lastNewline = head.lastIndexOf(0x0a);
    const cut = lastNewline >= 0 && head.length < bytes.length ? head.subarray(0, lastNewline + 1) : head;
    const target = path.join(tempDir, path.basename(file));
    await fs.writeFile(target, cut);
    return target;
}

async function totalBytes(files: readonly string[]): Promise<number> {
    const sizes = await Promise.all(files.map(async (file) => (await fs.stat(file)).size));
    return sizes.reduce((sum, size) => sum + size, 0);
}

/** Parse, normalise and split every file as ingest does (in this process), without OCR (measured on its own), embedding or storing. */
async function measureParseSplit(files: readonly string[], splitter: SplitterOptions): Promise<number> {
    const started = performance.now();
    for (const file of files) {
        if (loaderFor(file) == null) continue;
        try {
            await parseFile({ bytes: await fs.readFile(file), fileName: path.basename(file) }, { limits: defaultParseLimits, splitter, ocr: { ...defaultOcrSettings, mode: "off" } });
        } catch {
            // Files that fail by design (encrypted, scanned) still cost their parse attempt.
        }
    }
    return performance.now() - started;
}

async function measureIngest(files: readonly string[], config: Config): Promise<Omit<RunResult, "parseSplitMs">> {
    const yizhi = new Yizhi(config);
    try {
        // Load the model outside the timed part: it is paid once per process, not per file.
        await yizhi.models.embeddings.embedQuery("warm-up");
        const started = performance.now();
        const report = await yizhi.knowledgeBases.ingest("bench", files);
        const totalMs = performance.now() - started;
        return {
            files: report.files.length,
            failed: report.files.filter((file) => file.status === "failed").length,
            unchanged: report.files.filter((file) => file.status === "unchanged").length,
            chunks: report.chunksEmbedded,
            totalMs,
            embeddingMs: report.timings.embeddingMs,
            parsingMs: report.timings.parsingMs,
            otherMs: report.timings.otherMs,
            truncated: yizhi.models.embeddings instanceof LlamaEmbeddings ? yizhi.models.embeddings.truncatedInputs : 0,
            problems: report.files.filter((file) => file.status !== "ingested"),
        };
    } finally {
        await yizhi.dispose();
    }
}

async function runOnce(corpus: Corpus, options: BenchOptions, embedder: EmbedderRun): Promise<RunResult> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-data-"));
    try {
        const config = buildConfig(options, dataDir, embedder);
        const parseSplitMs = await measureParseSplit(corpus.files, config);
        return { ...await measureIngest(corpus.files, config), parseSplitMs };
    } finally {
        await fs.rm(dataDir, { recursive: true, force: true });
    }
}

const cliPath = path.join(repoRoot, "dist", "src", "cli", "main.js");

/**
 * Runs the corpus's ingest once more through the built CLI, as a person runs it, sampling the
 * process's memory every 100 ms: measured in this process, the parse+split timing and the runs
 * before would count, and tsx, which runs the benchmark, holds a few hundred MB of its own.
 */
async function measureCliMemory(corpus: Corpus, options: BenchOptions, embedder: EmbedderRun): Promise<CliMemory> {
    await fs.access(cliPath).catch(() => {
        throw new Error(`${cliPath} is missing: run npm run build first (the peak memory is measured on the built CLI)`);
    });
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-cli-"));
    const env: Record<string, string> = { ...process.env as Record<string, string> };
    for (const [key, value] of Object.entries(benchFlags(options, dataDir, embedder))) env[envNames[key as ConfigKey]] = String(value);
    try {
        const child = spawn(process.execPath, [cliPath, "ingest", ...corpus.files, "--kb", "bench", "--json"], { env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
        const peak = { peakRssBytes: 0, peakAnonBytes: 0, peakFileBytes: 0 };
        const sample = async () => {
            const status = await fs.readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
            const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
            peak.peakRssBytes = Math.max(peak.peakRssBytes, kb("VmHWM"));
            peak.peakAnonBytes = Math.max(peak.peakAnonBytes, kb("RssAnon"));
            peak.peakFileBytes = Math.max(peak.peakFileBytes, kb("RssFile"));
        };
        const timer = setInterval(() => void sample(), 100);
        const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
        clearInterval(timer);
        // A file that fails to ingest makes the CLI exit 1; the memory it took is still the measure.
        if (code !== 0 && code !== 1) throw new Error(`yizhi ingest exited with ${String(code)}: ${stderr}`);
        return peak;
    } finally {
        await fs.rm(dataDir, { recursive: true, force: true });
    }
}

async function benchCorpus(corpus: Corpus, options: BenchOptions, embedder: EmbedderRun): Promise<CorpusResult> {
    // One untimed pass first, so that the separate parse+split timing and the ingest's own parsing
    // both run warm (JIT done, pdf.js and DOM modules loaded).
    await measureParseSplit(corpus.files, buildConfig(options, os.tmpdir()));
    const runs: RunResult[] = [];
    for (let i = 1; i <= options.runs; i++) {
        const run = await runOnce(corpus, options, embedder);
        process.stderr.write(`${label({ corpus, embedder })} run ${i}/${options.runs}: ${run.chunks} chunks in ${seconds(run.totalMs)} s\n`);
        runs.push(run);
    }
    return { corpus, embedder, runs, memory: await measureCliMemory(corpus, options, embedder) };
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function medianOf(runs: readonly RunResult[], pick: (run: RunResult) => number): number {
    return median(runs.map(pick));
}

function seconds(ms: number): string {
    return (ms / 1000).toFixed(ms < 1_000 ? 3 : ms < 10_000 ? 2 : 1);
}

function rate(count: number, ms: number): string {
    if (ms <= 0) return "-";
    const perSecond = count / (ms / 1000);
    return perSecond.toFixed(perSecond < 1 ? 3 : 1);
}

function percent(part: number, whole: number): string {
    return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

function markdownTable(header: readonly string[], rows: readonly string[][]): string {
    const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function label({ corpus, embedder }: Pick<CorpusResult, "corpus" | "embedder">): string {
    if ("llamaServer" in embedder) return `${corpus.name}, llama-server (batched requests)`;
    const { contexts } = embedder;
    return contexts > 0 ? `${corpus.name}, ${contexts} embedding context${contexts > 1 ? "s" : ""}` : corpus.name;
}

/** Chunks per second of `result` over those of the first result of the same corpus. */
function speedUp(result: CorpusResult, results: readonly CorpusResult[]): string {
    const baseline = results.find((other) => other.corpus === result.corpus);
    const perSecond = (of: CorpusResult) => (of.runs[0]?.chunks ?? 0) / medianOf(of.runs, (run) => run.totalMs);
    return baseline != null ? `${(perSecond(result) / perSecond(baseline)).toFixed(2)}×` : "-";
}

/** Time per chunk of `result` over that of the first result: how much more each chunk cost. */
function perChunkRatio(result: CorpusResult, results: readonly CorpusResult[]): string {
    const perChunk = (of: CorpusResult) => medianOf(of.runs, (run) => run.totalMs) / Math.max(1, of.runs[0]?.chunks ?? 0);
    const first = results[0];
    return first != null ? `${(perChunk(result) / perChunk(first)).toFixed(2)}×` : "-";
}

function throughputRow(result: CorpusResult, results: readonly CorpusResult[]): string[] {
    const { corpus, runs } = result;
    const first = runs[0];
    if (first == null) return [corpus.name];
    const totalMs = medianOf(runs, (run) => run.totalMs);
    return [
        label(result),
        String(first.files),
        String(first.failed),
        String(first.chunks),
        seconds(totalMs),
        rate(first.files, totalMs),
        rate(first.chunks, totalMs),
        corpus.ocrPages != null ? rate(corpus.ocrPages, totalMs) : "-",
        speedUp(result, results),
        percent(medianOf(runs, (run) => run.embeddingMs), totalMs),
        seconds(medianOf(runs, (run) => run.parseSplitMs)),
        String(first.truncated),
        (totalMs / Math.max(1, first.chunks)).toFixed(2),
        perChunkRatio(result, results),
        `${(result.memory.peakRssBytes / 1e6).toFixed(0)} MB`,
        `${(result.memory.peakAnonBytes / 1e6).toFixed(0)} / ${(result.memory.peakFileBytes / 1e6).toFixed(0)} MB`,
    ];
}

/** Parse+split on its own, without OCR; then the ingest's own clocks (parsing and embedding overlap when files are read side by side). */
function breakdownRow(result: CorpusResult): string[] {
    const { corpus, runs } = result;
    const totalMs = medianOf(runs, (run) => run.totalMs);
    const share = (ms: number) => `${seconds(ms)} (${percent(ms, totalMs)})`;
    return [
        label(result),
        `${(corpus.bytes / 1e6).toFixed(2)} MB`,
        seconds(totalMs),
        share(medianOf(runs, (run) => run.parseSplitMs)),
        share(medianOf(runs, (run) => run.parsingMs)),
        share(medianOf(runs, (run) => run.embeddingMs)),
        share(medianOf(runs, (run) => run.otherMs)),
    ];
}

function describeMachine(): string[] {
    const cpus = os.cpus();
    const load = os.loadavg().map((value) => value.toFixed(2)).join(", ");
    return [
        `- machine: ${cpus[0]?.model.trim() ?? "unknown CPU"} × ${cpus.length}, ${os.platform()} ${os.release()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
        `- node: ${process.version}`,
        `- load average at start (1, 5, 15 min): ${load}`,
    ];
}

function describeSettings(config: Config, options: BenchOptions, corpora: readonly Corpus[]): string[] {
    return [
        `- model: ${config.embeddingModel} (LLM and embeddings), gpu ${config.gpu}, threads ${config.threads}`,
        `- embedding context: ${config.embeddingContextSize} tokens; chunk size ${config.chunkSize} chars, overlap ${config.chunkOverlap}`,
        `- runs: ${options.runs}${options.runs > 1 ? " (times are medians)" : ""}; fresh knowledge base per run; model loaded and files parsed once before timing`,
        ...corpora.map((corpus) => `- corpus ${corpus.name}: ${corpus.files.length} files, ${(corpus.bytes / 1e6).toFixed(2)} MB — ${corpus.note}`),
    ];
}

function describeProblems(results: readonly CorpusResult[]): string[] {
    const lines: string[] = [];
    for (const { corpus, runs } of results) {
        for (const problem of runs[0]?.problems ?? []) {
            const name = path.relative(fixturesDir, problem.path).startsWith("..") ? path.basename(problem.path) : path.relative(fixturesDir, problem.path);
            lines.push(`- ${corpus.name}: ${name} — ${problem.status}: ${problem.reason ?? ""}`);
        }
    }
    return lines;
}

function printReport(results: readonly CorpusResult[], machine: readonly string[], settings: readonly string[]): void {
    const load = os.loadavg().map((value) => value.toFixed(2)).join(", ");
    const throughput = markdownTable(
        ["corpus", "files", "failed", "chunks", "total s", "files/s", "chunks/s", "OCR pages/s", "vs first", "embed share", "parse+split s", "truncated", "ms per chunk", "per chunk vs first row", "yizhi ingest peak RSS", "of it at most: anon / file"],
        results.map((result) => throughputRow(result, results)),
    );
    const breakdown = markdownTable(
        ["corpus", "size", "total s", "parse+split s, alone, no OCR", "parsing in ingest s, OCR included", "embed s", "neither: store + other s"],
        results.map(breakdownRow),
    );
    const problems = describeProblems(results);
    console.log([
        "## Ingest benchmark", "", ...machine, `- load average at end (1, 5, 15 min): ${load}`, "",
        "### Settings", "", ...settings, "",
        "### Throughput", "", throughput, "",
        "### Where the time goes", "", breakdown, "",
        "parse+split is timed on its own, in this process (same loaders, normaliser and splitter, no OCR, no embedding); the other three are the ingest's own clocks:" +
        " while at least one file was being parsed in its parser processes (OCR included), while an embedding call ran (the two overlap when files are read side by side)," +
        " and while neither ran (hashing, the store and its commits, saving the HNSW graph when the writer closes). The peak RSS is of one more ingest of the corpus by the built CLI (`yizhi ingest`, model load included), without its parser processes;" +
        " anon / file are the largest anonymous (JS heap, model buffers, graph) and file-backed (the store's map, binaries) parts sampled every 100 ms.",
        ...(problems.length > 0 ? ["", "### Files not ingested (first run)", "", ...problems] : []),
    ].join("\n"));
}

const usage = "usage: npm run bench:ingest -- [--corpus fixtures|news|scans|articles|all] [--threads N] [--embedding-context TOKENS] " +
    "[--embedding-contexts N,N,...] [--llama-server] [--chunk-size CHARS] [--runs N] [--limit-bytes N]";

async function main(): Promise<void> {
    let options: BenchOptions;
    try {
        options = parseOptions(process.argv.slice(2));
    } catch (error) {
        console.error(`${(error as Error).message}\n${usage}`);
        process.exitCode = 2;
        return;
    }
    const machine = describeMachine();
    const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-corpus-"));
    try {
        const corpora: Corpus[] = [];
        for (const name of options.corpora) corpora.push(await prepareCorpus(name, options, tempDir));
        const settings = describeSettings(buildConfig(options, tempDir), options, corpora);
        const results: CorpusResult[] = [];
        const llamaServer = options.llamaServer ? await startLlamaServer({ threads: os.availableParallelism(), parallel: 2 }) : undefined;
        try {
            for (const corpus of corpora) {
                for (const contexts of options.embeddingContexts) results.push(await benchCorpus(corpus, options, { contexts }));
                if (llamaServer != null) results.push(await benchCorpus(corpus, options, { llamaServer: llamaServer.baseUrl }));
            }
        } finally {
            await llamaServer?.stop();
        }
        printReport(results, machine, settings);
    } finally {
        await fs.rm(tempDir, { recursive: true, force: true });
    }
}

await main();
