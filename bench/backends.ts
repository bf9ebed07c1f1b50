/*
 * The two storage backends side by side, in one run, on one corpus: the embedded file store and
 * PostgreSQL + pgvector (PGlite in this process, served on loopback as the tests serve it, or the
 * server named by --database-url). Real Chinese passages (the news fixture), synthetic clustered
 * vectors (no real embedding model runs here), questions made of a passage's words.
 *
 *   npm run bench:backends -- [--chunks 10000] [--dim 384] [--queries 200] [--database-url postgres://…]
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { configSchema } from "../src/config/schema.js";
import { retrievalModes, retrieveChunks, type RetrievalSettings } from "../src/retrieval/retrieveChunks.js";
import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import { PostgresStorage } from "../src/store/postgres/postgresStorage.js";
import type { Storage } from "../src/store/storage.js";
import { autoEfSearch } from "../src/store/vectorGraph.js";
import { mulberry32 } from "../tests/helpers.js";
import { startPglite } from "../tests/testDatabases.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const defaults = configSchema.parse({});
const CHUNKS_PER_DOCUMENT = 20;
const SMALL_COMMITS = 20;
const WARM_UP = 20;

const { values } = parseArgs({
    options: {
        chunks: { type: "string", default: "10000" },
        dim: { type: "string", default: "384" },
        queries: { type: "string", default: "200" },
        "database-url": { type: "string" },
    },
});
const size = Number(values.chunks);
const dim = Number(values.dim);
const queryCount = Number(values.queries);
const started = performance.now();
const progress = (message: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

function percentile(sorted: readonly number[], p: number): number {
    const values = [...sorted].sort((a, b) => a - b);
    return values[Math.min(values.length - 1, Math.floor(p * values.length))]!;
}

/** Passages of about 100–200 characters from the news fixture, cycled to `size`. */
async function passages(): Promise<string[]> {
    const text = await fs.readFile(path.resolve(repoRoot, "../shared/fixtures/zh/crud_news_documents_dup_part_1_part_1.txt"), "utf8");
    const pieces = text.split("\n").flatMap((line) => line.match(/[^。！？]{20,200}[。！？]/g) ?? []);
    return Array.from({ length: size }, (_, i) => pieces[i % pieces.length]!);
}

/** Unit vectors around 1/10 as many cluster centres, and queries near stored points. */
function vectors(random: () => number): { stored: number[][]; queries: number[][] } {
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const normal = (vector: number[]) => {
        const norm = Math.hypot(...vector);
        return vector.map((value) => value / norm);
    };
    const centres = Array.from({ length: Math.ceil(size / 10) }, () => normal(Array.from({ length: dim }, gaussian)));
    const stored = Array.from({ length: size }, (_, i) => normal(centres[i % centres.length]!.map((value) => value + gaussian() * 0.6 / Math.sqrt(dim))));
    const queries = Array.from({ length: queryCount + WARM_UP }, () => normal(stored[Math.floor(random() * size)]!.map((value) => value + gaussian() * 0.7 / Math.sqrt(dim))));
    return { stored, queries };
}

function exactTop(stored: readonly number[][], query: readonly number[], k: number): number[] {
    const scores = stored.map((vector, i) => [i, vector.reduce((sum, value, j) => sum + value * query[j]!, 0)] as const);
    return scores.sort((a, b) => b[1] - a[1]).slice(0, k).map(([i]) => i);
}

interface Result {
    backend: string;
    ingestMs: number;
    smallCommitMs: number;
    modes: { mode: string; p50: number; p95: number }[];
    recall10: number;
}

