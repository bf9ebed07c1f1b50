import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { YizhiError } from "../src/errors.js";
import { KnowledgeBaseRetriever } from "../src/retrieval/knowledgeBaseRetriever.js";
import { dropNearDuplicates } from "../src/retrieval/nearDuplicates.js";
import type { Reranker } from "../src/models/models.js";
import { retrieveChunks, type RetrievalSettings, type RetrievedChunk } from "../src/retrieval/retrieveChunks.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import type { KnowledgeBaseReader } from "../src/store/storage.js";
import { autoEfSearch } from "../src/store/vectorGraph.js";
import { Yizhi } from "../src/yizhi.js";
import { cosine, makeTempDir, testModelPath } from "./helpers.js";
import { allChunks } from "./storageContract.js";
import { testConfig } from "./testConfig.js";

const documents: Record<string, string> = {
    "travel.txt": "差旅费报销须在出差结束后十五个工作日内提交。报销时应附上发票、行程单和审批单。\n\n" +
        "住宿费按城市分级标准执行，超出标准的部分由个人承担。",
    "leave.txt": "员工每年享有带薪年假，工作满一年不满十年的，年假五天。\n\n病假须提供医院证明，连续病假超过三天须经部门负责人批准。",
    "server.md": "# 服务器维护\n\n每周六凌晨两点进行例行维护，届时内部系统暂停服务。\n\n数据库每天备份一次，备份保留三十天。",
    "telephone.txt": "Alexander Graham Bell is credited with inventing the first practical telephone. He was awarded the patent in 1876.\n\n" +
        "The telephone quickly spread to homes and offices across the United States.",
    // Two versions of one notice: near-duplicates that must not both reach the model.
    "notice-v1.txt": "关于食堂开放时间的通知：自下月起，职工食堂早餐时间为七点至八点半，午餐时间为十一点半至一点，晚餐时间为五点半至七点。",
    "notice-v2.txt": "关于食堂开放时间的通知：自下月起，职工食堂早餐时间为七点至八点半，午餐时间为十一点半至一点，晚餐时间为五点半至七点半。",
};

const base: RetrievalSettings = { mode: "hybrid", topK: 10, scoreThreshold: 0.5, lexicalThreshold: 0.3, rerankThreshold: 0.3, rrfK: 60, candidates: 20 };

