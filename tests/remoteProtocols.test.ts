import assert from "node:assert/strict";
import type http from "node:http";
import { after, before, describe, it } from "node:test";
import type { ConfigInput } from "../src/config/schema.js";
import { ModelServerError } from "../src/errors.js";
import { createModels } from "../src/models/createModels.js";
import { chatModelContract, embedderContract } from "./modelContract.js";
import { freePort } from "./testDatabases.js";
import { inputsOf, sendJson, standInVector, startStandInModelServer, type StandInModelServer, type StandInRequest } from "./standInModelServer.js";
import { testConfig } from "./testConfig.js";

// What no real server here produces, against stand-ins that speak only the wire protocol: Ollama's
// API, 429 with Retry-After, shuffled indexes, TEI's and llama-server's rerank answers, streams that
// stall or report an error mid-answer.

/** A stand-in Ollama: `/api/embed` and `/api/chat`, streaming one NDJSON line a word, as many words as `num_predict`. */
function ollamaRoutes(): Record<string, (request: StandInRequest, res: http.ServerResponse) => void> {
    return {
        "/api/embed": (request, res) => sendJson(res, 200, { model: "bge-m3", embeddings: inputsOf(request).map((text) => standInVector(text)) }),
        "/api/chat": (request, res) => {
            const { options } = request.body as { options: { num_predict: number } };
            res.writeHead(200, { "content-type": "application/x-ndjson" });
            const words = Array.from({ length: options.num_predict }, (_, i) => ` w${i}`);
            let i = 0;
            const next = () => {
                if (res.destroyed) return;
                if (i < words.length) {
                    res.write(`${JSON.stringify({ model: "qwen", message: { role: "assistant", content: words[i++] }, done: false })}\n`);
                    setTimeout(next, 5);
                } else {
                    res.end(`${JSON.stringify({ model: "qwen", message: { role: "assistant", content: "" }, done: true, done_reason: "length", prompt_eval_count: 12, eval_count: words.length })}\n`);
                }
            };
            next();
        },
    };
}

const ollamaSettings = (url: string): ConfigInput => ({
    embeddingProvider: "ollama", embeddingBaseUrl: url, embeddingModel: "bge-m3",
    llmProvider: "ollama", llmBaseUrl: url, llmModel: "qwen2.5:7b", maxAnswerTokens: 12,
});

let ollama: StandInModelServer;
before(async () => {
    ollama = await startStandInModelServer(ollamaRoutes());
});
after(() => ollama.close());

embedderContract("ollama (stand-in for Ollama's server)", () => {
    const models = createModels(testConfig("/nonexistent", ollamaSettings(ollama.url)));
    return Promise.resolve({ embedder: models.embeddings, close: () => models.dispose() });
});
chatModelContract("ollama (stand-in for Ollama's server)", async () => {
    const models = createModels(testConfig("/nonexistent", ollamaSettings(ollama.url)));
    return { chatModel: await models.getChatModel(), close: () => models.dispose() };
});

describe("Ollama's native API (stand-in)", () => {
    it("asks /api/embed not to truncate, and /api/chat for the configured context, answer budget and temperature", async () => {
        const models = createModels(testConfig("/nonexistent", { ...ollamaSettings(ollama.url), contextSize: 8192, temperature: 0.3 }));
        await models.embeddings.embedDocuments(["年假", "报销"]);
        await (await models.getChatModel()).generate({ prompt: "你好", history: [{ role: "user", content: "早" }, { role: "assistant", content: "早上好" }] });
        const embed = ollama.requestsTo("/api/embed").at(-1)!.body as Record<string, unknown>;
        assert.deepEqual(embed, { model: "bge-m3", input: ["年假", "报销"], truncate: false });
        const chat = ollama.requestsTo("/api/chat").at(-1)!.body as Record<string, unknown>;
        assert.deepEqual(chat, {
            model: "qwen2.5:7b",
            messages: [{ role: "user", content: "早" }, { role: "assistant", content: "早上好" }, { role: "user", content: "你好" }],
            stream: true,
            options: { num_ctx: 8192, num_predict: 12, temperature: 0.3 },
        });
    });

    it("ends an answer whose stream reports an error with model_server_failed", async () => {
        const failing = await startStandInModelServer({
            "/api/chat": (_request, res) => {
                res.writeHead(200, { "content-type": "application/x-ndjson" });
                res.write(`${JSON.stringify({ message: { content: "开始" }, done: false })}\n`);
                res.end(`${JSON.stringify({ error: "model runner has unexpectedly stopped" })}\n`);
            },
        });
        try {
            const chat = await createModels(testConfig("/nonexistent", ollamaSettings(failing.url))).getChatModel();
            await assert.rejects(chat.generate({ prompt: "你好" }), { code: "model_server_failed", message: /reported an error mid-answer: model runner has unexpectedly stopped/ });
        } finally {
            await failing.close();
        }
    });
});