async function bench(backend: string, storage: Storage, texts: readonly string[], data: ReturnType<typeof vectors>, exact: number[][]): Promise<Result> {
    const embedder = { id: "bench-synthetic", dimension: dim };
    const writer = await storage.openWriter("bench", embedder, { create: true });
    const labelOf: number[] = [];
    const at = performance.now();
    for (let from = 0; from < size; from += CHUNKS_PER_DOCUMENT) {
        const to = Math.min(size, from + CHUNKS_PER_DOCUMENT);
        const document = { id: `doc-${from}`, source: `/bench/doc-${from}.txt`, hash: `hash-${from}`, fileHash: `file-${from}`, format: "txt", sizeBytes: 1, ingestedAt: "2026-12-02T00:00:00.000Z" };
        const record = await writer.putDocument(document, texts.slice(from, to).map((text, i) => ({ index: i, text, start: 0 })), data.stored.slice(from, to));
        record.labels.forEach((label, i) => (labelOf[label] = from + i));
        // As ingest commits: each document on its own on PostgreSQL, every 2 s of work on the file store.
        if (storage.commitIntervalMs === 0 || to % 2000 === 0 || to === size) await writer.commit();
    }
    await writer.commit();
    await writer.close();
    const ingestMs = performance.now() - at;
    progress(`${backend}: ${size} chunks ingested in ${(ingestMs / 1000).toFixed(1)} s`);

    const small: number[] = [];
    for (let round = 0; round < SMALL_COMMITS; round++) {
        const kb = await storage.openWriter("bench", embedder);
        await kb.putDocument({ id: `small-${round}`, source: `/small-${round}.txt`, hash: `small-${round}`, fileHash: `small-${round}`, format: "txt", sizeBytes: 1, ingestedAt: "2026-12-02T00:00:00.000Z" },
            [0, 1, 2].map((i) => ({ index: i, text: texts[round * 3 + i]!, start: 0 })), [0, 1, 2].map((i) => data.queries[round + i]!));
        const commitAt = performance.now();
        await kb.commit();
        small.push(performance.now() - commitAt);
        await kb.close();
    }

    const reader = await storage.openReader("bench", embedder);
    const questions = data.queries.map((vector, i) => ({ text: texts[(i * 7919) % size]!.slice(0, 30), vector }));
    const modes = [];
    for (const mode of retrievalModes) {
        const settings: RetrievalSettings = {
            mode, topK: defaults.topK, scoreThreshold: -1, lexicalThreshold: 0,
            rerankThreshold: defaults.rerankThreshold, rrfK: defaults.rrfK, candidates: defaults.retrievalCandidates,
        };
        for (const question of questions.slice(0, WARM_UP)) await retrieveChunks(reader, question, settings);
        const times: number[] = [];
        for (const question of questions.slice(WARM_UP)) {
            const queryAt = performance.now();
            await retrieveChunks(reader, question, settings);
            times.push(performance.now() - queryAt);
        }
        modes.push({ mode, p50: percentile(times, 0.5), p95: percentile(times, 0.95) });
        progress(`${backend}: ${mode} p50 ${percentile(times, 0.5).toFixed(2)} ms`);
    }
    let found = 0;
    for (const [i, query] of data.queries.slice(WARM_UP).entries()) {
        const hits = await reader.denseSearch(query, 10);
        const wanted = new Set(exact[i]);
        found += hits.filter((hit) => wanted.has(labelOf[hit.label]!)).length;
    }
    await reader.close();
    return { backend, ingestMs, smallCommitMs: percentile(small, 0.5), modes, recall10: found / (10 * queryCount) };
}

const random = mulberry32(1);
const texts = await passages();
const data = vectors(random);
progress(`exact top 10 for ${queryCount} queries`);
const exact = data.queries.slice(WARM_UP).map((query) => exactTop(data.stored, query, 10));
const temp = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-backends-"));
const hnsw = { m: defaults.hnswM, efConstruction: defaults.hnswEfConstruction };
const pglite = values["database-url"] == null ? await startPglite() : undefined;
const url = values["database-url"] ?? pglite!.url;
const postgres = new PostgresStorage({ url, hnsw });
const results: Result[] = [];
try {
    results.push(await bench("file", new EmbeddedStorage({ dataDir: temp, hnsw }), texts, data, exact));
    results.push(await bench(values["database-url"] == null ? "postgres (PGlite)" : "postgres", postgres, texts, data, exact));
} finally {
    await postgres.close();
    await pglite?.stop();
    await fs.rm(temp, { recursive: true, force: true });
}
const [file, pg] = results as [Result, Result];
const ratio = (a: number, b: number) => `${(b / a).toFixed(1)}×`;
console.log([
    `${size} chunks, ${dim}-d synthetic vectors, news passages; ${queryCount} timed questions per mode; ef ${autoEfSearch(size)}; ${os.cpus().length} cores; load at end ${os.loadavg()[0]!.toFixed(2)}`,
    "",
    "| | file | postgres | postgres ÷ file |",
    "|---|---|---|---|",
    `| ingest, chunks/s | ${(size / file.ingestMs * 1000).toFixed(0)} | ${(size / pg.ingestMs * 1000).toFixed(0)} | ${ratio(size / pg.ingestMs, size / file.ingestMs)} slower |`,
    `| commit of one 3-chunk document (median of ${SMALL_COMMITS}), ms | ${file.smallCommitMs.toFixed(1)} | ${pg.smallCommitMs.toFixed(1)} | ${ratio(file.smallCommitMs, pg.smallCommitMs)} |`,
    ...file.modes.map((row, i) => {
        const other = pg.modes[i]!;
        return `| ${row.mode} p50 / p95, ms | ${row.p50.toFixed(2)} / ${row.p95.toFixed(2)} | ${other.p50.toFixed(2)} / ${other.p95.toFixed(2)} | ${ratio(row.p50, other.p50)} |`;
    }),
    `| dense recall@10 against exact search | ${file.recall10.toFixed(3)} | ${pg.recall10.toFixed(3)} | |`,
].join("\n"));
