/**
 * Retrieval latency at scale: for knowledge bases of 10,000 and 100,000 chunks, measures
 * - p50/p95 latency of `retrieveChunks` in each mode (dense, bm25, hybrid), query embedding excluded;
 * - the HNSW graph's recall@10 against exact cosine search, and its search latency, for several ef;
 * - building the knowledge base through the embedded store's writer, committing one small document
 *   into it, and opening it (in a fresh process: time and resident memory).
 * Texts are real (CMRC 2018 trial and XQuAD zh/en paragraphs, questions as queries); vectors are a
 * seeded synthetic clustered distribution, since no real embedding model runs here. Prints Markdown
 * tables to stdout, progress to stderr.
 *
 *   npm run bench:latency -- [--sizes 10000,100000] [--dim 512] [--queries 300] [--recall-queries 200] [--seed 1]
 *
 * With `--probe <data dir>` it only opens the knowledge base "bench" there, answers a few
 * questions and prints what that took as JSON: the fresh process the main run measures opening with.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import hnswlib from "hnswlib-node";
import { configSchema } from "../src/config/schema.js";
import { dropNearDuplicates } from "../src/retrieval/nearDuplicates.js";
import { reciprocalRankFusion } from "../src/retrieval/reciprocalRankFusion.js";
import { retrieveChunks, retrievalModes, type RetrievalMode, type RetrievalSettings } from "../src/retrieval/retrieveChunks.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import type { NewChunk } from "../src/store/records.js";
import { autoEfSearch } from "../src/store/vectorGraph.js";
import { mulberry32 } from "../tests/helpers.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const datasetFiles = ["cmrc2018/trial.json", "xquad/zh.json", "xquad/en.json"].map((file) => path.resolve(repoRoot, "../shared/datasets", file));

const defaults = configSchema.parse({});
const EF_VALUES = [10, 16, 32, 64, 128, 256];
const WARM_UP_QUERIES = 30;
/** Stored points whose exact nearest-neighbour cosine is reported, to show what the vectors look like. */
const NEIGHBOUR_SAMPLE = 100;
/** Chunks per document, and per commit, as a bulk ingest of many files would write them. */
const CHUNKS_PER_DOCUMENT = 20;
const CHUNKS_PER_COMMIT = 10_000;
/** One small document committed into the built knowledge base this many times. */
const SMALL_COMMITS = 20;
const KB = "bench";
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
    /** A data directory: only open its knowledge base and report (see `probe`). */
    probe?: string;
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
    /** Hybrid, at worst: `denseScores` and `lexicalScores` for every fused candidate (retrieval skips those a list already scored). */
    hybridRescore: number;
    /** `dropNearDuplicates` over hybrid's fused candidates. */
    nearDuplicates: number;
    fusedCandidates: number;
}

/** What `--probe` reports: opening the knowledge base in a fresh process. */
interface ProbeResult {
    openMs: number;
    /** The first question after opening, in each mode (ms). */
    firstQuestionMs: number;
    /** Resident memory after opening and answering, and before opening (the process with its modules loaded). */
    rssBytes: number;
    baselineRssBytes: number;
}

interface StoreCost {
    /** Every chunk through the writer: `putDocument` (tokenizing) and a commit every CHUNKS_PER_COMMIT chunks. */
    buildMs: number;
    /** Closing the writer, which saves the graph. */
    closeMs: number;
    /** One small document (3 chunks) into the built knowledge base: medians over SMALL_COMMITS. */
    smallOpenWriterMs: number;
    smallCommitMs: number;
    smallCloseMs: number;
    /** Store and graph on disk. */
    storeBytes: number;
    graphBytes: number;
    probe: ProbeResult;
}

