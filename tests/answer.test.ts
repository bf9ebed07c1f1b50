import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildPrompt } from "../src/answer/buildPrompt.js";
import { refusalText } from "../src/answer/language.js";
import { loadPromptTemplate, PromptTemplate } from "../src/answer/promptTemplates.js";
import { ModelNotFoundError, YizhiError } from "../src/errors.js";
import { retrieveChunks, type RetrievalSettings, type RetrievedChunk } from "../src/retrieval/retrieveChunks.js";
import type { ChunkRecord } from "../src/store/records.js";
import { Yizhi } from "../src/yizhi.js";
import { cosine, fixture, makeTempDir } from "./helpers.js";
import { allChunks } from "./storageContract.js";
import { testConfig } from "./testConfig.js";

// The template of DESIGN.md, word for word.
const designTemplateZh = "已知信息：\n{context}\n\n根据上述已知信息，简洁和专业的来回答用户的问题。如果无法从中得到答案，请说 “根据已知信息无法回答该问题” 或 “没有提供足够的相关信息”，不允许在答案中添加编造成分，答案请使用中文。问题是：{question}";

const dense: RetrievalSettings = { mode: "dense", topK: 5, scoreThreshold: 0.5, lexicalThreshold: 0.3, rerankThreshold: 0.3, rrfK: 60, candidates: 20 };

function retrievedChunk(label: number, text: string, score: number): RetrievedChunk {
    const chunk: ChunkRecord = { label, documentId: `doc${label}`, source: `/docs/${label}.txt`, index: 0, text, start: 0 };
    return { chunk, score, scores: { dense: score } };
}

