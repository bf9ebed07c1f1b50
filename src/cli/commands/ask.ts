import type { Command } from "commander";
import type { AnswerSource, AnswerStage } from "../../answer/answerQuestion.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand, parseInteger, parseNumber, requiredOption } from "../globalOptions.js";
import { printJson } from "../output.js";
import { distinctNames } from "../distinctNames.js";
import { StatusLine } from "../statusLine.js";

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
            const status = new StatusLine();
            const stageText: Record<AnswerStage, string> = {
                retrieving: `Searching "${flags.kb}"…`,
                loadingModel: "Loading the chat model…",
                writing: "Writing the answer…",
            };
            try {
                const streaming = flags.json !== true;
                const printChunk = (text: string) => {
                    status.clear();
                    process.stdout.write(text);
                };
                const result = await yizhi.knowledgeBases.ask(flags.kb, {
                    question,
                    onStage: (stage) => status.show(stageText[stage]),
                    ...(streaming ? { onTextChunk: printChunk } : {}),
                });
                status.clear();
                if (!streaming) {
                    printJson(result);
                    return;
                }
                process.stdout.write("\n");
                if (result.sources.length > 0) process.stdout.write(`\n${formatSources(result.sources)}`);
            } finally {
                status.clear();
                await yizhi.dispose();
            }
        });
}

function formatSources(sources: readonly AnswerSource[]): string {
    const names = distinctNames(sources.map((source) => source.source));
    return sources.map((source, i) => {
        const where = [names[i], source.page != null ? `p. ${source.page}` : undefined, source.headingPath?.join(" > ")]
            .filter((part) => part != null && part !== "").join(", ");
        const excerpt = source.text.length > 120 ? `${source.text.slice(0, 120)}…` : source.text;
        return `[${source.n}] ${where} (score ${source.score.toFixed(3)})\n    ${excerpt.replace(/\s+/g, " ")}\n`;
    }).join("");
}
