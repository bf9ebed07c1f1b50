/**
 * Answer throughput of `yizhi serve`: the real server, the real test model, questions sent by 1 and
 * by 4 concurrent clients over HTTP, side by side in one run. Prints a Markdown table.
 *
 *   npm run bench:answers -- [--questions N] [--threads N]
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/loadConfig.js";
import { startServer } from "../src/server/startServer.js";

const sharedDir = fileURLToPath(new URL("../../shared/", import.meta.url));
const modelPath = path.join(sharedDir, "models", "stories260K.gguf");
const documents = ["zh/md/zh_llm_inference_optimization.md", "zh/md/zh_llm_tech_stack_algorithms.md"].map((file) => path.join(sharedDir, "fixtures", file));
const questions = ["大模型推理有哪些优化方法？", "什么是 KV Cache？", "Flash Attention 解决什么问题？", "如何做量化？"];

interface RunResult {
    clients: number;
    answers: number;
    wallMs: number;
    latenciesMs: number[];
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function ask(url: string, question: string): Promise<number> {
    const started = performance.now();
    const response = await fetch(`${url}/ask`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question, kb: "bench", scoreThreshold: -1, topK: 2 }),
    });
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    await response.json();
    return performance.now() - started;
}

/** `clients` loops, each asking its share of `total` questions one after another. */
async function run(url: string, clients: number, total: number): Promise<RunResult> {
    const latenciesMs: number[] = [];
    const started = performance.now();
    await Promise.all(Array.from({ length: clients }, async (_, client) => {
        for (let i = client; i < total; i += clients) latenciesMs.push(await ask(url, questions[i % questions.length]!));
    }));
    return { clients, answers: total, wallMs: performance.now() - started, latenciesMs };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { questions: { type: "string", default: "24" }, threads: { type: "string", default: "1" } } });
    const total = Number(values.questions);
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-answers-"));
    const { config } = loadConfig({
        env: process.env,
        flags: {
            dataDir, llmModel: modelPath, embeddingModel: modelPath, threads: Number(values.threads),
            contextSize: 2048, embeddingContextSize: 64, chunkSize: 100, chunkOverlap: 10, maxAnswerTokens: 64, parallelAnswers: 4,
        },
    });
    const server = await startServer({ config, port: 0, log: () => undefined });
    try {
        await server.ready;
        await server.yizhi.knowledgeBases.ingest("bench", documents);
        await run(server.url, 1, 4); // warm-up
        const results = [await run(server.url, 1, total), await run(server.url, 4, total)];
        const single = results[0]!;
        console.log(`## Answer throughput\n\n- ${os.cpus()[0]?.model.trim()} × ${os.cpus().length}, node ${process.version}, load ${os.loadavg().map((v) => v.toFixed(2)).join(", ")}`);
        console.log(`- test model stories260K, threads ${config.threads}, 4 sequences in one context, up to ${config.maxAnswerTokens} answer tokens, top-2 sources, ${total} questions per row\n`);
        console.log("| clients | answers | wall s | answers/s | median latency ms | speed-up vs 1 client |");
        console.log("|---|---|---|---|---|---|");
        for (const result of results) {
            const perSecond = result.answers / (result.wallMs / 1000);
            const speedUp = perSecond / (single.answers / (single.wallMs / 1000));
            console.log(`| ${result.clients} | ${result.answers} | ${(result.wallMs / 1000).toFixed(2)} | ${perSecond.toFixed(2)} | ${median(result.latenciesMs).toFixed(0)} | ${speedUp.toFixed(2)}× |`);
        }
    } finally {
        await server.close();
        await fs.rm(dataDir, { recursive: true, force: true });
    }
}

await main();
