/**
 * Answer throughput of `yizhi serve`, the real server and the real test model, with the answering
 * model in-process (node-llama-cpp) and on llama.cpp's llama-server (built by
 * scripts/build-llama-server.sh, serving the same model on loopback), questions sent by 1 and by 4
 * concurrent clients over HTTP, side by side in one run. Then Yizhi's overhead over llama-server:
 * each question asked through `/ask`, and the very prompt Yizhi built sent to llama-server's
 * `/v1/chat/completions` directly, alternately. Prints Markdown tables.
 *
 *   npm run bench:answers -- [--questions N] [--threads N]
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/loadConfig.js";
import type { Config, ConfigInput } from "../src/config/schema.js";
import { createModels } from "../src/models/createModels.js";
import type { ChatModel, GenerateOptions, Models } from "../src/models/models.js";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { startLlamaServer, type LlamaServer } from "../tests/llamaServer.js";

const sharedDir = fileURLToPath(new URL("../../shared/", import.meta.url));
const modelPath = path.join(sharedDir, "models", "stories260K.gguf");
const documents = ["zh/md/zh_llm_inference_optimization.md", "zh/md/zh_llm_tech_stack_algorithms.md"].map((file) => path.join(sharedDir, "fixtures", file));
const questions = ["大模型推理有哪些优化方法？", "什么是 KV Cache？", "Flash Attention 解决什么问题？", "如何做量化？"];
const SLOTS = 4;
const SLOT_CONTEXT = 2048;

interface RunResult {
    llm: string;
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

interface Timings {
    retrievalMs: number;
    generationMs: number;
    totalMs: number;
}

/** The timings of the last answer `ask` received. */
let lastTimings: Timings = { retrievalMs: 0, generationMs: 0, totalMs: 0 };

async function ask(url: string, question: string): Promise<number> {
    const started = performance.now();
    const response = await fetch(`${url}/ask`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question, kb: "bench", scoreThreshold: -1, topK: 2 }),
    });
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    lastTimings = (await response.json() as { timings: Timings }).timings;
    return performance.now() - started;
}

/** `clients` loops, each asking its share of `total` questions one after another. */
async function run(llm: string, url: string, clients: number, total: number): Promise<RunResult> {
    const latenciesMs: number[] = [];
    const started = performance.now();
    await Promise.all(Array.from({ length: clients }, async (_, client) => {
        for (let i = client; i < total; i += clients) latenciesMs.push(await ask(url, questions[i % questions.length]!));
    }));
    return { llm, clients, answers: total, wallMs: performance.now() - started, latenciesMs };
}

/** The models of `config`, the answering one remembering the prompt it was given for each question. */
function recordingPrompts(config: Config): { models: Models; promptFor: (question: string) => string } {
    const models = createModels(config);
    const prompts = new Map<string, string>();
    const record = (chat: ChatModel): ChatModel => ({
        contextSize: chat.contextSize,
        maxAnswerTokens: chat.maxAnswerTokens,
        countTokens: (text) => chat.countTokens(text),
        generate: (options: GenerateOptions) => {
            const question = questions.find((candidate) => options.prompt.includes(candidate));
            if (question != null) prompts.set(question, options.prompt);
            return chat.generate(options);
        },
    });
    return {
        models: {
            embeddings: models.embeddings,
            getChatModel: async () => record(await models.getChatModel()),
            getReranker: () => models.getReranker(),
            check: () => models.check(),
            dispose: () => models.dispose(),
        },
        promptFor: (question) => prompts.get(question) ?? "",
    };
}