interface SizeResult {
    size: number;
    store: StoreCost;
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
            probe: { type: "string" },
        },
        strict: true,
    });
    return {
        sizes: (values.sizes ?? "").split(",").map((raw) => parseCount("--sizes", raw.trim(), 1)),
        dim: parseCount("--dim", values.dim, 2),
        queries: parseCount("--queries", values.queries, 1),
        recallQueries: parseCount("--recall-queries", values["recall-queries"], 1),
        seed: parseCount("--seed", values.seed, 0),
        ...(values.probe != null ? { probe: values.probe } : {}),
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

    // The knowledge base, through the embedded store's writer as a bulk ingest writes it.
    const dataDir = await fs.mkdtemp(path.join(tempDir, `size-${size}-`));
    const storage = new EmbeddedStorage({ dataDir, hnsw: { m: defaults.hnswM, efConstruction: defaults.hnswEfConstruction } });
    const embedder = { id: "bench-synthetic", dimension: dim };
    const writer = await storage.openWriter(KB, embedder, { create: true });
    let buildMs = 0;
    for (let from = 0; from < size; from += CHUNKS_PER_DOCUMENT) {
        const to = Math.min(size, from + CHUNKS_PER_DOCUMENT);
        const document = { id: `doc-${from}`, source: `/bench/doc-${from}.txt`, hash: `hash-${from}`, fileHash: `file-${from}`, format: "txt", sizeBytes: 1, ingestedAt: "2026-12-01T00:00:00.000Z" };
        const batch = Array.from({ length: to - from }, (_, i) => row(vectors, dim, from + i));
        buildMs += (await timedAsync(() => writer.putDocument(document, chunks.slice(from, to).map((chunk, i) => ({ ...chunk, index: i })), batch)))[1];
        if (to % CHUNKS_PER_COMMIT === 0 || to === size) {
            buildMs += (await timedAsync(() => writer.commit()))[1];
            progress(`${size} chunks: ${to}/${size} committed, ${(buildMs / 1000).toFixed(1)} s so far`);
        }
    }
    const [, closeMs] = await timedAsync(() => writer.close());
    progress(`${size} chunks: built in ${(buildMs / 1000).toFixed(1)} s, graph saved at close in ${(closeMs / 1000).toFixed(1)} s`);

    // One small document at a time, as an upload commits it.
    const small = { open: [] as number[], commit: [] as number[], close: [] as number[] };
    for (let round = 0; round < SMALL_COMMITS; round++) {
        const [kb, openMs] = await timedAsync(() => storage.openWriter(KB, embedder));
        const document = { id: `small-${round}`, source: `/bench/small-${round}.txt`, hash: `small-${round}`, fileHash: `small-${round}`, format: "txt", sizeBytes: 1, ingestedAt: "2026-12-01T00:00:00.000Z" };
        await kb.putDocument(document, chunks.slice(round * 3, round * 3 + 3).map((chunk, i) => ({ ...chunk, index: i })), [0, 1, 2].map((i) => row(vectors, dim, round * 3 + i)));
        small.commit.push((await timedAsync(() => kb.commit()))[1]);
        small.close.push((await timedAsync(() => kb.close()))[1]);
        small.open.push(openMs);
    }
    progress(`${size} chunks: small commits p50 ${percentile(small.commit, 0.5).toFixed(1)} ms`);
    await storage.compact(KB);
    const kbDir = storage.dirOf(KB);
    const graphFile = (await fs.readdir(kbDir)).find((entry) => entry.startsWith("graph-"))!;
    const probe = await runProbe(dataDir, dim);
    progress(`${size} chunks: opened in a fresh process in ${probe.openMs.toFixed(0)} ms, ${(probe.rssBytes / 2 ** 20).toFixed(0)} MiB resident`);
    const store: StoreCost = {
        buildMs, closeMs,
        smallOpenWriterMs: percentile(small.open, 0.5), smallCommitMs: percentile(small.commit, 0.5), smallCloseMs: percentile(small.close, 0.5),
        storeBytes: (await fs.stat(path.join(kbDir, "store.mdb"))).size, graphBytes: (await fs.stat(path.join(kbDir, graphFile))).size,
        probe,
    };
    const raw = new hnswlib.HierarchicalNSW("cosine", dim);
    await raw.readIndex(path.join(kbDir, graphFile), true);
    const knowledgeBase = await storage.openReader(KB, embedder);

    // retrieveChunks per mode.
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
    raw.setEf(autoEfSearch(size));
    const partTimes = async (work: (query: Query) => unknown): Promise<number> => {
        for (const query of warmUp) await work(query);
        const times: number[] = [];
        for (const query of measured) times.push((await timedAsync(async () => work(query)))[1]);
        return percentile(times, 0.5);
    };
    const prepared = new Map<Query, { terms: string[]; fused: number[]; texts: string[] }>();
    for (const query of [...warmUp, ...measured]) {
        const terms = tokenize(query.text);
        const dense = (await knowledgeBase.denseSearch(query.vector, candidates)).map((hit) => hit.label);
        const fused = reciprocalRankFusion([dense, (await knowledgeBase.lexicalSearch(terms, candidates)).map((hit) => hit.label)], defaults.rrfK).map((hit) => hit.label);
        const texts = await knowledgeBase.getChunks(fused);
        prepared.set(query, { terms, fused, texts: fused.map((label) => texts.get(label)?.text ?? "") });
    }
    const preparedFor = (query: Query) => prepared.get(query)!;
    const parts: PartsRow = {
        tokenize: await partTimes((query) => tokenize(query.text)),
        bm25Search: await partTimes((query) => knowledgeBase.lexicalSearch(preparedFor(query).terms, candidates)),
        storeSearch: await partTimes((query) => knowledgeBase.denseSearch(query.vector, candidates)),
        rawSearch: await partTimes((query) => raw.searchKnn(query.vector, candidates)),
        hybridRescore: await partTimes((query) => {
            const { terms, fused } = preparedFor(query);
            return Promise.all([knowledgeBase.denseScores(query.vector, fused), knowledgeBase.lexicalScores(terms, fused)]);
        }),
        nearDuplicates: await partTimes((query) => dropNearDuplicates(preparedFor(query).texts, (text) => text)),
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

    await knowledgeBase.close();
    await fs.rm(dataDir, { recursive: true, force: true });
    return {
        size, store, latency, parts, efRows,
        neighbourCosine: distribution(neighbourCosines),
        queryToSource: distribution(queryToSource),
        queryTop1: distribution(exact.map((result) => result.scores[0]!)),
        queryTop10: distribution(exact.map((result) => result.scores[9]!)),
        queryTop100: distribution(exact.map((result) => result.scores[99] ?? Number.NaN)),
    };
}

/** Opens the knowledge base in a fresh process (`--probe`), as a server or the CLI would at start. */
async function runProbe(dataDir: string, dim: number): Promise<ProbeResult> {
    const script = fileURLToPath(import.meta.url);
    const stdout = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ["--import", "tsx", script, "--probe", dataDir, "--dim", String(dim)], { maxBuffer: 1 << 20 }, (error, out) => {
            if (error != null) reject(error);
            else resolve(out);
        });
    });
    return JSON.parse(stdout) as ProbeResult;
}

