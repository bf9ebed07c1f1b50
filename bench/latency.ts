/**
 * Retrieval latency at scale: for knowledge bases of 10,000 and 100,000 chunks, measures
 * - p50/p95 latency of `retrieveChunks` in each mode (dense, bm25, hybrid), query embedding excluded;
 * - the HNSW graph's recall@10 against exact cosine search, and its search latency, for several ef;
 * - the cost of building the HNSW graph and the BM25 index, and of a commit (which rewrites both whole).
 * Texts are real (CMRC 2018 trial and XQuAD zh/en paragraphs, questions as queries); vectors are a
 * seeded synthetic clustered distribution, since no real embedding model runs here. Prints Markdown
 * tables to stdout, progress to stderr.
 *
 *   npm run bench:latency -- [--sizes 10000,100000] [--dim 512] [--queries 300] [--recall-queries 200] [--seed 1]
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import hnswlib from "hnswlib-node";
import { configSchema } from "../src/config/schema.js";
import { Bm25Index, type Bm25Snapshot } from "../src/retrieval/bm25Index.js";
import { dropNearDuplicates } from "../src/retrieval/nearDuplicates.js";
import { reciprocalRankFusion } from "../src/retrieval/reciprocalRankFusion.js";
import { retrieveChunks, retrievalModes, type RetrievalMode, type RetrievalSettings } from "../src/retrieval/retrieveChunks.js";
import { tokenize, TOKENIZER_VERSION } from "../src/retrieval/tokenize.js";
import { fsyncPath, writeFileAtomic } from "../src/store/durableFiles.js";
import { HnswVectorStore, type NewChunk } from "../src/store/hnswVectorStore.js";
import { mulberry32, unusedEmbeddings } from "../tests/helpers.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const datasetFiles = ["cmrc2018/trial.json", "xquad/zh.json", "xquad/en.json"].map((file) => path.resolve(repoRoot, "../shared/datasets", file));

const defaults = configSchema.parse({});
const EF_VALUES = [10, 16, 32, 64, 128, 256];
const WARM_UP_QUERIES = 30;
/** Stored points whose exact nearest-neighbour cosine is reported, to show what the vectors look like. */
const NEIGHBOUR_SAMPLE = 100;
const ADD_BATCH = 1000;
const MIN_CHUNK = 100;
const MAX_CHUNK = 200;

/**
 * The synthetic vectors: topics uniform on the sphere, ~10 points per cluster, ~50 clusters per
 * topic; each level is its parent plus isotropic gaussian noise, normalised. `…Spread` is the noise
 * vector's expected squared norm relative to the unit parent (σ²·dim): a point's cosine to its
 * parent is about 1/√(1 + spread). Small clusters close together within a topic make a query's
 * neighbourhood span several clusters, so that its 10th and 100th neighbours are about as far
 * apart as in real embeddings; with well-separated clusters of 50 the 10 nearest are always the
 * query's own cluster, which flatters the graph.
 */
const POINTS_PER_CLUSTER = 10;
const CLUSTERS_PER_TOPIC = 50;
const CLUSTER_SPREAD = 0.6;
const POINT_SPREAD_MIN = 0.15;
const POINT_SPREAD_MAX = 0.8;
/** A query is a stored point plus noise: cosine ≈ 0.82 to the point it was drawn from. */
const QUERY_SPREAD = 0.5;

interface BenchOptions {
    sizes: number[];
    dim: number;
    queries: number;
    recallQueries: number;
    seed: number;
}

interface SquadFile {
    data: { paragraphs: { context: string; qas: { question: string }[] }[] }[];
}

interface TextChunk {
    source: string;
    paragraph: number;
    index: number;
    start: number;
    text: string;
}

interface TextCorpus {
    chunks: TextChunk[];
    questions: string[];
    paragraphs: number;
}

interface Query {
    text: string;
    vector: number[];
    /** The same vector, for exact search. */
    packed: Float32Array;
}

interface Distribution {
    p10: number;
    p50: number;
    p90: number;
}

interface LatencyRow {
    mode: RetrievalMode;
    p50: number;
    p95: number;
    mean: number;
    returned: number;
}

interface EfRow {
    ef: number;
    recall10: number;
    recall20: number;
    p50: number;
    p95: number;
}

