/**
 * Retrieval-quality benchmark on CMRC 2018 (trial) and XQuAD zh/en, through the same code as
 * `yizhi eval`: every paragraph ingested as one document, each question ranked, a hit being a chunk
 * of the question's paragraph that contains its answer. Prints Markdown tables:
 *
 *  1. each mode (dense, bm25, hybrid) against a naive baseline: LangChain.js's
 *     RecursiveCharacterTextSplitter(1000, 200) into LangChain's community HNSWLib at its defaults,
 *     with the same embedder;
 *  2. a sweep of chunk size and overlap;
 *  3. a sweep of the reciprocal-rank-fusion k;
 *  4. the refusal trade-off of the lexical threshold, on questions whose paragraph is held out.
 *
 *   npm run bench:retrieval -- [--datasets cmrc,xquad-zh,xquad-en] [--sizes 200,400,800]
 *                              [--overlaps 0,50,100] [--rrf-k 1,10,30,60,100] [--quick]
 *
 * Models and settings come from `YIZHI_*` variables (a real embedding GGUF works unchanged); with
 * none set, the tiny test model is used, whose embeddings carry almost no meaning.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { HNSWLib } from "@langchain/community/vectorstores/hnswlib";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import type { Config } from "../src/config/schema.js";
import { buildEvalIndex, containsAnswer, evaluateRetrieval, type EvalReport } from "../src/evaluation/evaluateRetrieval.js";
import { readEvalFile, type EvalSet } from "../src/evaluation/readEvalFile.js";
import { retrievalModes, type RetrievalMode } from "../src/retrieval/retrieveChunks.js";
import { Yizhi } from "../src/yizhi.js";
import { benchConfig, datasetFiles, datasetNames, log, percent, table, type DatasetName } from "./retrievalBench.js";

interface BenchOptions {
    datasets: DatasetName[];
    sizes: number[];
    overlaps: number[];
    rrfKs: number[];
    lexicalThresholds: number[];
}

interface Scores {
    "recall@1": number;
    "recall@5": number;
    "recall@10": number;
    "mrr@10": number;
}

function parseOptions(argv: string[]): BenchOptions {
    const { values } = parseArgs({
        args: argv,
        options: {
            datasets: { type: "string", default: "cmrc,xquad-zh,xquad-en" },
            sizes: { type: "string", default: "200,400,800" },
            overlaps: { type: "string", default: "0,50,100" },
            "rrf-k": { type: "string", default: "1,10,30,60,100" },
            quick: { type: "boolean", default: false },
        },
        strict: true,
    });
    const datasets = datasetNames(values.datasets);
    const numbers = (flag: string, raw: string) => raw.split(",").map((item) => {
        const value = Number(item);
        if (!Number.isFinite(value) || value < 0) throw new Error(`${flag}: "${item}" is not a number ≥ 0`);
        return value;
    });
    return {
        datasets,
        sizes: values.quick ? [400] : numbers("--sizes", values.sizes),
        overlaps: values.quick ? [50] : numbers("--overlaps", values.overlaps),
        rrfKs: values.quick ? [60] : numbers("--rrf-k", values["rrf-k"]),
        lexicalThresholds: [0.1, 0.2, 0.3, 0.4, 0.5],
    };
}

function pick(report: EvalReport): Scores {
    return { "recall@1": report["recall@1"]!, "recall@5": report["recall@5"]!, "recall@10": report["recall@10"]!, "mrr@10": report["mrr@10"] };
}

/** The naive baseline: LangChain's splitter at (1000, 200) and community HNSWLib at its defaults, same embedder. */
async function baseline(yizhi: Yizhi, set: EvalSet): Promise<Scores> {
    const splitter = new RecursiveCharacterTextSplitter({ chunkSize: 1000, chunkOverlap: 200 });
    const documents = await splitter.createDocuments(set.passages.map((passage) => passage.text), set.passages.map((passage) => ({ passageId: passage.id })));
    const store = await HNSWLib.fromDocuments(documents, yizhi.models.embeddings);
    const questions = set.questions.filter((question) => !question.impossible);
    const ranks: number[] = [];
    for (const question of questions) {
        const found = await store.similaritySearch(question.question, 10);
        ranks.push(found.findIndex((document) =>
            question.goldPassageIds.includes(String(document.metadata.passageId)) && containsAnswer(document.pageContent, question.answers)) + 1);
    }
    const share = (predicate: (rank: number) => boolean) => ranks.filter(predicate).length / questions.length;
    return {
        "recall@1": share((rank) => rank === 1),
        "recall@5": share((rank) => rank >= 1 && rank <= 5),
        "recall@10": share((rank) => rank >= 1),
        "mrr@10": ranks.reduce((sum, rank) => sum + (rank > 0 ? 1 / rank : 0), 0) / questions.length,
    };
}

/** Every other paragraph held out: the questions about it are unanswerable from what is indexed. */
function holdOut(set: EvalSet): EvalSet {
    const kept = new Set(set.passages.filter((_, i) => i % 2 === 0).map((passage) => passage.id));
    return {
        ...set,
        passages: set.passages.filter((passage) => kept.has(passage.id)),
        questions: set.questions.map((question) => ({ ...question, impossible: !question.goldPassageIds.some((id) => kept.has(id)) })),
    };
}

