import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { envNames } from "../src/config/loadConfig.js";
import type { ConfigInput, ConfigKey } from "../src/config/schema.js";
import { ModelServerError } from "../src/errors.js";
import { createModels } from "../src/models/createModels.js";
import { LocalModels } from "../src/models/local/localModels.js";
import { startServer } from "../src/server/startServer.js";
import { Yizhi } from "../src/yizhi.js";
import { makeTempDir } from "./helpers.js";
import { startLlamaServer, type LlamaServer } from "./llamaServer.js";
import { chatModelContract, embedderContract } from "./modelContract.js";
import { runCli } from "./runCli.js";
import { inputsOf, sendJson, standInVector, startStandInModelServer } from "./standInModelServer.js";
import { testConfig, testEnv } from "./testConfig.js";

/** Both roles on a model server at `baseUrl`, by the name llama-server answers to any name with. */
function remoteSettings(baseUrl: string, extra: ConfigInput = {}): ConfigInput {
    return {
        embeddingProvider: "openai", embeddingBaseUrl: baseUrl, embeddingModel: "stories260K",
        llmProvider: "openai", llmBaseUrl: baseUrl, llmModel: "stories260K",
        embeddingRetries: 1, llmRetries: 1, ...extra,
    };
}

/** The same settings as `YIZHI_*` variables, for the CLI. */
function remoteEnv(baseUrl: string): Record<string, string> {
    return Object.fromEntries(Object.entries(remoteSettings(baseUrl)).map(([key, value]) => [envNames[key as ConfigKey], String(value)]));
}

const documents: Record<string, string> = {
    "年假制度.txt": "员工每年享有十天带薪年假。年假需提前一周向主管申请，当年未休完的年假可顺延至次年三月。",
    "报销流程.txt": "差旅报销需在出差结束后三十天内提交，并附上发票原件和行程单。报销款项每月十五日统一发放。",
    "Security.md": "# Security\n\nEvery laptop must use full-disk encryption. Passwords are rotated every ninety days.",
};

async function writeDocuments(dir: string): Promise<string> {
    const folder = path.join(dir, "docs");
    await fs.mkdir(folder, { recursive: true });
    for (const [name, text] of Object.entries(documents)) await fs.writeFile(path.join(folder, name), text);
    return folder;
}

let llamaServer: LlamaServer;
before(async () => {
    llamaServer = await startLlamaServer();
});
after(() => llamaServer.stop());

embedderContract("local (node-llama-cpp)", async () => {
    const local = new LocalModels(testConfig("/nonexistent"));
    return { embedder: local.embeddings, close: () => local.dispose() };
});
embedderContract("openai (llama-server)", () => {
    const models = createModels(testConfig("/nonexistent", remoteSettings(llamaServer.baseUrl, { embeddingBatchSize: 4 })));
    return Promise.resolve({ embedder: models.embeddings, close: () => models.dispose() });
});
chatModelContract("local (node-llama-cpp)", async () => {
    const local = new LocalModels(testConfig("/nonexistent"));
    return { chatModel: await local.getChatModel(), close: () => local.dispose() };
});
chatModelContract("openai (llama-server)", async () => {
    const models = createModels(testConfig("/nonexistent", remoteSettings(llamaServer.baseUrl)));
    return { chatModel: await models.getChatModel(), close: () => models.dispose() };
});

