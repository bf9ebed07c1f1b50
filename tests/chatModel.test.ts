import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { QueueFullError, RequestAbortedError } from "../src/errors.js";
import { LlamaChatModel } from "../src/models/local/llamaChatModel.js";
import { LocalModels } from "../src/models/local/localModels.js";
import { testModelPath } from "./helpers.js";
import { testConfig } from "./testConfig.js";

describe("the chat model's answer slots", () => {
    let llama: Llama;
    let chat: LlamaChatModel;

    before(async () => {
        llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
        const model = await llama.loadModel({ modelPath: testModelPath });
        chat = await LlamaChatModel.create(model, { contextSize: 1024, sequences: 1, maxAnswerTokens: 200, temperature: 0, maxQueued: 0, threads: 1 });
    });
    after(() => llama.dispose());

    it("refuses a question with QueueFullError while every slot is busy and nothing may wait", async () => {
        let refusal: Promise<unknown> | undefined;
        const { text: answer } = await chat.generate({
            prompt: "Once upon a time",
            onTextChunk: () => {
                refusal ??= chat.generate({ prompt: "Another story" }).catch((error: unknown) => error);
            },
        });
        assert.ok(answer.length > 0);
        assert.ok(await refusal instanceof QueueFullError);
    });

    it("stops generating when the signal aborts, returns the text so far, and frees the slot", async () => {
        const { text: full } = await chat.generate({ prompt: "Once upon a time" });
        const controller = new AbortController();
        let chunks = 0;
        const { text: stopped, finishReason } = await chat.generate({
            prompt: "Once upon a time",
            signal: controller.signal,
            onTextChunk: () => {
                if (++chunks === 2) controller.abort();
            },
        });
        assert.equal(finishReason, "abort");
        assert.ok(stopped.length < full.length, `stopped early: ${stopped.length} < ${full.length} characters`);
        assert.ok(full.startsWith(stopped), "deterministic sampling: the stopped answer is the start of the full one");
        assert.equal((await chat.generate({ prompt: "Once upon a time" })).text, full, "the slot is free again");
    });
});

describe("questions that wait for an answer slot", () => {
    let llama: Llama;
    let chat: LlamaChatModel;

    before(async () => {
        llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
        const model = await llama.loadModel({ modelPath: testModelPath });
        chat = await LlamaChatModel.create(model, { contextSize: 1024, sequences: 1, maxAnswerTokens: 200, temperature: 0, maxQueued: 2, threads: 1 });
    });
    after(() => llama.dispose());

    it("leave the line when their client goes away, so that new questions are not refused", async () => {
        let waiting: Promise<unknown>[] | undefined;
        const { text: answer } = await chat.generate({
            prompt: "Once upon a time",
            onTextChunk: () => {
                if (waiting != null) return;
                // Two clients wait, then disconnect; two new ones take their places, and a third is one too many.
                const gone = [new AbortController(), new AbortController()];
                const departed = gone.map((controller) => chat.generate({ prompt: "A story", signal: controller.signal }).catch((error: unknown) => error));
                for (const controller of gone) controller.abort();
                const next = [chat.generate({ prompt: "Next" }), chat.generate({ prompt: "After that" })];
                waiting = [...departed, ...next, chat.generate({ prompt: "One too many" }).catch((error: unknown) => error)];
            },
        });
        assert.ok(answer.length > 0);
        const [first, second, third, fourth, refused] = await Promise.all(waiting!);
        assert.ok(first instanceof RequestAbortedError && second instanceof RequestAbortedError, "the departed clients' questions end at once");
        assert.equal(typeof (third as { text?: unknown }).text, "string", "a new question took a departed one's place");
        assert.equal(typeof (fourth as { text?: unknown }).text, "string");
        assert.ok(refused instanceof QueueFullError, "the line holds only the two waiting now");
    });
});

describe("local embedding contexts in parallel", () => {
    it("give the same vectors, in the order of the texts, as one context", async () => {
        const texts = Array.from({ length: 24 }, (_, i) => `第${i}段：${"报销需要发票。".repeat(1 + (i % 5))}`);
        const vectorsWith = async (embeddingContexts: number) => {
            const runtime = new LocalModels(testConfig("/nonexistent", { embeddingContexts }));
            try {
                return await runtime.embeddings.embedDocuments(texts);
            } finally {
                await runtime.dispose();
            }
        };
        const one = await vectorsWith(1);
        const three = await vectorsWith(3);
        assert.equal(three.length, texts.length);
        three.forEach((vector, i) => {
            assert.equal(vector.length, one[i]!.length);
            vector.forEach((value, j) => assert.ok(Math.abs(value - one[i]![j]!) < 1e-5, `text ${i}, dimension ${j}`));
        });
        assert.notDeepEqual(one[0], one[1], "different texts, different vectors: the order is checked for real");
    });
});
