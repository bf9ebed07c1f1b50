import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ChatModel, Embedder } from "../src/models/models.js";
import { cosine } from "./helpers.js";

/** What every embedder does, local or remote: the suite each implementation runs. */
export function embedderContract(name: string, make: () => Promise<{ embedder: Embedder; close: () => Promise<void> }>): void {
    describe(`embedder contract: ${name}`, () => {
        let embedder: Embedder;
        let close: () => Promise<void>;
        before(async () => ({ embedder, close } = await make()));
        after(() => close());

        it("says its dimension, and every vector has it", async () => {
            const { id, dimension } = await embedder.identity();
            assert.ok(id.length > 0);
            const vectors = await embedder.embedDocuments(["年假有几天？", "Reimbursement needs an invoice."]);
            assert.ok(vectors.every((vector) => vector.length === dimension && vector.every(Number.isFinite)));
        });

        it("gives each text of a batch the vector it has alone, in the order of the texts", async () => {
            const topics = ["报销需要发票。", "Passwords are rotated every ninety days.", "会议室在三楼东侧。"];
            const texts = Array.from({ length: 9 }, (_, i) => `第${i}条：${topics[i % 3]!.repeat(1 + (i % 2))}`);
            const together = await embedder.embedDocuments(texts);
            assert.equal(together.length, texts.length);
            for (const [i, text] of texts.entries()) {
                const alone = await embedder.embedQuery(text);
                assert.ok(cosine(together[i]!, alone) > 0.999, `text ${i} is in its place`);
            }
            assert.ok(cosine(together[0]!, together[1]!) < 0.9999, "different texts, different vectors: the order is checked for real");
        });

        it("refuses an empty text", async () => {
            await assert.rejects(embedder.embedQuery(" \n "), /Cannot embed an empty text/);
        });
    });
}

/** What every answering model does, local or remote. */
export function chatModelContract(name: string, make: () => Promise<{ chatModel: ChatModel; close: () => Promise<void> }>): void {
    describe(`chat model contract: ${name}`, () => {
        let chatModel: ChatModel;
        let close: () => Promise<void>;
        before(async () => ({ chatModel, close } = await make()));
        after(() => close());

        it("streams the answer it returns", async () => {
            const chunks: string[] = [];
            const { text, finishReason, usage } = await chatModel.generate({ prompt: "Once upon a time", onTextChunk: (chunk) => chunks.push(chunk) });
            assert.ok(text.length > 0);
            assert.equal(chunks.join(""), text);
            assert.ok(finishReason === "stop" || finishReason === "length");
            assert.ok(usage.promptTokens > 0 && usage.completionTokens > 0 && usage.completionTokens <= chatModel.maxAnswerTokens);
        });

        it("keeps to maxTokens, saying that it cut the answer there", async () => {
            const { text, finishReason, usage } = await chatModel.generate({ prompt: "Once upon a time", maxTokens: 3 });
            assert.equal(finishReason, "length");
            assert.equal(usage.completionTokens, 3);
            assert.ok(await chatModel.countTokens(text) <= 4, `"${text}" is about 3 tokens`);
        });

        it("stops when aborted mid-answer, with what it had", async () => {
            const controller = new AbortController();
            const chunks: string[] = [];
            const { text: answer, finishReason } = await chatModel.generate({
                prompt: "Once upon a time",
                signal: controller.signal,
                onTextChunk: (text) => {
                    chunks.push(text);
                    if (chunks.length === 2) controller.abort();
                },
            });
            assert.ok(chunks.length >= 2 && chunks.length <= 6, `stopped soon after the abort (${chunks.length} chunks)`);
            assert.equal(answer, chunks.join(""));
            assert.equal(finishReason, "abort");
        });

        it("counts tokens: more for a longer text", async () => {
            const short = await chatModel.countTokens("年假");
            const long = await chatModel.countTokens("员工每年有十天带薪年假，入职满一年后开始计算。");
            assert.ok(short > 0 && long > short);
            assert.ok(chatModel.contextSize > chatModel.maxAnswerTokens);
        });
    });
}