describe("OpenAI-compatible servers (stand-ins)", () => {
    it("puts shuffled vectors back by their index, sending at most embeddingBatchSize texts a request, as floats", async () => {
        const server = await startStandInModelServer({
            "/v1/embeddings": (request, res) => {
                const data = inputsOf(request).map((text, index) => ({ object: "embedding", index, embedding: standInVector(text) }));
                sendJson(res, 200, { object: "list", data: data.reverse() });
            },
        });
        try {
            const models = createModels(testConfig("/nonexistent", { embeddingProvider: "openai", embeddingBaseUrl: `${server.url}/v1`, embeddingModel: "bge-m3", embeddingBatchSize: 3 }));
            const texts = Array.from({ length: 8 }, (_, i) => `第${i}段 ${"甲乙丙丁戊己庚辛".slice(0, i + 1)}`);
            const vectors = await models.embeddings.embedDocuments(texts);
            assert.deepEqual(vectors, texts.map((text) => standInVector(text)));
            const sent = server.requestsTo("/v1/embeddings").slice(1).map((request) => request.body as { input: string[]; encoding_format: string });
            assert.deepEqual(sent.map((body) => body.input.length), [3, 3, 2], "the probe, then three batches");
            assert.ok(sent.every((body) => body.encoding_format === "float"));
        } finally {
            await server.close();
        }
    });

    it("splits batches by estimated tokens too", async () => {
        const server = await startStandInModelServer({
            "/embeddings": (request, res) => sendJson(res, 200, { data: inputsOf(request).map((text, index) => ({ index, embedding: standInVector(text) })) }),
        });
        try {
            const models = createModels(testConfig("/nonexistent", { embeddingProvider: "openai", embeddingBaseUrl: server.url, embeddingModel: "m", embeddingBatchTokens: 100 }));
            await models.embeddings.embedDocuments(Array.from({ length: 4 }, () => "字".repeat(60)));
            assert.deepEqual(server.requestsTo("/embeddings").slice(1).map((request) => inputsOf(request).length), [1, 1, 1, 1]);
        } finally {
            await server.close();
        }
    });

    it("waits as long as a 429's Retry-After asks, then goes on; a 503 that lasts fails after the retries, saying how many", async () => {
        let calls = 0;
        const server = await startStandInModelServer({
            "/v1/embeddings": (request, res) => {
                calls++;
                if (calls === 2) return void sendJson(res, 429, { error: { message: "rate limited (stand-in)" } }, { "retry-after": "1" });
                sendJson(res, 200, { data: inputsOf(request).map((text, index) => ({ index, embedding: standInVector(text) })) });
            },
            "/v1/chat/completions": (_request, res) => sendJson(res, 503, { error: { message: "loading model" } }),
        });
        try {
            const models = createModels(testConfig("/nonexistent", {
                embeddingProvider: "openai", embeddingBaseUrl: `${server.url}/v1`, embeddingModel: "bge-m3",
                llmProvider: "openai", llmBaseUrl: `${server.url}/v1`, llmModel: "qwen", llmRetries: 2,
            }));
            assert.deepEqual(await models.embeddings.embedQuery("年假"), standInVector("年假"));
            const [, limited, retried] = server.requestsTo("/v1/embeddings");
            assert.ok(retried!.at - limited!.at >= 950, `tried again ${Math.round(retried!.at - limited!.at)} ms after the 429, Retry-After was 1 s`);

            await assert.rejects((await models.getChatModel()).generate({ prompt: "你好" }), (error: unknown) => {
                assert.ok(error instanceof ModelServerError);
                assert.equal(error.code, "model_unreachable");
                assert.match(error.message, /failed \(HTTP 503: loading model\)\. \(3 tries\)/);
                return true;
            });
            assert.equal(server.requestsTo("/v1/chat/completions").length, 3);
        } finally {
            await server.close();
        }
    });

    it("a vector of another dimension, or a missing one, is model_server_failed", async () => {
        let dimension = 16;
        const server = await startStandInModelServer({
            "/v1/embeddings": (request, res) => {
                const texts = inputsOf(request);
                if (texts.includes("漏")) return void sendJson(res, 200, { data: [] });
                sendJson(res, 200, { data: texts.map((text, index) => ({ index, embedding: standInVector(text, dimension) })) });
            },
        });
        try {
            const models = createModels(testConfig("/nonexistent", { embeddingProvider: "openai", embeddingBaseUrl: `${server.url}/v1`, embeddingModel: "bge-m3" }));
            await models.embeddings.identity();
            dimension = 32;
            await assert.rejects(models.embeddings.embedQuery("年假"), { code: "model_server_failed", message: /32-dim vector from "bge-m3", which gave 16-dim vectors before.*Check that embeddingModel \(YIZHI_EMBEDDING_MODEL\) names one model/ });
            await assert.rejects(models.embeddings.embedQuery("漏"), { code: "model_server_failed", message: /did not return one vector of numbers for each of the 1 texts/ });
        } finally {
            await server.close();
        }
    });

    it("a stream that stalls ends within llmTimeoutSeconds, with what to raise", async () => {
        const server = await startStandInModelServer({
            "/v1/chat/completions": (_request, res) => {
                res.writeHead(200, { "content-type": "text/event-stream" });
                res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "从前" } }] })}\n\n`);
                // and nothing more, without closing
            },
        });
        try {
            const chat = await createModels(testConfig("/nonexistent", { llmProvider: "openai", llmBaseUrl: `${server.url}/v1`, llmModel: "qwen", llmTimeoutSeconds: 1 })).getChatModel();
            await assert.rejects(chat.generate({ prompt: "你好" }), { code: "model_unreachable", message: /sent no token for 1 s, after 2 characters; raise llmTimeoutSeconds \(YIZHI_LLM_TIMEOUT_SECONDS\)/ });
        } finally {
            await server.close();
        }
    });

    it("an unknown model (404) and a request too large (413) fail at once, each naming what to change", async () => {
        const server = await startStandInModelServer({
            "/v1/embeddings": (request, res) => inputsOf(request).length > 1
                ? sendJson(res, 413, { error: { message: "Payload Too Large" } })
                : sendJson(res, 200, { data: [{ index: 0, embedding: standInVector("x") }] }),
        });
        try {
            const unknown = createModels(testConfig("/nonexistent", { llmProvider: "openai", llmBaseUrl: `${server.url}/v1`, llmModel: "qwen-72b" }));
            await assert.rejects((await unknown.getChatModel()).generate({ prompt: "你好" }),
                { code: "model_server_refused", message: /has no model "qwen-72b" or no \/chat\/completions endpoint \(HTTP 404.*Set llmModel \(YIZHI_LLM_MODEL\) to a model it serves/ });
            const large = createModels(testConfig("/nonexistent", { embeddingProvider: "openai", embeddingBaseUrl: `${server.url}/v1`, embeddingModel: "bge-m3" }));
            await assert.rejects(large.embeddings.embedDocuments(["年假", "报销"]), { code: "model_server_refused", message: /input too long \(HTTP 413: Payload Too Large\)\. Lower chunkSize/ });
            assert.equal(server.requestsTo("/v1/chat/completions").length, 1, "not tried again");
        } finally {
            await server.close();
        }
    });

    it("tries a dropped connection again, and gives up on a server that does not answer within the timeout", async () => {
        let calls = 0;
        const server = await startStandInModelServer({
            "/v1/embeddings": (request, res) => {
                calls++;
                if (calls === 1) return void res.socket?.destroy();
                sendJson(res, 200, { data: inputsOf(request).map((text, index) => ({ index, embedding: standInVector(text) })) });
            },
            "/v1/rerank": () => undefined, // never answers
        });
        try {
            const models = createModels(testConfig("/nonexistent", {
                embeddingProvider: "openai", embeddingBaseUrl: `${server.url}/v1`, embeddingModel: "bge-m3",
                rerankerProvider: "openai", rerankerBaseUrl: `${server.url}/v1`, rerankerModel: "bge-reranker", rerankerTimeoutSeconds: 1, rerankerRetries: 1,
            }));
            assert.deepEqual(await models.embeddings.embedQuery("年假"), standInVector("年假"));
            assert.equal(calls, 3, "the probe was dropped and sent again, then the text");
            await assert.rejects(models.getReranker()!.then((reranker) => reranker.rank("年假", ["十天"])),
                { code: "model_unreachable", message: /did not answer within 1 s; raise rerankerTimeoutSeconds \(YIZHI_RERANKER_TIMEOUT_SECONDS\) if it is only slow\. \(2 tries\)/ });
            assert.equal(server.requestsTo("/v1/rerank").length, 2);
        } finally {
            await server.close();
        }
    });

    it("an address where nothing listens is model_unreachable, naming the setting", async () => {
        const port = await freePort();
        const models = createModels(testConfig("/nonexistent", { embeddingProvider: "openai", embeddingBaseUrl: `http://127.0.0.1:${port}/v1`, embeddingModel: "bge-m3", embeddingRetries: 0 }));
        await assert.rejects(models.embeddings.embedQuery("年假"), { code: "model_unreachable", message: /cannot be reached \(nothing listens there\)\. Start it, or set embeddingBaseUrl \(YIZHI_EMBEDDING_BASE_URL\)/ });
    });
});