/** The request RemoteChatModel sends, sent directly, its stream read to the end. */
async function askDirectly(llamaServer: LlamaServer, prompt: string, config: Config): Promise<number> {
    const started = performance.now();
    const response = await fetch(`${llamaServer.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: config.llmModel, messages: [{ role: "user", content: prompt }], stream: true, max_tokens: config.maxAnswerTokens, temperature: config.temperature }),
    });
    if (!response.ok) throw new Error(`llama-server answered ${response.status}`);
    await response.text();
    return performance.now() - started;
}

async function serve(settings: ConfigInput, models?: Models): Promise<RunningServer> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-answers-"));
    const { config } = loadConfig({ env: process.env, flags: { dataDir, ...settings } });
    const server = await startServer({ config, port: 0, log: () => undefined, ...(models != null ? { models } : {}) });
    await server.ready;
    await server.yizhi.knowledgeBases.ingest("bench", documents);
    await run("warm-up", server.url, 1, 4);
    return server;
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { questions: { type: "string", default: "24" }, threads: { type: "string", default: "1" } } });
    const total = Number(values.questions);
    const threads = Number(values.threads);
    const base: ConfigInput = {
        llmModel: modelPath, embeddingModel: modelPath, threads, temperature: 0,
        contextSize: SLOT_CONTEXT, embeddingContextSize: 64, chunkSize: 100, chunkOverlap: 10, maxAnswerTokens: 64, parallelAnswers: SLOTS,
    };
    const llamaServer = await startLlamaServer({ threads, parallel: SLOTS, contextSize: SLOTS * SLOT_CONTEXT });
    const remote: ConfigInput = { ...base, llmProvider: "openai", llmBaseUrl: llamaServer.baseUrl, llmModel: "stories260K" };
    const results: RunResult[] = [];
    const overhead = { yizhi: [] as number[], direct: [] as number[], timings: [] as Timings[] };
    let overheadTokens = 0;
    try {
        const local = await serve(base);
        try {
            results.push(await run("in-process", local.url, 1, total), await run("in-process", local.url, 4, total));
        } finally {
            await local.close();
        }
        const onServer = await serve(remote);
        try {
            results.push(await run("llama-server", onServer.url, 1, total), await run("llama-server", onServer.url, 4, total));
        } finally {
            await onServer.close();
        }
        // The overhead with the default answer budget, as Yizhi is run.
        const { maxAnswerTokens: _short, ...asRun } = remote;
        const { config } = loadConfig({ env: process.env, flags: { dataDir: os.tmpdir(), ...asRun } });
        const recording = recordingPrompts(config);
        const measured = await serve(asRun, recording.models);
        try {
            // The same prompt through Yizhi and directly (as built for that question before), alternating which goes first.
            for (let i = 0; i < total; i++) {
                const question = questions[i % questions.length]!;
                const direct = () => askDirectly(llamaServer, recording.promptFor(question), config);
                if (i % 2 === 0) {
                    overhead.yizhi.push(await ask(measured.url, question));
                    overhead.direct.push(await direct());
                } else {
                    overhead.direct.push(await direct());
                    overhead.yizhi.push(await ask(measured.url, question));
                }
                overhead.timings.push(lastTimings);
            }
            overheadTokens = config.maxAnswerTokens;
        } finally {
            await measured.close();
        }
    } finally {
        await llamaServer.stop();
    }

    console.log(`## Answer throughput\n\n- ${os.cpus()[0]?.model.trim()} × ${os.cpus().length}, node ${process.version}, load ${os.loadavg().map((v) => v.toFixed(2)).join(", ")}`);
    console.log(`- test model stories260K, threads ${threads}, ${SLOTS} answer slots (sequences of one context in-process, llama-server --parallel ${SLOTS}), ` +
        `up to ${base.maxAnswerTokens} answer tokens, temperature 0, top-2 sources, ${total} questions per row\n`);
    console.log("| answering model | clients | answers | wall s | answers/s | median latency ms | vs in-process, same clients |");
    console.log("|---|---|---|---|---|---|---|");
    const perSecond = (result: RunResult) => result.answers / (result.wallMs / 1000);
    for (const result of results) {
        const inProcess = results.find((other) => other.llm === "in-process" && other.clients === result.clients)!;
        console.log(`| ${result.llm} | ${result.clients} | ${result.answers} | ${(result.wallMs / 1000).toFixed(2)} | ${perSecond(result).toFixed(2)} | ` +
            `${median(result.latenciesMs).toFixed(0)} | ${(perSecond(result) / perSecond(inProcess)).toFixed(2)}× |`);
    }
    const [yizhi, direct] = [median(overhead.yizhi), median(overhead.direct)];
    console.log("\n## Yizhi's overhead over llama-server\n");
    console.log(`The prompt Yizhi built for each question, sent to llama-server directly (the same request body, streamed), against the question asked through /ask; ` +
        `${total} pairs, one client, up to ${overheadTokens} answer tokens (the default), temperature 0.\n`);
    console.log("| path | median ms |\n|---|---|");
    const part = (pick: (timings: Timings) => number) => median(overhead.timings.map(pick)).toFixed(1);
    console.log(`| /ask (retrieval, prompt, llama-server, JSON answer) | ${yizhi.toFixed(1)} |`);
    console.log(`| – of which retrieval (embedding the question here, both searches) | ${part((t) => t.retrievalMs)} |`);
    console.log(`| – of which packing the prompt (token counts from llama-server) | ${part((t) => t.totalMs - t.retrievalMs - t.generationMs)} |`);
    console.log(`| – of which generation through Yizhi | ${part((t) => t.generationMs)} |`);
    console.log(`| llama-server directly | ${direct.toFixed(1)} |`);
    console.log(`| overhead | ${(yizhi - direct).toFixed(1)} ms (${((100 * (yizhi - direct)) / direct).toFixed(1)} %) |`);
}

await main();