interface PartsRow {
    tokenize: number;
    bm25Search: number;
    storeSearch: number;
    rawSearch: number;
    /** Hybrid, at worst: `store.similarity` and `Bm25Index.scoreChunks` for every fused candidate (retrieval skips those a list already scored). */
    hybridRescore: number;
    /** `dropNearDuplicates` over hybrid's fused candidates. */
    nearDuplicates: number;
    fusedCandidates: number;
}

interface FileCost {
    file: string;
    serializeMs?: number;
    writeMs: number;
    bytes: number;
    loadMs: number;
}

interface SizeResult {
    size: number;
    hnswBuildMs: number;
    tokenizeMs: number;
    bm25AddMs: number;
    files: FileCost[];
    latency: LatencyRow[];
    parts: PartsRow;
    efRows: EfRow[];
    neighbourCosine: Distribution;
    queryToSource: Distribution;
    queryTop1: Distribution;
    queryTop10: Distribution;
    queryTop100: Distribution;
}

const started = performance.now();

function progress(message: string): void {
    process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

function parseOptions(argv: string[]): BenchOptions {
    const { values } = parseArgs({
        args: argv,
        options: {
            sizes: { type: "string", default: "10000,100000" },
            dim: { type: "string", default: "512" },
            queries: { type: "string", default: "300" },
            "recall-queries": { type: "string", default: "200" },
            seed: { type: "string", default: "1" },
        },
        strict: true,
    });
    return {
        sizes: (values.sizes ?? "").split(",").map((raw) => parseCount("--sizes", raw.trim(), 1)),
        dim: parseCount("--dim", values.dim, 2),
        queries: parseCount("--queries", values.queries, 1),
        recallQueries: parseCount("--recall-queries", values["recall-queries"], 1),
        seed: parseCount("--seed", values.seed, 0),
    };
}

function parseCount(flag: string, raw: string | undefined, min: number): number {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${flag} must be an integer >= ${min}, not ${raw}`);
    return value;
}

// ---------------------------------------------------------------------------------------------
// Texts

/** Sentences, cut after Chinese and English sentence ends. */
function sentences(text: string): string[] {
    return text.split(/(?<=[。！？!?])|(?<=\.)\s+/u).map((sentence) => sentence.trim()).filter((sentence) => sentence !== "");
}

function joinText(left: string, right: string): string {
    if (left === "") return right;
    return /[\x21-\x7e]$/u.test(left) && /^[\x21-\x7e]/u.test(right) ? `${left} ${right}` : left + right;
}

/** A paragraph in chunks of whole sentences, MIN_CHUNK..MAX_CHUNK characters where the sentences allow. */
function chunkParagraph(text: string): string[] {
    const chunks: string[] = [];
    let current = "";
    for (const sentence of sentences(text)) {
        // A short piece stays with the next sentence, even when that one has to be cut.
        if (current.length >= MIN_CHUNK / 2 && current.length + sentence.length > MAX_CHUNK) {
            chunks.push(current);
            current = "";
        }
        current = joinText(current, sentence);
        while (current.length > MAX_CHUNK) {
            chunks.push(current.slice(0, MAX_CHUNK));
            current = current.slice(MAX_CHUNK);
        }
        if (current.length >= MIN_CHUNK) {
            chunks.push(current);
            current = "";
        }
    }
    if (current.length >= 20 || chunks.length === 0) chunks.push(current);
    else chunks[chunks.length - 1] = joinText(chunks[chunks.length - 1]!, current);
    return chunks.filter((chunk) => chunk !== "");
}

async function loadTexts(): Promise<TextCorpus> {
    const chunks: TextChunk[] = [];
    const questions: string[] = [];
    let paragraphs = 0;
    for (const file of datasetFiles) {
        const source = path.relative(path.resolve(repoRoot, "../shared/datasets"), file);
        const squad = JSON.parse(await fs.readFile(file, "utf8")) as SquadFile;
        for (const article of squad.data) {
            for (const paragraph of article.paragraphs) {
                let start = 0;
                chunkParagraph(paragraph.context).forEach((text, index) => {
                    chunks.push({ source, paragraph: paragraphs, index, start, text });
                    start += text.length;
                });
                paragraphs++;
                for (const qa of paragraph.qas) questions.push(qa.question);
            }
        }
    }
    return { chunks, questions, paragraphs };
}

/** N chunks: the corpus's chunks in order, cycled; copies keep their text and get their own document id. */
function corpusChunks(texts: TextCorpus, size: number): NewChunk[] {
    return Array.from({ length: size }, (_, i) => {
        const chunk = texts.chunks[i % texts.chunks.length]!;
        const copy = Math.floor(i / texts.chunks.length);
        return { documentId: `${chunk.source}#${chunk.paragraph}/${copy}`, source: chunk.source, index: chunk.index, text: chunk.text, start: chunk.start };
    });
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
}