describe("answering a question", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;

    before(async () => {
        temp = await makeTempDir();
        yizhi = new Yizhi(testConfig(temp.dir, { chunkSize: 150, chunkOverlap: 20 }));
        await yizhi.knowledgeBases.ingest("kb", [fixture("zh/md"), fixture("en/txt")]);
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("in dense mode, scores are cosine similarities, and the threshold keeps exactly the chunks scoring at least it", async () => {
        const kb = await yizhi.knowledgeBases.openReader("kb");
        const chunks = await allChunks(kb);
        const vectors = new Map<number, number[]>();
        for (const chunk of chunks) vectors.set(chunk.label, await yizhi.models.embeddings.embedQuery(chunk.text));

        for (const question of ["大模型推理优化有哪些策略？", "Who founded Norwich City?", chunks[7]!.text]) {
            const query = await yizhi.models.embeddings.embedQuery(question);
            const unfiltered = await retrieveChunks(kb, { text: question, vector: query }, { ...dense, topK: 10, scoreThreshold: -1 });
            assert.equal(unfiltered.length, 10);
            for (const { chunk, score } of unfiltered) assert.ok(Math.abs(score - cosine(query, vectors.get(chunk.label)!)) < 1e-4);
            for (let i = 1; i < unfiltered.length; i++) assert.ok(unfiltered[i - 1]!.score >= unfiltered[i]!.score, "best first");

            const scores = unfiltered.map((item) => item.score);
            for (const threshold of [scores[0]!, scores[4]!, (scores[2]! + scores[3]!) / 2, scores[9]!, scores[9]! - 0.01]) {
                const kept = await retrieveChunks(kb, { text: question, vector: query }, { ...dense, topK: 10, scoreThreshold: threshold });
                assert.deepEqual(kept.map((item) => item.chunk.label), unfiltered.filter((item) => item.score >= threshold).map((item) => item.chunk.label));
            }
        }
    });

    it("finds a chunk from its own text with a score of about 1", async () => {
        const kb = await yizhi.knowledgeBases.openReader("kb");
        const target = (await allChunks(kb))[11]!;
        const vector = await yizhi.models.embeddings.embedQuery(target.text);
        const found = await retrieveChunks(kb, { text: target.text, vector }, { ...dense, topK: 5, scoreThreshold: 0.999 });
        assert.ok(found.some((item) => item.chunk.label === target.label));
    });

    it("will not embed an empty text (it would give a vector no index can search with)", async () => {
        await assert.rejects(yizhi.models.embeddings.embedQuery(""), /Cannot embed an empty text/);
    });

    it("refuses with the fixed text, and without loading or calling the LLM, when no chunk passes the threshold", async () => {
        const noLlm = new Yizhi(testConfig(temp.dir, { llmModel: path.join(temp.dir, "no-such-model.gguf") }));
        try {
            const chunks: string[] = [];
            const result = await noLlm.knowledgeBases.ask("kb", { question: "量子计算机的原理是什么？", scoreThreshold: 1, onTextChunk: (text) => chunks.push(text) });
            assert.equal(result.refused, true);
            assert.equal(result.answer, "根据已知信息无法回答该问题");
            assert.deepEqual(result.sources, []);
            assert.equal(result.timings.generationMs, 0);
            assert.deepEqual(chunks, [result.answer]);

            const english = await noLlm.knowledgeBases.ask("kb", { question: "What is quantum computing?", scoreThreshold: 1 });
            assert.equal(english.refused, true);
            assert.equal(english.answer, refusalText.en);
            assert.equal(english.language, "en");

            // The same question with chunks to answer from does need the LLM, which cannot load here.
            await assert.rejects(noLlm.knowledgeBases.ask("kb", { question: "量子计算机的原理是什么？", scoreThreshold: -1 }), ModelNotFoundError);
        } finally {
            await noLlm.dispose();
        }
    });

    it("rejects an empty question", async () => {
        await assert.rejects(yizhi.knowledgeBases.ask("kb", { question: "  \n" }), (error: unknown) => error instanceof YizhiError && error.code === "invalid_question");
    });

    it("generates a streamed answer from the numbered sources that passed the threshold", async () => {
        const events: string[] = [];
        let streamed = "";
        const result = await yizhi.knowledgeBases.ask("kb", {
            question: "大模型推理优化有哪些策略？",
            scoreThreshold: -1,
            topK: 3,
            onSources: (sources) => {
                events.push(`sources:${sources.length}`);
            },
            onTextChunk: (text) => {
                if (streamed === "") events.push("text");
                streamed += text;
            },
        });
        assert.equal(result.refused, false);
        assert.equal(result.language, "zh");
        assert.ok(result.answer.length > 0);
        assert.equal(streamed, result.answer);
        assert.deepEqual(events, [`sources:${result.sources.length}`, "text"]);
        assert.ok(result.sources.length >= 1 && result.sources.length <= 3);
        assert.deepEqual(result.sources.map((source) => source.n), result.sources.map((_, i) => i + 1));
        for (const source of result.sources) {
            assert.ok(source.source.endsWith(".md") || source.source.endsWith(".txt"));
            assert.equal(typeof source.score, "number");
            assert.ok(source.text.length > 0);
        }
        assert.ok(result.timings.generationMs > 0 && result.timings.totalMs >= result.timings.generationMs);
    });

    it("uses a knowledge base's own prompt template when it has one", async () => {
        const kbDir = path.join(temp.dir, "kb");
        const kb = await yizhi.knowledgeBases.openReader("kb");
        await fs.mkdir(path.join(kbDir, "prompts"), { recursive: true });
        await fs.writeFile(path.join(kbDir, "prompts", "zh.txt"), "资料：{context}\n问：{question}");
        try {
            const template = await loadPromptTemplate("zh", await kb.promptTemplate("zh"));
            assert.equal(template.fill("[1] 甲", "乙？"), "资料：[1] 甲\n问：乙？");
        } finally {
            await fs.rm(path.join(kbDir, "prompts"), { recursive: true });
        }
        assert.equal((await loadPromptTemplate("zh", await kb.promptTemplate("zh"))).fill("C", "Q"), designTemplateZh.replace("{context}", "C").replace("{question}", "Q"));
        await kb.close();
    });
});

describe("the prompt", () => {
    const countCharacters = (text: string) => Promise.resolve([...text].length);

    it("is exactly the template of DESIGN.md with the numbered sources and the question", async () => {
        const template = await loadPromptTemplate("zh");
        const { prompt, used } = await buildPrompt({
            template,
            question: "小明几岁？",
            retrieved: [retrievedChunk(4, "小明今年七岁。", 0.9), retrievedChunk(2, "他住在北京。", 0.8)],
            budgetTokens: 10_000,
            countTokens: countCharacters,
        });
        assert.equal(prompt, designTemplateZh.replace("{context}", "[1] 小明今年七岁。\n\n[2] 他住在北京。").replace("{question}", "小明几岁？"));
        assert.deepEqual(used.map((item) => item.chunk.label), [4, 2]);
    });

    it("does not interpret $ patterns or braces in the sources or the question", async () => {
        const template = await loadPromptTemplate("en");
        const { prompt } = await buildPrompt({ template, question: "What is {context} $&?", retrieved: [retrievedChunk(1, "costs $1 {question}", 1)], budgetTokens: 10_000, countTokens: countCharacters });
        assert.ok(prompt.includes("[1] costs $1 {question}"));
        assert.ok(prompt.endsWith("The question is: What is {context} $&?"));
    });

    it("keeps the best sources that fit the token budget, skipping one that does not", async () => {
        const template = PromptTemplate.parse("{context}|{question}", "test");
        const retrieved = [retrievedChunk(1, "a".repeat(40), 0.9), retrievedChunk(2, "b".repeat(100), 0.8), retrievedChunk(3, "c".repeat(20), 0.7)];
        const { prompt, used } = await buildPrompt({ template, question: "q", retrieved, budgetTokens: 80, countTokens: countCharacters });
        assert.deepEqual(used.map((item) => item.chunk.label), [1, 3]);
        assert.equal(prompt, `[1] ${"a".repeat(40)}\n\n[2] ${"c".repeat(20)}|q`);
    });

    it("shortens the best source when not even it fits", async () => {
        const template = PromptTemplate.parse("{context}|{question}", "test");
        const { prompt, used } = await buildPrompt({ template, question: "q", retrieved: [retrievedChunk(1, "x".repeat(500), 0.9)], budgetTokens: 50, countTokens: countCharacters });
        assert.equal(used.length, 1);
        assert.ok(await countCharacters(prompt) <= 50);
        assert.ok(prompt.startsWith("[1] xxxx"));
    });

    it("rejects a template without both placeholders", () => {
        assert.throws(() => PromptTemplate.parse("只有 {question}", "bad.txt"), /bad\.txt must contain \{context\} once/);
        assert.throws(() => PromptTemplate.parse("{question} {context}", "swapped.txt"), /followed by \{question\}/);
    });
});