describe("rerankers (stand-ins)", () => {
    it("reads TEI's [{ index, score }] and the Jina/Cohere results in the documents' order; logits go through the logistic function", async () => {
        const server = await startStandInModelServer({
            "/rerank": (request, res) => {
                const { texts } = request.body as { texts: string[] };
                sendJson(res, 200, texts.map((_, index) => ({ index, score: (index + 1) / 10 })).reverse());
            },
            "/v1/rerank": (request, res) => {
                const { documents } = request.body as { documents: string[] };
                sendJson(res, 200, { results: documents.map((_, index) => ({ index, relevance_score: index * 2 - 2 })).reverse() });
            },
        });
        try {
            const tei = createModels(testConfig("/nonexistent", { rerankerProvider: "tei", rerankerBaseUrl: server.url, rerankerModel: "bge-reranker-v2-m3" }));
            assert.deepEqual(await tei.getReranker()!.then((reranker) => reranker.rank("年假", ["a", "b", "c"])), [0.1, 0.2, 0.3]);
            assert.deepEqual(server.requestsTo("/rerank")[0]!.body, { query: "年假", texts: ["a", "b", "c"], truncate: true, raw_scores: false });

            const jina = createModels(testConfig("/nonexistent", { rerankerProvider: "openai", rerankerBaseUrl: `${server.url}/v1`, rerankerModel: "bge-reranker-v2-m3" }));
            const scores = await jina.getReranker()!.then((reranker) => reranker.rank("年假", ["a", "b", "c"]));
            const logistic = (x: number) => 1 / (1 + Math.exp(-x));
            assert.deepEqual(scores, [logistic(-2), logistic(0), logistic(2)]);
            assert.deepEqual(server.requestsTo("/v1/rerank")[0]!.body, { model: "bge-reranker-v2-m3", query: "年假", documents: ["a", "b", "c"], top_n: 3 });
        } finally {
            await server.close();
        }
    });
});