describe("both roles on llama-server", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let dataDir: string;
    let folder: string;
    before(async () => {
        temp = await makeTempDir();
        dataDir = path.join(temp.dir, "storage");
        folder = await writeDocuments(temp.dir);
    });
    after(() => temp.cleanup());

    it("ingest and answer, the knowledge base recording the server's embedder and its fingerprint", async () => {
        const yizhi = new Yizhi(testConfig(dataDir, remoteSettings(llamaServer.baseUrl)));
        try {
            const report = await yizhi.knowledgeBases.ingest("team", [folder]);
            assert.deepEqual(report.files.map((file) => file.status), ["ingested", "ingested", "ingested"]);
            const streamed: string[] = [];
            const result = await yizhi.knowledgeBases.ask("team", { question: "年假可以顺延吗？", mode: "hybrid", scoreThreshold: -1, onTextChunk: (text) => streamed.push(text) });
            assert.equal(result.refused, false);
            assert.ok(result.sources.length > 0);
            assert.ok(result.answer.length > 0);
            assert.equal(streamed.join(""), result.answer);
        } finally {
            await yizhi.dispose();
        }
        const manifest = JSON.parse(await fs.readFile(path.join(dataDir, "team", "kb.json"), "utf8")) as { embedder: { id: string; dimension: number; fingerprint: number[] } };
        assert.equal(manifest.embedder.id, "openai:stories260K");
        assert.equal(manifest.embedder.dimension, 64);
        assert.equal(manifest.embedder.fingerprint.length, 64);
    });

    it("models pull downloads nothing for roles on a model server", async () => {
        const pulled = await runCli(["models", "pull"], testEnv(dataDir, remoteEnv(llamaServer.baseUrl)));
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.match(pulled.stdout, /LLM model: "stories260K" on a model server \(openai\), nothing to download/);
        assert.match(pulled.stdout, /embedding model: "stories260K" on a model server \(openai\), nothing to download/);
    });

    it("counts tokens with the server's tokenizer: the same counts as the model loaded here", async () => {
        const remote = createModels(testConfig(dataDir, remoteSettings(llamaServer.baseUrl)));
        const local = new LocalModels(testConfig(dataDir));
        try {
            const [remoteChat, localChat] = await Promise.all([remote.getChatModel(), local.getChatModel()]);
            for (const text of ["hello world 年假", "员工每年享有十天带薪年假。", "Passwords are rotated every ninety days."])
                assert.equal(await remoteChat.countTokens(text), await localChat.countTokens(text), text);
        } finally {
            await remote.dispose();
            await local.dispose();
        }
    });

    it("refuses another embedder, and a server that swapped the weights behind the same name, before writing", async () => {
        const renamed = new Yizhi(testConfig(dataDir, remoteSettings(llamaServer.baseUrl, { embeddingModel: "bge-m3" })));
        try {
            await assert.rejects(renamed.knowledgeBases.ingest("team", [folder]), { code: "embedder_mismatch", message: /"openai:stories260K" \(64-dim\), but "openai:bge-m3"/ });
        } finally {
            await renamed.dispose();
        }
        // A stand-in answering under the same name with other 64-dim vectors.
        const swapped = await startStandInModelServer({
            "/v1/embeddings": (request, res) => sendJson(res, 200, { data: inputsOf(request).map((text, index) => ({ index, embedding: standInVector(text, 64) })) }),
        });
        const yizhi = new Yizhi(testConfig(dataDir, remoteSettings(`${swapped.url}/v1`)));
        try {
            await assert.rejects(yizhi.knowledgeBases.ingest("team", [folder], { prune: true }), { code: "embedder_mismatch", message: /server now gives other vectors under that name/ });
        } finally {
            await yizhi.dispose();
            await swapped.close();
        }
        const intact = new Yizhi(testConfig(dataDir, remoteSettings(llamaServer.baseUrl)));
        try {
            assert.equal((await intact.knowledgeBases.documents("team")).length, 3, "nothing was changed");
        } finally {
            await intact.dispose();
        }
    });

    it("refuses a wrong API key, naming the setting, and works with the right one", async () => {
        const guarded = await startLlamaServer({ apiKey: "right-key" });
        try {
            const wrong = createModels(testConfig(dataDir, remoteSettings(guarded.baseUrl, { embeddingApiKey: "wrong-key", llmApiKey: "wrong-key" })));
            await assert.rejects(wrong.embeddings.embedQuery("年假"), (error: unknown) => {
                assert.ok(error instanceof ModelServerError);
                assert.equal(error.code, "model_server_refused");
                assert.match(error.message, /refused the API key \(HTTP 401.*embeddingApiKey \(YIZHI_EMBEDDING_API_KEY\)/);
                return true;
            });
            await assert.rejects((await wrong.getChatModel()).generate({ prompt: "Once" }), { code: "model_server_refused", message: /llmApiKey \(YIZHI_LLM_API_KEY\)/ });
            const right = createModels(testConfig(dataDir, remoteSettings(guarded.baseUrl, { embeddingApiKey: "right-key", llmApiKey: "right-key" })));
            assert.equal((await right.embeddings.embedQuery("年假")).length, 64);
            assert.ok((await (await right.getChatModel()).generate({ prompt: "Once", maxTokens: 4 })).text.length > 0);
        } finally {
            await guarded.stop();
        }
    });

    it("names chunkSize when an input is longer than the server takes, and the reranker's own error when it cannot rank", async () => {
        const models = createModels(testConfig(dataDir, remoteSettings(llamaServer.baseUrl, {
            rerankerProvider: "openai", rerankerBaseUrl: llamaServer.baseUrl, rerankerModel: "bge-reranker-v2-m3",
        })));
        try {
            // About 900 tokens in the test model's byte-level tokenizer; llama-server's batch is 512.
            await assert.rejects(models.embeddings.embedQuery("年".repeat(300)), { code: "model_server_refused", message: /too large.*chunkSize \(YIZHI_CHUNK_SIZE\)/ });
            await assert.rejects((await models.getReranker()!).rank("年假", ["十天"]), { code: "model_server_refused", message: /does not support reranking/ });
        } finally {
            await models.dispose();
        }
    });
});

