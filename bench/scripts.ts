/**
 * Retrieval across Chinese scripts. CMRC 2018 (trial) and XQuAD zh are simplified; their
 * traditional versions are made here with OpenCC (opencc-js, `cn` → `tw`, Taiwan characters, and
 * `cn` → `hk`). Prints Markdown tables:
 *
 *  1. lexical tokenizers side by side: BM25 over whole paragraphs with each way of making terms,
 *     recall of the question's paragraph, for simplified, traditional and cross-script questions;
 *  2. Yizhi's own retrieval (the shipped tokenizer, chunking, bm25 and hybrid modes) on the same
 *     sets, through the code of `yizhi eval`.
 *
 *   npm run bench:scripts -- [--datasets cmrc,xquad-zh]
 *
 * Models come from `YIZHI_*` variables; with none set, the tiny test model is used for the
 * embeddings, whose vectors carry almost no meaning (the bm25 rows do not use them).
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as OpenCC from "opencc-js";
import { buildEvalIndex, evaluateRetrieval } from "../src/evaluation/evaluateRetrieval.js";
import { readEvalFile, type EvalSet } from "../src/evaluation/readEvalFile.js";
import { Bm25Query, termCounts } from "../src/retrieval/bm25.js";
import { segment, tokenize } from "../src/retrieval/tokenize.js";
import { Yizhi } from "../src/yizhi.js";
import { benchConfig, datasetFiles, datasetNames, log, percent, table } from "./retrievalBench.js";

const toTaiwan = OpenCC.Converter({ from: "cn", to: "tw" });
const toHongKong = OpenCC.Converter({ from: "cn", to: "hk" });
const taiwanToSimplified = OpenCC.Converter({ from: "tw", to: "cn" });

/** The set with every passage, question and answer converted. */
function convertSet(set: EvalSet, convert: (text: string) => string): EvalSet {
    return {
        ...set,
        passages: set.passages.map((passage) => ({ ...passage, text: convert(passage.text) })),
        questions: set.questions.map((question) => ({ ...question, question: convert(question.question), answers: question.answers.map(convert) })),
    };
}

/** `documents`' passages with `questions`' question texts: the two sets must come from the same one. */
function crossSet(documents: EvalSet, questions: EvalSet): EvalSet {
    return { ...documents, questions: documents.questions.map((question, i) => ({ ...question, question: questions.questions[i]!.question })) };
}

/** Overlapping character pairs of each run of Chinese characters; other text as `segment` makes it. */
function bigrams(text: string): string[] {
    const terms: string[] = [];
    for (const run of text.normalize("NFKC").match(/\p{Script=Han}+/gu) ?? []) {
        if (run.length === 1) terms.push(run);
        for (let i = 0; i + 1 < run.length; i++) terms.push(run.slice(i, i + 2));
    }
    return [...terms, ...segment(text.replace(/\p{Script=Han}+/gu, " "))];
}

const tokenizers: { name: string; terms: (text: string) => string[] }[] = [
    { name: "jieba (before)", terms: segment },
    { name: "OpenCC t→cn + jieba (shipped)", terms: tokenize },
    { name: "OpenCC tw→cn + jieba", terms: (text) => segment(taiwanToSimplified(text)) },
    { name: "character bigrams", terms: bigrams },
    { name: "jieba + bigrams", terms: (text) => [...segment(text), ...bigrams(text)] },
];

/** Recall@1 and @5 of the gold paragraph, BM25 over whole paragraphs, terms by `terms`. */
function paragraphRecall(set: EvalSet, terms: (text: string) => string[]): { r1: number; r5: number } {
    const postings = new Map<string, number[]>();
    let totalLength = 0;
    set.passages.forEach((passage, label) => {
        const { counts, length } = termCounts(terms(passage.text));
        totalLength += length;
        for (const [term, count] of counts) {
            const list = postings.get(term) ?? [];
            list.push(label, count, length);
            postings.set(term, list);
        }
    });
    const stats = { chunks: set.passages.length, totalLength };
    let r1 = 0;
    let r5 = 0;
    const questions = set.questions.filter((question) => !question.impossible);
    for (const question of questions) {
        const query = new Bm25Query(terms(question.question), stats, (term) => (postings.get(term)?.length ?? 0) / 3);
        const hits = query.search((term) => [postings.get(term) ?? []], 5);
        const rank = hits.findIndex((hit) => question.goldPassageIds.includes(set.passages[hit.label]!.id)) + 1;
        if (rank === 1) r1++;
        if (rank >= 1) r5++;
    }
    return { r1: r1 / questions.length, r5: r5 / questions.length };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ args: process.argv.slice(2), options: { datasets: { type: "string", default: "cmrc,xquad-zh" } }, strict: true });
    const names = datasetNames(values.datasets);

    const lexicalRows: string[][] = [];
    const yizhiRows: string[][] = [];
    for (const name of names) {
        const simplified = await readEvalFile(datasetFiles[name], "squad");
        const taiwan = convertSet(simplified, toTaiwan);
        const hongKong = convertSet(simplified, toHongKong);
        const variants: [string, EvalSet][] = [
            ["simplified", simplified],
            ["traditional (tw)", taiwan],
            ["traditional (hk)", hongKong],
            ["tw questions, simplified documents", crossSet(simplified, taiwan)],
            ["simplified questions, tw documents", crossSet(taiwan, simplified)],
        ];
        for (const [variant, set] of variants) {
            log(`${name} ${variant}: tokenizers`);
            const row = [name, variant];
            for (const tokenizer of tokenizers) {
                const { r1, r5 } = paragraphRecall(set, tokenizer.terms);
                row.push(`${percent(r1)} / ${percent(r5)}`);
            }
            lexicalRows.push(row);
        }

        const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-scripts-"));
        const yizhi = new Yizhi(benchConfig(dataDir));
        try {
            const indexes = {
                simplified: await buildEvalIndex(yizhi, "simplified", simplified),
                taiwan: await buildEvalIndex(yizhi, "taiwan", taiwan),
            };
            const runs: [string, keyof typeof indexes, EvalSet][] = [
                ["simplified", "simplified", simplified],
                ["traditional (tw)", "taiwan", taiwan],
                ["tw questions, simplified documents", "simplified", crossSet(simplified, taiwan)],
                ["simplified questions, tw documents", "taiwan", crossSet(taiwan, simplified)],
            ];
            for (const [variant, index, set] of runs) {
                log(`${name} ${variant}: Yizhi`);
                const row = [name, variant];
                for (const mode of ["bm25", "hybrid"] as const) {
                    const report = await evaluateRetrieval(yizhi, indexes[index], set, { mode });
                    row.push(percent(report["recall@1"]!), percent(report["recall@5"]!));
                }
                yizhiRows.push(row);
            }
        } finally {
            await yizhi.dispose();
            await fs.rm(dataDir, { recursive: true, force: true });
        }
    }

    const out = [
        "# Retrieval across Chinese scripts\n",
        "Traditional sets made with OpenCC (opencc-js) from the simplified ones. Recall in %.\n",
        "## Lexical terms, BM25 over whole paragraphs (recall@1 / recall@5 of the question's paragraph)\n",
        table(["dataset", "questions → documents", ...tokenizers.map((tokenizer) => tokenizer.name)], lexicalRows),
        `\n## Yizhi's retrieval (shipped tokenizer; embedder ${benchConfig(os.tmpdir()).embeddingModel})\n`,
        table(["dataset", "questions → documents", "bm25 r@1", "bm25 r@5", "hybrid r@1", "hybrid r@5"], yizhiRows),
    ];
    process.stdout.write(`${out.join("\n")}\n`);
}

await main();
