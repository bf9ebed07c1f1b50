import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { QueueFullError } from "../src/errors.js";
import { ChatModel } from "../src/models/chatModel.js";
import { testModelPath } from "./helpers.js";

describe("the chat model's answer slots", () => {
    let llama: Llama;
    let chat: ChatModel;

    before(async () => {
        llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
        const model = await llama.loadModel({ modelPath: testModelPath });
        chat = await ChatModel.create(model, { contextSize: 1024, sequences: 1, maxAnswerTokens: 200, temperature: 0, maxQueued: 0, threads: 1 });
    });
    after(() => llama.dispose());

    it("refuses a question with QueueFullError while every slot is busy and nothing may wait", async () => {
        let refusal: Promise<unknown> | undefined;
        const answer = await chat.generate({
            prompt: "Once upon a time",
            onTextChunk: () => {
                refusal ??= chat.generate({ prompt: "Another story" }).catch((error: unknown) => error);
            },
        });
        assert.ok(answer.length > 0);
        assert.ok(await refusal instanceof QueueFullError);
    });

    it("stops generating when the signal aborts, returns the text so far, and frees the slot", async () => {
        const full = await chat.generate({ prompt: "Once upon a time" });
        const controller = new AbortController();
        let chunks = 0;
        const stopped = await chat.generate({
            prompt: "Once upon a time",
            signal: controller.signal,
            onTextChunk: () => {
                if (++chunks === 2) controller.abort();
            },
        });
        assert.ok(stopped.length < full.length, `stopped early: ${stopped.length} < ${full.length} characters`);
        assert.ok(full.startsWith(stopped), "deterministic sampling: the stopped answer is the start of the full one");
        assert.equal(await chat.generate({ prompt: "Once upon a time" }), full, "the slot is free again");
    });
});