async function probe(dataDir: string, dim: number): Promise<void> {
    const storage = new EmbeddedStorage({ dataDir, hnsw: { m: defaults.hnswM, efConstruction: defaults.hnswEfConstruction } });
    tokenize("预热"); // jieba's dictionary, loaded once per process, is not the knowledge base's to pay for
    const baselineRssBytes = process.memoryUsage().rss;
    const [reader, openMs] = await timedAsync(() => storage.openReader(KB, { id: "bench-synthetic", dimension: dim }));
    const random = mulberry32(5);
    const vector = Array.from({ length: dim }, () => random() - 0.5);
    const [, firstQuestionMs] = await timedAsync(async () => {
        for (const mode of retrievalModes) {
            await retrieveChunks(reader, { text: "数据库备份保留多久", vector }, {
                mode, topK: defaults.topK, scoreThreshold: -1, lexicalThreshold: 0, rerankThreshold: 0, rrfK: defaults.rrfK, candidates: defaults.retrievalCandidates,
            });
        }
    });
    const result: ProbeResult = { openMs, firstQuestionMs, rssBytes: process.memoryUsage().rss, baselineRssBytes };
    await reader.close();
    process.stdout.write(JSON.stringify(result));
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
            "chunks", "tokenize question", `lexicalSearch (${defaults.retrievalCandidates})`, `denseSearch (${defaults.retrievalCandidates}, ef by size)`,
            `raw searchKnn (${defaults.retrievalCandidates}, ef by size, no filter)`, "hybrid: denseScores + lexicalScores over all fused candidates",
            "dropNearDuplicates (fused candidates)", "fused candidates (mean)",
        ],
        results.map(({ size, parts: p }) => [
            count(size), ms(p.tokenize), ms(p.bm25Search), ms(p.storeSearch), ms(p.rawSearch), ms(p.hybridRescore), ms(p.nearDuplicates), p.fusedCandidates.toFixed(1),
        ]),
    );
    const efTable = markdownTable(
        ["chunks", "ef", "recall@10", "recall@20", "p50 ms (k 10)", "p95 ms (k 10)", "p50 vs the default ef"],
        results.flatMap((result) => {
            const chosen = autoEfSearch(result.size);
            const reference = result.efRows.find((entry) => entry.ef === chosen)?.p50;
            return result.efRows.map((entry) => [
                count(result.size), entry.ef === chosen ? `**${entry.ef}**` : String(entry.ef),
                entry.recall10.toFixed(3), entry.recall20.toFixed(3), ms(entry.p50), ms(entry.p95),
                reference != null ? `${(entry.p50 / reference).toFixed(2)}×` : "-",
            ]);
        }),
    );
    const build = markdownTable(
        ["chunks", "build s", "chunks/s", "graph saved at close s", "store.mdb MB", "graph MB"],
        results.map(({ size, store }) => [
            count(size), seconds(store.buildMs), (size / (store.buildMs / 1000)).toFixed(0), seconds(store.closeMs), megabytes(store.storeBytes), megabytes(store.graphBytes),
        ]),
    );
    const smallCommit = markdownTable(
        ["chunks", "open writer ms", "commit ms", "close ms"],
        results.map(({ size, store }) => [count(size), ms(store.smallOpenWriterMs), ms(store.smallCommitMs), ms(store.smallCloseMs)]),
    );
    const opening = markdownTable(
        ["chunks", "open ms", "first question, 3 modes, ms", "resident MB (open)", "resident bytes per chunk"],
        results.map(({ size, store: { probe: p } }) => [
            count(size), ms(p.openMs), ms(p.firstQuestionMs), megabytes(p.rssBytes - p.baselineRssBytes).replace(/ .*/, ""),
            ((p.rssBytes - p.baselineRssBytes) / size).toFixed(0),
        ]),
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
        `- HNSW: m ${defaults.hnswM}, efConstruction ${defaults.hnswEfConstruction}, efSearch by size (${options.sizes.map((size) => `${count(size)}: ${autoEfSearch(size)}`).join(", ")}; the configured defaults), cosine space, hnswlib-node`,
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
        "### The embedded store",
        "",
        `Built through the writer: documents of ${CHUNKS_PER_DOCUMENT} chunks, a commit every ${count(CHUNKS_PER_COMMIT)} chunks (tokenizing for BM25 included), then closed (which saves the HNSW graph).`,
        "",
        build,
        "",
        `One document of 3 chunks committed into it, ${SMALL_COMMITS} times (medians): a commit writes only what changed, so its cost does not follow the knowledge base's size.`,
        "",
        smallCommit,
        "",
        "Opening it in a fresh process (`--probe`): the saved graph read, the commits since replayed (none here: `kb compact` ran), and the first question in each mode." +
        " Resident memory is the process's RSS after that, less its RSS before opening (with Yizhi's modules and jieba's dictionary loaded): the graph (vectors and links), and the pages of the store that were read.",
        "",
        opening,
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
    if (options.probe != null) return probe(options.probe, options.dim);
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