// ---------------------------------------------------------------------------------------------
// Vectors

function gaussianSource(random: () => number): () => number {
    let spare: number | undefined;
    return () => {
        if (spare != null) {
            const value = spare;
            spare = undefined;
            return value;
        }
        const u = 1 - random();
        const v = random();
        const radius = Math.sqrt(-2 * Math.log(u));
        spare = radius * Math.sin(2 * Math.PI * v);
        return radius * Math.cos(2 * Math.PI * v);
    };
}

function normalizeInPlace(vector: Float32Array, offset: number, dim: number): void {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += vector[offset + j]! * vector[offset + j]!;
    const scale = 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) vector[offset + j]! *= scale;
}

/** `count` unit vectors, each a parent (or the origin) plus gaussian noise of the given spread. */
function perturbed(
    count: number, dim: number, gauss: () => number,
    parentOf: (i: number) => { parents: Float32Array; index: number } | undefined, spreadOf: (i: number) => number,
): Float32Array {
    const out = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
        const parent = parentOf(i);
        const sigma = Math.sqrt(spreadOf(i) / dim);
        const offset = i * dim;
        for (let j = 0; j < dim; j++) out[offset + j] = (parent != null ? parent.parents[parent.index * dim + j]! : 0) + sigma * gauss();
        normalizeInPlace(out, offset, dim);
    }
    return out;
}

function generateVectors(size: number, dim: number, random: () => number): Float32Array {
    const gauss = gaussianSource(random);
    const clusterCount = Math.max(1, Math.round(size / POINTS_PER_CLUSTER));
    const topicCount = Math.max(1, Math.round(clusterCount / CLUSTERS_PER_TOPIC));
    const topics = perturbed(topicCount, dim, gauss, () => undefined, () => dim);
    const clusterTopic = Array.from({ length: clusterCount }, () => Math.floor(random() * topicCount));
    const clusters = perturbed(clusterCount, dim, gauss, (i) => ({ parents: topics, index: clusterTopic[i]! }), () => CLUSTER_SPREAD);
    const clusterSpread = Array.from({ length: clusterCount }, () => POINT_SPREAD_MIN + random() * (POINT_SPREAD_MAX - POINT_SPREAD_MIN));
    const pointCluster = Array.from({ length: size }, () => Math.floor(random() * clusterCount));
    return perturbed(size, dim, gauss, (i) => ({ parents: clusters, index: pointCluster[i]! }), (i) => clusterSpread[pointCluster[i]!]!);
}

function row(vectors: Float32Array, dim: number, i: number): number[] {
    return Array.from(vectors.subarray(i * dim, (i + 1) * dim));
}

function makeQueries(vectors: Float32Array, size: number, dim: number, questions: readonly string[], count: number, random: () => number): { queries: Query[]; sources: number[] } {
    const gauss = gaussianSource(random);
    const sources = Array.from({ length: count }, () => Math.floor(random() * size));
    const packed = perturbed(count, dim, gauss, (i) => ({ parents: vectors, index: sources[i]! }), () => QUERY_SPREAD);
    const queries = sources.map((_, i) => {
        const vector = packed.subarray(i * dim, (i + 1) * dim);
        return { text: questions[i % questions.length]!, vector: Array.from(vector), packed: vector };
    });
    return { queries, sources };
}

function dot(vectors: Float32Array, offset: number, query: Float32Array, dim: number): number {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += vectors[offset + j]! * query[j]!;
    return sum;
}

