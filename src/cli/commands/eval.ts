import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import cliProgress from "cli-progress";
import { Option, type Command } from "commander";
import { buildEvalIndex, evaluateRetrieval, RECALL_RANKS, type EvalIndex, type EvalProgress, type EvalReport } from "../../evaluation/evaluateRetrieval.js";
import { guessEvalFormat, readEvalFile, type EvalFormat } from "../../evaluation/readEvalFile.js";
import { retrievalModes, type RetrievalMode } from "../../retrieval/retrieveChunks.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand, integerBetween, parseInteger } from "../globalOptions.js";
import { printJson } from "../output.js";

interface EvalFlags {
    format?: EvalFormat;
    mode?: RetrievalMode | "all";
    k: number;
    json?: boolean;
    answers?: boolean;
    limit?: number;
    chunkSize?: number;
    chunkOverlap?: number;
}

export function registerEvalCommand(program: Command): void {
    program.command("eval")
        .description("measure retrieval on a question set (SQuAD v1/v2 JSON or RGB JSON Lines) in a temporary knowledge base")
        .argument("<file>", "the question set")
        .addOption(new Option("--format <format>", "squad or rgb (default: rgb for .jsonl, squad otherwise)").choices(["squad", "rgb"]))
        .addOption(new Option("--mode <mode>", "retrieval mode, or all three side by side ($YIZHI_RETRIEVAL_MODE)").choices([...retrievalModes, "all"]))
        .option("--k <n>", "chunks retrieved per question, 1 to 100", integerBetween(1, 100), 10)
        .option("--answers", "also have the LLM answer each question and check for a gold answer (slow)")
        .option("--limit <n>", "only the first n questions", integerBetween(1, Number.MAX_SAFE_INTEGER))
        .option("--chunk-size <chars>", "chunk size in characters ($YIZHI_CHUNK_SIZE)", parseInteger)
        .option("--chunk-overlap <chars>", "chunk overlap in characters ($YIZHI_CHUNK_OVERLAP)", parseInteger)
        .option("--json", "print the results as JSON")
        .action(async (file: string, flags: EvalFlags, command: Command) => {
            const loaded = configFromCommand(command, { chunkSize: flags.chunkSize, chunkOverlap: flags.chunkOverlap });
            const set = await readEvalFile(file, flags.format ?? guessEvalFormat(file));
            if (flags.limit != null) set.questions = set.questions.slice(0, flags.limit);
            const modes = flags.mode === "all" ? [...retrievalModes] : [flags.mode ?? loaded.config.retrievalMode];

            // The temporary knowledge base lives in the configured storage: in a folder of its own, or in the database under a name of its own.
            const dataDir = loaded.config.storage === "file" ? await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-eval-")) : undefined;
            const yizhi = new Yizhi(dataDir != null ? { ...loaded.config, dataDir } : loaded.config);
            const kbName = dataDir != null ? "eval" : `eval-${randomBytes(6).toString("hex")}`;
            const progress = process.stderr.isTTY ? createEvalProgressBar() : undefined;
            let index: EvalIndex | undefined;
            try {
                index = await buildEvalIndex(yizhi, kbName, set, progress?.update);
                const reports: EvalReport[] = [];
                for (const mode of modes) {
                    reports.push(await evaluateRetrieval(yizhi, index, set, {
                        mode, k: flags.k, answers: flags.answers === true, ...(progress != null ? { onProgress: progress.update } : {}),
                    }));
                }
                progress?.stop();
                if (flags.json === true) printJson(reports.length === 1 ? reports[0] : reports);
                else process.stdout.write(formatTable(reports));
            } finally {
                progress?.stop();
                await index?.knowledgeBase.close();
                if (dataDir == null && await yizhi.storage.exists(kbName).catch(() => false)) await yizhi.storage.delete(kbName);
                await yizhi.dispose();
                if (dataDir != null) await fs.rm(dataDir, { recursive: true, force: true });
            }
        });
}

function createEvalProgressBar(): { update: (progress: EvalProgress) => void; stop: () => void } {
    const bar = new cliProgress.SingleBar({
        format: "{phase} {bar} {value}/{total} | ETA {eta_formatted}",
        hideCursor: true,
        stream: process.stderr,
    }, cliProgress.Presets.shades_classic);
    let phase: EvalProgress["phase"] | undefined;
    return {
        update(progress) {
            if (progress.phase !== phase) {
                if (phase != null) bar.stop();
                phase = progress.phase;
                bar.start(progress.total, progress.done, { phase: phase.padEnd(9) });
            } else {
                bar.update(progress.done);
            }
        },
        stop() {
            if (phase != null) bar.stop();
            phase = undefined;
        },
    };
}

/** One column per mode, one row per measure. */
function formatTable(reports: readonly EvalReport[]): string {
    const first = reports[0]!;
    const percent = (value: number | undefined) => (value == null ? "" : `${(value * 100).toFixed(1)} %`);
    const rows: [string, (report: EvalReport) => string][] = [["mode", (report) => report.mode + (report.reranked ? " + reranker" : "")]];
    for (const r of RECALL_RANKS) if (r <= first.k) rows.push([`recall@${r}`, (report) => percent(report[`recall@${r}`])]);
    rows.push(["mrr@10", (report) => report["mrr@10"].toFixed(3)]);
    if (first.answerInTop5 != null) rows.push(["gold answer in top 5", (report) => percent(report.answerInTop5)]);
    if (first.impossibleQuestions > 0) rows.push(["impossible questions refused", (report) => percent(report.refusedImpossible)]);
    rows.push(["answerable questions refused", (report) => percent(report.refusedAnswerable)]);
    if (first.answerContainsGold != null) rows.push(["answers containing a gold answer", (report) => percent(report.answerContainsGold)]);
    rows.push(["median retrieval time", (report) => `${report.timings.retrievalMsMedian.toFixed(2)} ms`]);

    const cells = rows.map(([label, value]) => [label, ...reports.map(value)]);
    const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
    const lines = cells.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  "));
    const header = `${first.format}: ${first.questions} answerable questions` +
        `${first.impossibleQuestions > 0 ? ` and ${first.impossibleQuestions} impossible ones` : ""}` +
        `${first.skippedQuestions > 0 ? ` (${first.skippedQuestions} left out: empty or without a gold answer)` : ""}, ` +
        `${first.passages} passages in ${first.chunks} chunks (indexed in ${(first.timings.indexingMs / 1000).toFixed(1)} s), k = ${first.k}`;
    return `${header}\n\n${lines.join("\n")}\n`;
}