describe("retrieval modes and their threshold rules", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;
    let kb: KnowledgeBaseReader;

    const retrieve = async (question: string, settings: Partial<RetrievalSettings>, reranker?: Reranker): Promise<RetrievedChunk[]> => {
        const vector = await yizhi.models.embeddings.embedQuery(question);
        return retrieveChunks(kb, { text: question, vector }, { ...base, ...settings }, reranker);
    };
    const labels = (items: readonly RetrievedChunk[]) => items.map((item) => item.chunk.label);

    before(async () => {
        temp = await makeTempDir();
        const docs = path.join(temp.dir, "docs");
        await fs.mkdir(docs);
        for (const [name, text] of Object.entries(documents)) await fs.writeFile(path.join(docs, name), text);
        yizhi = new Yizhi(testConfig(path.join(temp.dir, "data"), { chunkSize: 60, chunkOverlap: 10 }));
        await yizhi.knowledgeBases.ingest("kb", [docs]);
        kb = await yizhi.knowledgeBases.openReader("kb");
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("bm25: scores are lexical relevance in 0..1, and the threshold keeps exactly the chunks reaching it", async () => {
        const question = "报销差旅费和住宿费需要哪些审批？";
        const all = await retrieve(question, { mode: "bm25", lexicalThreshold: 0 });
        assert.ok(all.length >= 2, String(all.length));
        assert.ok(all[0]!.chunk.text.includes("报销"), all[0]!.chunk.text);
        for (const item of all) {
            assert.equal(item.score, item.scores.lexical);
            assert.ok(item.score >= 0 && item.score <= 1);
            assert.equal(item.scores.dense, undefined);
        }
        const scores = all.map((item) => item.score);
        for (const threshold of [scores[0]!, (scores[0]! + scores[1]!) / 2, scores[scores.length - 1]!]) {
            const kept = await retrieve(question, { mode: "bm25", lexicalThreshold: threshold });
            assert.deepEqual(labels(kept), labels(all.filter((item) => item.score >= threshold)));
        }
    });

    it("bm25: a chunk holding every word of the question scores 1; one holding none is not found", async () => {
        const [best] = await retrieve("带薪年假", { mode: "bm25", lexicalThreshold: 0 });
        assert.ok(best!.chunk.text.includes("带薪年假"));
        assert.ok(best!.score > 0.9, String(best!.score));
        assert.deepEqual(await retrieve("量子纠缠实验", { mode: "bm25", lexicalThreshold: 0 }), []);
    });

    it("hybrid: ranks by fused score, and keeps a chunk when its cosine or its lexical relevance passes", async () => {
        const question = "Who invented the telephone?";
        const vector = await yizhi.models.embeddings.embedQuery(question);
        const all = await retrieve(question, { mode: "hybrid", scoreThreshold: -1, lexicalThreshold: 0, topK: 100 });
        for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.score >= all[i]!.score, "best first");
        const terms = tokenize(question);
        assert.ok(all.length >= 3, String(all.length));
        for (const item of all) {
            assert.equal(item.score, item.scores.fused);
            assert.ok(item.score > 0 && item.score <= 1);
            // Both scores are computed for every candidate, whichever list found it.
            const chunkVector = await yizhi.models.embeddings.embedQuery(item.chunk.text);
            assert.ok(Math.abs(item.scores.dense! - cosine(vector, chunkVector)) < 1e-4);
            assert.equal(item.scores.lexical, (await kb.lexicalScores(terms, [item.chunk.label])).get(item.chunk.label)!.relevance);
        }
        const dense = all.map((item) => item.scores.dense!).sort((x, y) => y - x);
        for (const [scoreThreshold, lexicalThreshold] of [[dense[1]!, 0.5], [1, 0.5], [dense[0]!, 1], [-1, 1]] as const) {
            const kept = await retrieve(question, { mode: "hybrid", scoreThreshold, lexicalThreshold, topK: 100 });
            const expected = all.filter((item) => item.scores.dense! >= scoreThreshold || item.scores.lexical! >= lexicalThreshold);
            assert.deepEqual(labels(kept), labels(expected), `thresholds ${scoreThreshold}, ${lexicalThreshold}`);
        }
        const lexicalOnly = await retrieve(question, { mode: "hybrid", scoreThreshold: 1, lexicalThreshold: 0.5 });
        assert.ok(lexicalOnly.length > 0 && lexicalOnly.every((item) => item.scores.lexical! >= 0.5));
    });

    it("refuses in every mode when nothing passes, without loading the LLM", async () => {
        const noLlm = new Yizhi(testConfig(path.join(temp.dir, "data"), { llmModel: path.join(temp.dir, "no-such-model.gguf"), lexicalThreshold: 0.3 }));
        try {
            for (const mode of ["dense", "bm25", "hybrid"] as const) {
                const result = await noLlm.knowledgeBases.ask("kb", { question: "量子纠缠实验的原理", mode, scoreThreshold: 1 });
                assert.equal(result.refused, true, mode);
                assert.deepEqual(result.sources, []);
            }
        } finally {
            await noLlm.dispose();
        }
    });

    it("answers a question in bm25 mode from the chunks that share its words, with their scores", async () => {
        const result = await yizhi.knowledgeBases.ask("kb", { question: "数据库备份保留多久？", mode: "bm25" });
        assert.equal(result.refused, false);
        assert.ok(result.sources[0]!.text.includes("备份"));
        assert.equal(result.sources[0]!.score, result.sources[0]!.scores.lexical);
    });

    it("does not return two near-duplicate chunks in one top-K", async () => {
        const question = "食堂晚餐时间";
        const found = await retrieve(question, { mode: "bm25", lexicalThreshold: 0 });
        const notices = found.filter((item) => item.chunk.text.includes("食堂"));
        assert.equal(notices.length, 1, notices.map((item) => item.chunk.source).join(", "));
        // Both versions are stored; only one is shown.
        const stored = (await allChunks(kb)).filter((chunk) => chunk.text.includes("食堂"));
        assert.equal(new Set(stored.map((chunk) => chunk.documentId)).size, 2);
    });

    it("with a reranker, ranks by its score and applies the rerank threshold instead of the others", async () => {
        // No cross-encoder GGUF can be had on these machines (the test model has no classification
        // head), so this stand-in scores by a keyword. It checks the rule, not a model.
        const fakeKeywordReranker: Reranker = {
            rank: async (_query, texts) => texts.map((text) => (text.includes("病假") ? 0.9 : text.includes("年假") ? 0.6 : 0.1)),
        };
        const found = await retrieve("员工休假规定", { mode: "hybrid", scoreThreshold: 1, lexicalThreshold: 1, rerankThreshold: 0.5 }, fakeKeywordReranker);
        assert.ok(found.length > 0);
        for (const item of found) {
            assert.equal(item.score, item.scores.rerank);
            assert.ok(item.score >= 0.5);
        }
        for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.score >= found[i]!.score);
        assert.ok(found[0]!.chunk.text.includes("病假"));
        const none = await retrieve("员工休假规定", { mode: "hybrid", scoreThreshold: -1, lexicalThreshold: 0, rerankThreshold: 0.95 }, fakeKeywordReranker);
        assert.deepEqual(none, []);
    });

    it("serves LangChain.js chains as a BaseRetriever: the same chunks, with their scores in the metadata", async () => {
        const retriever = new KnowledgeBaseRetriever({ knowledgeBase: kb, embeddings: yizhi.models.embeddings, settings: { ...base, topK: 3 } });
        const question = "数据库备份保留多久？";
        const documents = await retriever.invoke(question);
        const direct = await retrieve(question, { topK: 3 });
        assert.ok(documents.length > 0);
        assert.deepEqual(documents.map((document) => Number(document.id)), labels(direct));
        assert.deepEqual(documents.map((document) => document.metadata.score), direct.map((item) => item.score));
        assert.equal(documents[0]!.pageContent, direct[0]!.chunk.text);
        assert.equal(documents[0]!.metadata.source, direct[0]!.chunk.source);
        const refusing = new KnowledgeBaseRetriever({ knowledgeBase: kb, embeddings: yizhi.models.embeddings, settings: { ...base, scoreThreshold: 1 } });
        assert.deepEqual(await refusing.invoke("量子纠缠实验的原理"), []);
    });

    it("says clearly when the configured reranker model cannot rank", async () => {
        const withReranker = new Yizhi(testConfig(path.join(temp.dir, "data"), { rerankerModel: testModelPath }));
        try {
            await assert.rejects(withReranker.knowledgeBases.ask("kb", { question: "年假有几天？" }), (error: unknown) => {
                assert.ok(error instanceof YizhiError);
                assert.equal(error.code, "model_cannot_rank");
                assert.match(error.message, /cannot rank.*YIZHI_RERANKER_MODEL/s);
                return true;
            });
        } finally {
            await withReranker.dispose();
        }
    });
});

