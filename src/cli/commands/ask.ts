import path from "node:path";
import type { Command } from "commander";
import type { AnswerSource } from "../../answer/answerQuestion.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand, parseInteger, parseNumber, requiredOption } from "../globalOptions.js";
import { printJson } from "../output.js";

interface AskFlags {
    kb: string;
    topK?: number;
    mode?: string;
    threshold?: number;
    lexicalThreshold?: number;
    json?: boolean;
}

export function registerAskCommand(program: Command): void {
    requiredOption(program.command("ask")
        .description("answer a question from a knowledge base, citing its sources")
        .argument("<question>", "the question"),
    "--kb <name>", "knowledge base")
        .option("--top-k <n>", "chunks to retrieve ($YIZHI_TOP_K, default 5)", parseInteger)
        .option("--mode <mode>", "retrieval: dense | bm25 | hybrid ($YIZHI_RETRIEVAL_MODE, default hybrid)")
        .option("--threshold <score>", "lowest cosine similarity, -1..1, in dense and hybrid modes ($YIZHI_SCORE_THRESHOLD, default 0.5)", parseNumber)
        .option("--lexical-threshold <score>", "lowest BM25 relevance, 0..1, in bm25 and hybrid modes ($YIZHI_LEXICAL_THRESHOLD, default 0.3)", parseNumber)
        .option("--json", "print the whole result as JSON")
        .action(async (question: string, flags: AskFlags, command: Command) => {
            const { config } = configFromCommand(command, {
                topK: flags.topK,
                retrievalMode: flags.mode,
                scoreThreshold: flags.threshold,
                lexicalThreshold: flags.lexicalThreshold,
            }, { retrievalMode: "--mode", scoreThreshold: "--threshold" });
            const yizhi = new Yizhi(config);
            try {
                const streaming = flags.json !== true;
                const result = await yizhi.knowledgeBases.ask(flags.kb, {
                    question,
                    ...(streaming ? { onTextChunk: (text: string) => process.stdout.write(text) } : {}),
                });
                if (!streaming) {
                    printJson(result);
                    return;
                }
                process.stdout.write("\n");
                if (result.sources.length > 0) process.stdout.write(`\n${formatSources(result.sources)}`);
            } finally {
                await yizhi.dispose();
            }
        });
}

function formatSources(sources: readonly AnswerSource[]): string {
    return sources.map((source) => {
        const where = [path.basename(source.source), source.page != null ? `p. ${source.page}` : undefined, source.headingPath?.join(" > ")]
            .filter((part) => part != null && part !== "").join(", ");
        const excerpt = source.text.length > 120 ? `${source.text.slice(0, 120)}…` : source.text;
        return `[${source.n}] ${where} (score ${source.score.toFixed(3)})\n    ${excerpt.replace(/\s+/g, " ")}\n`;
    }).join("");
}