describe("a model server that dies", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let dying: LlamaServer;
    before(async () => {
        temp = await makeTempDir();
        // One slot with room for a long answer, so that it can be killed while it writes.
        dying = await startLlamaServer({ contextSize: 8192, parallel: 1, metrics: true });
    });
    after(async () => {
        await dying.stop();
        await temp.cleanup();
    });

    it("stops generating when the client of /ask goes away mid-answer", async () => {
        const dataDir = path.join(temp.dir, "cancel");
        const yizhi = new Yizhi(testConfig(dataDir, remoteSettings(dying.baseUrl)));
        try {
            await yizhi.knowledgeBases.ingest("team", [await writeDocuments(temp.dir)]);
        } finally {
            await yizhi.dispose();
        }
        const config = testConfig(dataDir, remoteSettings(dying.baseUrl, { contextSize: 8192, maxAnswerTokens: 6000 }));
        const server = await startServer({ config, port: 0, log: () => undefined });
        const predicted = async () => Number(/^llamacpp:tokens_predicted_total (\d+)/m.exec(await (await fetch(`${dying.url}/metrics`)).text())![1]);
        try {
            await server.ready;
            const before = await predicted();
            const client = new AbortController();
            const response = await fetch(`${server.url}/ask`, {
                method: "POST",
                headers: { "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify({ kb: "team", question: "年假可以顺延吗？", mode: "bm25", lexicalThreshold: 0 }),
                signal: client.signal,
            });
            const reader = response.body!.getReader();
            let text = "";
            while (!text.includes("event: token")) text += new TextDecoder().decode((await reader.read()).value);
            client.abort();
            let busy = true;
            for (let waited = 0; busy && waited < 20_000; waited += 50) {
                busy = (await (await fetch(`${dying.url}/slots`)).json() as { is_processing: boolean }[]).some((slot) => slot.is_processing);
                if (busy) await new Promise((resolve) => setTimeout(resolve, 50));
            }
            assert.equal(busy, false, "llama-server's slot is free again");
            // Its whole context (2,048 tokens a slot with this model) would have taken seconds to fill.
            const generated = await predicted() - before;
            assert.ok(generated < 1000, `llama-server generated ${generated} tokens, then stopped with the client`);
        } finally {
            await server.close();
        }
    });

    it("mid-answer ends /ask's stream with an error event; /readyz and the CLI say so; restarted, it answers again", async () => {
        const dataDir = path.join(temp.dir, "storage");
        const folder = await writeDocuments(temp.dir);
        const settings = remoteSettings(dying.baseUrl, { contextSize: 8192, maxAnswerTokens: 6000, llmTimeoutSeconds: 5 });
        const ingest = await runCli(["ingest", folder, "--kb", "team"], testEnv(dataDir, remoteEnv(dying.baseUrl)));
        assert.equal(ingest.code, 0, ingest.stderr);

        const server = await startServer({ config: testConfig(dataDir, settings), port: 0, log: () => undefined });
        try {
            await server.ready;
            const ready = await (await fetch(`${server.url}/readyz`)).json() as { models: unknown[] };
            assert.deepEqual(ready.models, [{ role: "embedding", provider: "openai", ok: true }, { role: "llm", provider: "openai", ok: true }]);

            const ask = () => fetch(`${server.url}/ask`, {
                method: "POST",
                headers: { "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify({ kb: "team", question: "年假可以顺延吗？", mode: "bm25", lexicalThreshold: 0 }),
            });
            const response = await ask();
            const reader = response.body!.getReader();
            const decoder = new TextDecoder();
            let text = "";
            let killed = false;
            for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                text += decoder.decode(value, { stream: true });
                if (!killed && text.includes("event: token")) {
                    killed = true;
                    await dying.kill();
                }
            }
            assert.ok(killed, "the server was killed mid-answer");
            const errorEvent = /event: error\ndata: (.*)\n/.exec(text);
            assert.ok(errorEvent != null, `the stream ends with an error event:\n${text.slice(-500)}`);
            const { error } = JSON.parse(errorEvent[1]!) as { error: { code: string; message: string } };
            assert.equal(error.code, "model_server_failed");
            assert.match(error.message, /The LLM server closed the connection mid-answer/);
            assert.doesNotMatch(error.message, /127\.0\.0\.1/, "API clients are not told the model server's address");
            assert.doesNotMatch(text, /event: done/);

            const down = await runCli(["ask", "年假可以顺延吗？", "--kb", "team", "--mode", "bm25", "--lexical-threshold", "0"], testEnv(dataDir, remoteEnv(dying.baseUrl)));
            assert.equal(down.code, 1);
            // Opening the knowledge base asks the embedding server which model it serves, before the LLM is needed.
            assert.match(down.stderr, /The embedding server at http:\/\/127\.0\.0\.1:\d+\/v1 cannot be reached \(nothing listens there\)\. Start it, or set embeddingBaseUrl \(YIZHI_EMBEDDING_BASE_URL\)/);
            assert.doesNotMatch(down.stderr, /\n\s+at /, "no stack trace");

            const checked = await runCli(["models", "check"], testEnv(dataDir, remoteEnv(dying.baseUrl)));
            assert.equal(checked.code, 1);
            assert.match(checked.stdout, /FAIL embedding \(openai: stories260K\): .*cannot be reached/);
            assert.match(checked.stdout, /FAIL llm \(openai: stories260K\): .*cannot be reached/);

            await dying.restart();
            const again = await ask();
            const answered = await again.text();
            assert.match(answered, /event: done/);
            assert.doesNotMatch(answered, /event: error/);

            const healthy = await runCli(["models", "check"], testEnv(dataDir, remoteEnv(dying.baseUrl)));
            assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
            assert.match(healthy.stdout, /ok {3}embedding \(openai: stories260K\): embeds, 64-dim vectors/);
        } finally {
            await server.close();
        }
    });

    it("/readyz names the role that cannot be reached, with no address, until it can", async () => {
        const stopped = await startLlamaServer();
        const baseUrl = stopped.baseUrl;
        await stopped.stop();
        const server = await startServer({ config: testConfig(path.join(temp.dir, "ready"), remoteSettings(baseUrl, { embeddingRetries: 0, llmRetries: 0 })), port: 0, log: () => undefined });
        try {
            await assert.rejects(server.ready, { code: "model_unreachable" });
            const response = await fetch(`${server.url}/readyz`);
            assert.equal(response.status, 503);
            const body = await response.json() as { error: { message: string }; models: { role: string; ok: boolean }[] };
            assert.equal(body.error.message, "The embedding server cannot be reached.");
            assert.deepEqual(body.models.map((model) => [model.role, model.ok]), [["embedding", false], ["llm", false]]);
        } finally {
            await server.close();
        }
    });
});