describe("retrieval across Chinese scripts", () => {
    it("finds a traditional document by a simplified question and the other way round, and returns the text as written", async () => {
        const temp = await makeTempDir();
        const yizhi = new Yizhi(testConfig(path.join(temp.dir, "data"), { chunkSize: 200, chunkOverlap: 0 }));
        try {
            const docs = path.join(temp.dir, "docs");
            await fs.mkdir(docs);
            const traditional = "員工每年享有帶薪年假，工作滿一年不滿十年的，年假五天。病假須提供醫院證明。";
            const simplified = "数据库每天备份一次，备份保留三十天，由运维部门负责检查。";
            await fs.writeFile(path.join(docs, "leave-tw.txt"), traditional);
            await fs.writeFile(path.join(docs, "backup-cn.txt"), simplified);
            await yizhi.knowledgeBases.ingest("kb", [docs]);
            const kb = await yizhi.knowledgeBases.openReader("kb");
            const top = async (question: string) => {
                const vector = await yizhi.models.embeddings.embedQuery(question);
                const [first] = await retrieveChunks(kb, { text: question, vector }, { ...base, mode: "bm25", lexicalThreshold: 0.3 });
                return first?.chunk.text;
            };
            assert.equal(await top("员工的带薪年假有几天？"), traditional);
            assert.equal(await top("數據庫備份保留多久？"), simplified);
        } finally {
            await yizhi.dispose();
            await temp.cleanup();
        }
    });
});

describe("dropNearDuplicates", () => {
    it("keeps the first of near-identical texts, ignoring white space, and keeps merely similar ones", () => {
        const texts = [
            "职工食堂早餐时间为七点至八点半，午餐时间为十一点半至一点。",
            "职工食堂早餐时间为七点至八点半， 午餐时间为十一点半至一点半。",
            "职工食堂晚餐时间为五点半至七点。",
            "Breakfast is served from 7:00 to 8:30 in the staff canteen.",
            "Breakfast is served from 7:00 to 8:30 in the staff canteen!",
        ];
        assert.deepEqual(dropNearDuplicates(texts, (text) => text), [texts[0], texts[2], texts[3]]);
    });
});

describe("autoEfSearch (the HNSW search breadth when hnswEfSearch is unset)", () => {
    it("is 64 up to 100k points, doubles for every tenfold beyond, and stops at 256", () => {
        assert.deepEqual([0, 10_000, 100_000].map(autoEfSearch), [64, 64, 64]);
        assert.equal(autoEfSearch(1_000_000), 128);
        assert.equal(autoEfSearch(10_000_000), 256);
        assert.equal(autoEfSearch(1e9), 256);
        const sizes = [150_000, 300_000, 600_000, 1_000_000, 3_000_000];
        const efs = sizes.map(autoEfSearch);
        assert.deepEqual(efs, [...efs].sort((a, b) => a - b), "it never falls as the graph grows");
        assert.ok(efs[0]! > 64 && efs[2]! < 128);
    });
});