async function withYizhi<T>(overrides: Partial<Config>, run: (yizhi: Yizhi) => Promise<T>): Promise<T> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-retrieval-"));
    const yizhi = new Yizhi(benchConfig(dataDir, overrides));
    try {
        return await run(yizhi);
    } finally {
        await yizhi.dispose();
        await fs.rm(dataDir, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    const options = parseOptions(process.argv.slice(2));
    const sets = new Map<DatasetName, EvalSet>();
    for (const name of options.datasets) sets.set(name, await readEvalFile(datasetFiles[name], "squad"));
    const defaults = benchConfig(os.tmpdir());
    const out: string[] = [];
    out.push(`# Retrieval benchmark\n\nEmbedding model: ${defaults.embeddingModel} (context ${defaults.embeddingContextSize} tokens). ` +
        `Defaults: chunk ${defaults.chunkSize}/${defaults.chunkOverlap}, rrfK ${defaults.rrfK}, candidates ${defaults.retrievalCandidates}, k = 10. ` +
        "Recall and MRR in %, MRR ×100.\n");

    // 1. Modes against the baseline, at the default chunking.
    const modeRows: string[][] = [];
    const rrfRows: string[][] = [];
    const thresholdRows: string[][] = [];
    for (const [name, set] of sets) {
        await withYizhi({}, async (yizhi) => {
            log(`${name}: indexing ${set.passages.length} passages at the default chunking`);
            const index = await buildEvalIndex(yizhi, "eval", set);
            const answerable = set.questions.filter((question) => !question.impossible).length;
            for (const mode of retrievalModes) {
                log(`${name}: ${mode}`);
                const scores = pick(await evaluateRetrieval(yizhi, index, set, { mode }));
                modeRows.push([name, mode, String(index.chunks), String(answerable), percent(scores["recall@1"]), percent(scores["recall@5"]), percent(scores["recall@10"]), percent(scores["mrr@10"])]);
            }
            log(`${name}: baseline`);
            const started = performance.now();
            const base = await baseline(yizhi, set);
            log(`${name}: baseline took ${((performance.now() - started) / 1000).toFixed(1)} s`);
            modeRows.push([name, "baseline (LangChain 1000/200 + HNSWLib)", "", String(answerable), percent(base["recall@1"]), percent(base["recall@5"]), percent(base["recall@10"]), percent(base["mrr@10"])]);

            // 3. RRF k, on the same index.
            for (const rrfK of options.rrfKs) {
                const scores = pick(await evaluateRetrieval(yizhi, index, set, { mode: "hybrid", overrides: { rrfK } }));
                rrfRows.push([name, String(rrfK), percent(scores["recall@1"]), percent(scores["recall@5"]), percent(scores["mrr@10"])]);
            }
        });

        // 4. Lexical threshold on held-out paragraphs.
        await withYizhi({}, async (yizhi) => {
            const heldOut = holdOut(set);
            log(`${name}: held-out index of ${heldOut.passages.length} passages`);
            const index = await buildEvalIndex(yizhi, "eval", heldOut);
            for (const lexicalThreshold of options.lexicalThresholds) {
                const report = await evaluateRetrieval(yizhi, index, heldOut, { mode: "bm25", overrides: { lexicalThreshold } });
                thresholdRows.push([name, "bm25", lexicalThreshold.toFixed(1), percent(report.refusedImpossible ?? 0), percent(report.refusedAnswerable)]);
            }
            // Hybrid lets a chunk through on either score: its refusals depend on the embedder too.
            const hybrid = await evaluateRetrieval(yizhi, index, heldOut, { mode: "hybrid" });
            thresholdRows.push([name, `hybrid (cosine ≥ ${yizhi.config.scoreThreshold} or lexical ≥ ${yizhi.config.lexicalThreshold})`, "",
                percent(hybrid.refusedImpossible ?? 0), percent(hybrid.refusedAnswerable)]);
        });
    }
    out.push("## Modes against the naive baseline\n");
    out.push(table(["dataset", "mode", "chunks", "questions", "recall@1", "recall@5", "recall@10", "MRR@10"], modeRows));

    // 2. Chunk size and overlap.
    const sweepRows: string[][] = [];
    for (const [name, set] of sets) {
        // The questions are the same at every chunking: embed each once.
        const queryVectors = new Map<string, number[]>();
        for (const chunkSize of options.sizes) {
            for (const chunkOverlap of options.overlaps) {
                if (chunkOverlap >= chunkSize) continue;
                await withYizhi({ chunkSize, chunkOverlap }, async (yizhi) => {
                    log(`${name}: chunk ${chunkSize}/${chunkOverlap}`);
                    const index = { ...await buildEvalIndex(yizhi, "eval", set), queryVectors };
                    const row = [name, String(chunkSize), String(chunkOverlap), String(index.chunks)];
                    for (const mode of ["bm25", "hybrid"] as RetrievalMode[]) {
                        const scores = pick(await evaluateRetrieval(yizhi, index, set, { mode }));
                        row.push(percent(scores["recall@1"]), percent(scores["recall@5"]), percent(scores["mrr@10"]));
                    }
                    sweepRows.push(row);
                });
            }
        }
    }
    out.push("\n## Chunk size and overlap (characters)\n");
    out.push(table(["dataset", "size", "overlap", "chunks", "bm25 r@1", "bm25 r@5", "bm25 MRR", "hybrid r@1", "hybrid r@5", "hybrid MRR"], sweepRows));
    out.push("\n## Reciprocal-rank fusion k (hybrid)\n");
    out.push(table(["dataset", "rrfK", "recall@1", "recall@5", "MRR@10"], rrfRows));
    out.push("\n## Refusal (every other paragraph held out, its questions unanswerable)\n");
    out.push(table(["dataset", "mode", "lexicalThreshold", "unanswerable refused", "answerable refused"], thresholdRows));
    process.stdout.write(`${out.join("\n")}\n`);
}

await main();