/** The k labels most cosine-similar to `query` (unit vectors), best first, by brute force. */
function exactTopK(vectors: Float32Array, size: number, dim: number, query: Float32Array, k: number, skip = -1): { labels: number[]; scores: number[] } {
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < size; i++) {
        if (i === skip) continue;
        const score = dot(vectors, i * dim, query, dim);
        if (scores.length === k && score <= scores[k - 1]!) continue;
        let at = scores.length === k ? k - 1 : scores.length;
        while (at > 0 && scores[at - 1]! < score) {
            scores[at] = scores[at - 1]!;
            labels[at] = labels[at - 1]!;
            at--;
        }
        scores[at] = score;
        labels[at] = i;
    }
    return { labels, scores };
}

// ---------------------------------------------------------------------------------------------
// Statistics and timing

function percentile(values: readonly number[], p: number): number {
    if (values.length === 0) return Number.NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function mean(values: readonly number[]): number {
    return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function distribution(values: readonly number[]): Distribution {
    return { p10: percentile(values, 0.1), p50: percentile(values, 0.5), p90: percentile(values, 0.9) };
}

function timed<T>(work: () => T): [T, number] {
    const at = performance.now();
    const result = work();
    return [result, performance.now() - at];
}

async function timedAsync<T>(work: () => Promise<T>): Promise<[T, number]> {
    const at = performance.now();
    const result = await work();
    return [result, performance.now() - at];
}

function recall(found: readonly number[], exact: readonly number[]): number {
    const wanted = new Set(exact);
    return found.filter((label) => wanted.has(label)).length / exact.length;
}

// ---------------------------------------------------------------------------------------------
// One corpus size

async function benchSize(size: number, texts: TextCorpus, questions: readonly string[], options: BenchOptions, tempDir: string): Promise<SizeResult> {
    const { dim } = options;
    const random = mulberry32(options.seed * 1_000_003 + size);
    progress(`${size} chunks: generating ${dim}-d vectors`);
    const [vectors, generateMs] = timed(() => generateVectors(size, dim, random));
    progress(`${size} chunks: vectors generated in ${(generateMs / 1000).toFixed(1)} s`);
    const chunks = corpusChunks(texts, size);
    const queryCount = Math.max(options.queries, options.recallQueries);
    const { queries: allQueries, sources } = makeQueries(vectors, size, dim, questions, WARM_UP_QUERIES + queryCount, random);
    const warmUp = allQueries.slice(0, WARM_UP_QUERIES);
    const queries = allQueries.slice(WARM_UP_QUERIES);

    // HNSW graph, through the store as ingest builds it: batch by batch, growing as it fills.
    const params = { m: defaults.hnswM, efConstruction: defaults.hnswEfConstruction, efSearch: defaults.hnswEfSearch };
    const store = HnswVectorStore.create(unusedEmbeddings, dim, params);
    let hnswBuildMs = 0;
    for (let from = 0; from < size; from += ADD_BATCH) {
        const to = Math.min(size, from + ADD_BATCH);
        const batch = Array.from({ length: to - from }, (_, i) => row(vectors, dim, from + i));
        hnswBuildMs += timed(() => store.addChunks(batch, chunks.slice(from, to)))[1];
        if (to % (ADD_BATCH * 10) === 0 || to === size)
            progress(`${size} chunks: HNSW ${to}/${size} added, ${(hnswBuildMs / 1000).toFixed(1)} s so far`);
    }

    // BM25: tokenize every chunk (copies too, as ingest would), then index.
    const [terms, tokenizeMs] = timed(() => chunks.map((chunk) => tokenize(chunk.text)));
    const lexical = new Bm25Index();
    const [, bm25AddMs] = timed(() => terms.forEach((chunkTerms, label) => lexical.add(label, chunkTerms)));
    progress(`${size} chunks: BM25 tokenized in ${(tokenizeMs / 1000).toFixed(1)} s, indexed in ${(bm25AddMs / 1000).toFixed(1)} s`);

    // Commit cost: the three files a commit rewrites, written as `KnowledgeBase.commit` writes them.
    const dir = await fs.mkdtemp(path.join(tempDir, `size-${size}-`));
    const files: FileCost[] = [];
    const graphFile = path.join(dir, "index.hnsw");
    const [, graphWriteMs] = await timedAsync(async () => {
        await store.save(graphFile);
        await fsyncPath(graphFile);
    });
    const raw = new hnswlib.HierarchicalNSW("cosine", dim);
    const [, graphLoadMs] = await timedAsync(() => raw.readIndex(graphFile, true));
    files.push({ file: "HNSW graph (writeIndex + fsync)", writeMs: graphWriteMs, bytes: (await fs.stat(graphFile)).size, loadMs: graphLoadMs });

    const lexicalFile = path.join(dir, "lexical.json");
    const [lexicalJson, lexicalSerializeMs] = timed(() => JSON.stringify({ tokenizer: TOKENIZER_VERSION, ...lexical.toSnapshot() }));
    const [, lexicalWriteMs] = await timedAsync(() => writeFileAtomic(lexicalFile, lexicalJson));
    const [, lexicalLoadMs] = await timedAsync(async () => Bm25Index.fromSnapshot(JSON.parse(await fs.readFile(lexicalFile, "utf8")) as Bm25Snapshot));
    files.push({ file: "BM25 snapshot (JSON)", serializeMs: lexicalSerializeMs, writeMs: lexicalWriteMs, bytes: Buffer.byteLength(lexicalJson), loadMs: lexicalLoadMs });

    const recordsFile = path.join(dir, "records.json");
    const [recordsJson, recordsSerializeMs] = timed(() => JSON.stringify({ generation: 1, labelsIssued: store.labelsIssued, chunks: [...store.allChunks()] }));
    const [, recordsWriteMs] = await timedAsync(() => writeFileAtomic(recordsFile, recordsJson));
    const [, recordsLoadMs] = await timedAsync(async () => JSON.parse(await fs.readFile(recordsFile, "utf8")) as unknown);
    files.push({ file: "chunk records (JSON)", serializeMs: recordsSerializeMs, writeMs: recordsWriteMs, bytes: Buffer.byteLength(recordsJson), loadMs: recordsLoadMs });
    progress(`${size} chunks: commit files written`);

    // retrieveChunks per mode.
    const knowledgeBase = { store, lexical };
    const latency: LatencyRow[] = [];
    for (const mode of retrievalModes) {
        const settings: RetrievalSettings = {
            mode, topK: defaults.topK, scoreThreshold: -1, lexicalThreshold: 0,
            rerankThreshold: defaults.rerankThreshold, rrfK: defaults.rrfK, candidates: defaults.retrievalCandidates,
        };
        for (const query of warmUp) await retrieveChunks(knowledgeBase, query, settings);
        const times: number[] = [];
        const returned: number[] = [];
        for (const query of queries.slice(0, options.queries)) {
            const at = performance.now();
            const result = await retrieveChunks(knowledgeBase, query, settings);
            times.push(performance.now() - at);
            returned.push(result.length);
        }
        latency.push({ mode, p50: percentile(times, 0.5), p95: percentile(times, 0.95), mean: mean(times), returned: mean(returned) });
        progress(`${size} chunks: ${mode} p50 ${percentile(times, 0.5).toFixed(2)} ms`);
    }

    // The parts of a retrieval, each on its own.
    const measured = queries.slice(0, options.queries);
    const candidates = defaults.retrievalCandidates;
    raw.setEf(defaults.hnswEfSearch);
    const partTimes = (work: (query: Query) => unknown): number => {
        for (const query of warmUp) work(query);
        return percentile(measured.map((query) => timed(() => work(query))[1]), 0.5);
    };
    const prepared = new Map([...warmUp, ...measured].map((query) => {
        const terms = tokenize(query.text);
        const dense = store.searchChunks(query.vector, candidates).map(([chunk]) => chunk.label);
        const fused = reciprocalRankFusion([dense, lexical.search(terms, candidates).map((hit) => hit.label)], defaults.rrfK);
        return [query, { terms, fused: fused.map((hit) => hit.label), texts: fused.map((hit) => store.getChunk(hit.label)?.text ?? "") }];
    }));
    const preparedFor = (query: Query) => prepared.get(query)!;
    const parts: PartsRow = {
        tokenize: partTimes((query) => tokenize(query.text)),
        bm25Search: partTimes((query) => lexical.search(preparedFor(query).terms, candidates)),
        storeSearch: partTimes((query) => store.searchChunks(query.vector, candidates)),
        rawSearch: partTimes((query) => raw.searchKnn(query.vector, candidates)),
        hybridRescore: partTimes((query) => {
            const { terms, fused } = preparedFor(query);
            return [fused.map((label) => store.similarity(query.vector, label)), lexical.scoreChunks(terms, fused)];
        }),
        nearDuplicates: partTimes((query) => dropNearDuplicates(preparedFor(query).texts, (text) => text)),
        fusedCandidates: mean(measured.map((query) => preparedFor(query).fused.length)),
    };

    // Exact neighbours, for recall and to describe the vectors.
    const recallQueries = queries.slice(0, options.recallQueries);
    progress(`${size} chunks: exact search for ${recallQueries.length} queries and ${NEIGHBOUR_SAMPLE} stored points`);
    const [exact, exactMs] = timed(() => recallQueries.map((query) => exactTopK(vectors, size, dim, query.packed, 100)));
    const neighbourCosines = Array.from({ length: Math.min(NEIGHBOUR_SAMPLE, size - 1) }, () => {
        const label = Math.floor(random() * size);
        return exactTopK(vectors, size, dim, vectors.subarray(label * dim, (label + 1) * dim), 1, label).scores[0]!;
    });
    progress(`${size} chunks: exact search took ${(exactMs / 1000).toFixed(1)} s`);
    const queryToSource = recallQueries.map((query, i) => dot(vectors, sources[WARM_UP_QUERIES + i]! * dim, query.packed, dim));

    // Recall first, for every ef: an untimed pass that also brings the graph back into the caches
    // after the exact search streamed every vector through them. Then timings, per ef, on their own.
    const recalls = EF_VALUES.map((ef) => {
        raw.setEf(ef);
        const recall10 = mean(recallQueries.map((query, i) => recall(raw.searchKnn(query.vector, 10).neighbors, exact[i]!.labels.slice(0, 10))));
        const recall20 = mean(recallQueries.map((query, i) => recall(raw.searchKnn(query.vector, 20).neighbors, exact[i]!.labels.slice(0, 20))));
        progress(`${size} chunks: ef ${ef} recall@10 ${recall10.toFixed(3)}`);
        return { recall10, recall20 };
    });
    const efRows: EfRow[] = EF_VALUES.map((ef, i) => {
        raw.setEf(ef);
        for (const query of warmUp) raw.searchKnn(query.vector, 10);
        const times = recallQueries.map((query) => timed(() => raw.searchKnn(query.vector, 10))[1]);
        return { ef, ...recalls[i]!, p50: percentile(times, 0.5), p95: percentile(times, 0.95) };
    });

    await fs.rm(dir, { recursive: true, force: true });
    return {
        size, hnswBuildMs, tokenizeMs, bm25AddMs, files, latency, parts, efRows,
        neighbourCosine: distribution(neighbourCosines),
        queryToSource: distribution(queryToSource),
        queryTop1: distribution(exact.map((result) => result.scores[0]!)),
        queryTop10: distribution(exact.map((result) => result.scores[9]!)),
        queryTop100: distribution(exact.map((result) => result.scores[99] ?? Number.NaN)),
    };
}

// ---------------------------------------------------------------------------------------------
// Report

function markdownTable(header: readonly string[], rows: readonly string[][]): string {
    const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function ms(value: number): string {
    return value.toFixed(value < 1 ? 3 : value < 10 ? 2 : 1);
}

function seconds(value: number): string {
    return (value / 1000).toFixed(value < 10_000 ? 2 : 1);
}

function megabytes(bytes: number): string {
    return (bytes / 1e6).toFixed(1);
}

function count(value: number): string {
    return value.toLocaleString("en-US");
}

function describeDistribution(value: Distribution): string {
    return `${value.p10.toFixed(2)} / ${value.p50.toFixed(2)} / ${value.p90.toFixed(2)}`;
}

function printReport(results: readonly SizeResult[], texts: TextCorpus, options: BenchOptions, loadAtStart: string): void {
    const cpus = os.cpus();
    const load = os.loadavg().map((value) => value.toFixed(2)).join(", ");
    const uniqueTexts = new Set(texts.chunks.map((chunk) => chunk.text)).size;
    const lengths = texts.chunks.map((chunk) => chunk.text.length);

    const latency = markdownTable(
        ["chunks", "mode", "p50 ms", "p95 ms", "mean ms", "chunks returned (mean)"],
        results.flatMap((result) => result.latency.map((entry) => [
            count(result.size), entry.mode, ms(entry.p50), ms(entry.p95), ms(entry.mean), entry.returned.toFixed(2),
        ])),
    );
    const parts = markdownTable(
        [
            "chunks", "tokenize question", `Bm25Index.search (${defaults.retrievalCandidates})`, `store.searchChunks (${defaults.retrievalCandidates}, ef ${defaults.hnswEfSearch})`,
            `raw searchKnn (${defaults.retrievalCandidates}, ef ${defaults.hnswEfSearch}, no filter)`, "hybrid: similarity + scoreChunks over all fused candidates",
            "dropNearDuplicates (fused candidates)", "fused candidates (mean)",
        ],
        results.map(({ size, parts: p }) => [
            count(size), ms(p.tokenize), ms(p.bm25Search), ms(p.storeSearch), ms(p.rawSearch), ms(p.hybridRescore), ms(p.nearDuplicates), p.fusedCandidates.toFixed(1),
        ]),
    );
    const efTable = markdownTable(
        ["chunks", "ef", "recall@10", "recall@20", "p50 ms (k 10)", "p95 ms (k 10)", `p50 vs ef ${defaults.hnswEfSearch}`],
        results.flatMap((result) => {
            const reference = result.efRows.find((entry) => entry.ef === defaults.hnswEfSearch)?.p50;
            return result.efRows.map((entry) => [
                count(result.size), entry.ef === defaults.hnswEfSearch ? `**${entry.ef}**` : String(entry.ef),
                entry.recall10.toFixed(3), entry.recall20.toFixed(3), ms(entry.p50), ms(entry.p95),
                reference != null ? `${(entry.p50 / reference).toFixed(2)}×` : "-",
            ]);
        }),
    );
    const build = markdownTable(
        ["chunks", "HNSW build s", "HNSW chunks/s", "BM25 tokenize s", "BM25 index s", "BM25 chunks/s (both)"],
        results.map((result) => [
            count(result.size), seconds(result.hnswBuildMs), (result.size / (result.hnswBuildMs / 1000)).toFixed(0),
            seconds(result.tokenizeMs), seconds(result.bm25AddMs), (result.size / ((result.tokenizeMs + result.bm25AddMs) / 1000)).toFixed(0),
        ]),
    );
    const commit = markdownTable(
        ["chunks", "file", "serialize s", "write + fsync s", "total s", "size MB", "load s"],
        results.flatMap((result) => {
            const rows = result.files.map((file) => [
                count(result.size), file.file, file.serializeMs != null ? seconds(file.serializeMs) : "(in write)",
                seconds(file.writeMs), seconds((file.serializeMs ?? 0) + file.writeMs), megabytes(file.bytes), seconds(file.loadMs),
            ]);
            const total = (pick: (file: FileCost) => number) => result.files.reduce((sum, file) => sum + pick(file), 0);
            rows.push([
                count(result.size), "**commit total**", seconds(total((file) => file.serializeMs ?? 0)), seconds(total((file) => file.writeMs)),
                seconds(total((file) => (file.serializeMs ?? 0) + file.writeMs)), megabytes(total((file) => file.bytes)), seconds(total((file) => file.loadMs)),
            ]);
            return rows;
        }),
    );
    const vectors = markdownTable(
        ["chunks", "stored point → its nearest other point", "query → the point it was drawn from", "query → exact 1st", "query → exact 10th", "query → exact 100th"],
        results.map((result) => [
            count(result.size), describeDistribution(result.neighbourCosine), describeDistribution(result.queryToSource),
            describeDistribution(result.queryTop1), describeDistribution(result.queryTop10), describeDistribution(result.queryTop100),
        ]),
    );

    console.log([
        "## Retrieval latency benchmark",
        "",
        `- machine: ${cpus[0]?.model.trim() ?? "unknown CPU"} × ${cpus.length}, ${os.platform()} ${os.release()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`,
        `- load average (1, 5, 15 min) at start: ${loadAtStart}; at end: ${load}`,
        `- run: sizes ${options.sizes.map(count).join(", ")}; dim ${options.dim}; ${options.queries} timed queries per mode after ${WARM_UP_QUERIES} warm-up;` +
        ` ${options.recallQueries} queries for recall; seed ${options.seed}; total ${seconds(performance.now() - started)} s`,
        `- retrieval settings: topK ${defaults.topK}, candidates ${defaults.retrievalCandidates}, rrfK ${defaults.rrfK}, thresholds off (scoreThreshold -1, lexicalThreshold 0), no reranker`,
        `- HNSW: m ${defaults.hnswM}, efConstruction ${defaults.hnswEfConstruction}, efSearch ${defaults.hnswEfSearch} (the configured defaults), cosine space, hnswlib-node`,
        "",
        "### Corpus",
        "",
        `- texts: real — ${texts.paragraphs} paragraphs of CMRC 2018 trial and XQuAD zh + en, split at sentence ends into ${count(texts.chunks.length)} chunks` +
        ` (${count(uniqueTexts)} distinct) of ${Math.min(...lengths)}–${Math.max(...lengths)} characters (median ${percentile(lengths, 0.5)}),` +
        " cycled to reach each size: the cycled copies have identical text (other document ids), so every text occurs" +
        ` ~${results.map((result) => (result.size / texts.chunks.length).toFixed(0)).join(" / ")} times.` +
        " BM25 postings are that much longer than in a corpus of distinct texts, and near-duplicate suppression often leaves fewer than topK chunks (see \"chunks returned\").",
        `- queries: ${count(texts.questions.length)} real questions of the same datasets (shuffled, zh and en), each with a precomputed vector; **query embedding time is not included** in any latency.`,
        `- vectors: **synthetic** (no real embedding model runs on this machine), ${options.dim}-d, seeded. ~size/${POINTS_PER_CLUSTER * CLUSTERS_PER_TOPIC} topic centres uniform on the sphere;` +
        ` ~size/${POINTS_PER_CLUSTER} cluster centres = topic + gaussian noise (σ²·dim ${CLUSTER_SPREAD}); points = cluster centre + gaussian noise` +
        ` (σ²·dim ${POINT_SPREAD_MIN}–${POINT_SPREAD_MAX}, per cluster); all normalised. Query vector = a random stored point + noise (σ²·dim ${QUERY_SPREAD}), normalised.` +
        " Vectors are unrelated to the texts: the numbers below are about speed and graph recall, not answer quality.",
        "",
        "Cosine similarities of the synthetic vectors (p10 / p50 / p90):",
        "",
        vectors,
        "",
        "### `retrieveChunks` latency",
        "",
        latency,
        "",
        `Where it goes (p50 ms, each part timed alone on the same ${options.queries} questions):`,
        "",
        parts,
        "",
        `### HNSW recall against exact cosine search, by ef (${options.recallQueries} queries)`,
        "",
        efTable,
        "",
        "The graph is the one built above, written and read back; searched directly (no chunk filter callback)." +
        ` Recall@20 searches k 20 as retrieval does (candidates ${defaults.retrievalCandidates}); hnswlib searches with max(ef, k).`,
        "",
        "### Build",
        "",
        build,
        "",
        "HNSW: `HnswVectorStore.addChunks` in batches of 1,000, growing the graph as ingest does. BM25: `tokenize` of every chunk (copies too), then `Bm25Index.add`.",
        "",
        "### Commit cost (a commit rewrites all three files whole)",
        "",
        commit,
        "",
        "Written as `KnowledgeBase.commit` writes them (graph: `store.save` + fsync; JSON: `writeFileAtomic`, with fsync); the records file here holds only the chunk records, not the document records." +
        " Load: `readIndex`; `JSON.parse` + `Bm25Index.fromSnapshot`; `JSON.parse`.",
    ].join("\n"));
}

const usage = "usage: npm run bench:latency -- [--sizes 10000,100000] [--dim 512] [--queries 300] [--recall-queries 200] [--seed 1]";

async function main(): Promise<void> {
    let options: BenchOptions;
    try {
        options = parseOptions(process.argv.slice(2));
    } catch (error) {
        console.error(`${(error as Error).message}\n${usage}`);
        process.exitCode = 2;
        return;
    }
    const loadAtStart = os.loadavg().map((value) => value.toFixed(2)).join(", ");
    const texts = await loadTexts();
    const questions = shuffled(texts.questions, mulberry32(options.seed));
    progress(`${texts.chunks.length} text chunks from ${texts.paragraphs} paragraphs, ${texts.questions.length} questions`);
    const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-latency-"));
    try {
        const results: SizeResult[] = [];
        for (const size of options.sizes) results.push(await benchSize(size, texts, questions, options, tempDir));
        printReport(results, texts, options, loadAtStart);
    } finally {
        await fs.rm(tempDir, { recursive: true, force: true });
    }
}

await main();
