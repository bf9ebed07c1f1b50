import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { KnowledgeBaseExistsError } from "../src/errors.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import { copyKnowledgeBase } from "../src/store/copyKnowledgeBase.js";
import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import { PostgresStorage } from "../src/store/postgres/postgresStorage.js";
import type { LexicalHit } from "../src/retrieval/bm25.js";
import type { KnowledgeBaseReader, ScoredLabel, Storage } from "../src/store/storage.js";
import { fixture, makeTempDir, mulberry32 } from "./helpers.js";
import { describeStorageContract, embedder, makeDocument, put, textDocument, type TestDocument } from "./storageContract.js";
import { vectorDatabase, type TestDatabase } from "./testDatabases.js";

const close = (actual: number, expected: number, tolerance: number) => assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} ≠ ${expected}`);

describeStorageContract("postgres", async () => {
    const database = await vectorDatabase();
    const storage = new PostgresStorage({ url: database.url, poolSize: 4, hnsw: { m: 16, efConstruction: 100, efSearch: 64 } });
    return {
        storage,
        cleanup: async () => {
            await storage.close();
            await database.stop();
        },
    };
});

describe("postgres and embedded backends: the same scores, and copies both ways", () => {
    let database: TestDatabase;
    let postgres: PostgresStorage;
    let embedded: EmbeddedStorage;
    let temp: { dir: string; cleanup: () => Promise<void> };
    const hnsw = { m: 16, efConstruction: 200, efSearch: 400 };

    before(async () => {
        database = await vectorDatabase();
        temp = await makeTempDir();
        postgres = new PostgresStorage({ url: database.url, poolSize: 4, hnsw });
        embedded = new EmbeddedStorage({ dataDir: path.join(temp.dir, "file"), hnsw });
    });
    after(async () => {
        await postgres?.close();
        await database?.stop();
        await temp?.cleanup();
    });

    /** 150 news articles, a document each, cut into passages of about 120 characters, with seeded vectors. */
    async function newsCorpus(): Promise<TestDocument[]> {
        const lines = (await fs.readFile(fixture("zh", "crud_news_documents_dup_part_1_part_1.txt"), "utf8")).split("\n").filter((line) => line.trim() !== "").slice(0, 150);
        return lines.map((line, i) => {
            const texts = line.match(/[^。！？]{1,120}[。！？]?/g)!.slice(0, 8);
            return { ...textDocument(`news-${i}`, texts), vectors: makeDocument(`news-${i}`, texts.length, i + 7).vectors };
        });
    }

    async function fill(storage: Storage, name: string, corpus: readonly TestDocument[]): Promise<void> {
        const writer = await storage.openWriter(name, embedder, { create: true });
        for (const test of corpus) await put(writer, test);
        await writer.commit();
        await writer.close();
    }

    /** Chunks named by document and position, which both backends share (labels they do not). */
    async function named<T extends { label: number }>(reader: KnowledgeBaseReader, hits: readonly T[]): Promise<(T & { chunk: string })[]> {
        const chunks = await reader.getChunks(hits.map((hit) => hit.label));
        return hits.map((hit) => ({ ...hit, chunk: `${chunks.get(hit.label)!.documentId}#${chunks.get(hit.label)!.index}` }));
    }

    type LexicalNamed = (LexicalHit & { chunk: string })[];
    type DenseNamed = (ScoredLabel & { chunk: string })[];

    it("one corpus gives the same top 10 with the same scores (within 1e-6) on both, lexical and dense", async () => {
        const corpus = await newsCorpus();
        await fill(embedded, "news", corpus);
        await fill(postgres, "news", corpus);
        const readers = [await embedded.openReader("news", embedder), await postgres.openReader("news", embedder)] as const;
        const questions = ["解放军建军招待会", "中国经济增长数据", "北京 奥运会 体育", "科技创新 人工智能 发展", "暴雨 洪水 救援", "疫情防控措施", "China economy GDP"];
        let compared = 0;
        for (const question of questions) {
            const search = async (reader: KnowledgeBaseReader) => named(reader, await reader.lexicalSearch(tokenize(question), 10));
            const [fileHits, postgresHits] = await Promise.all(readers.map(search)) as [LexicalNamed, LexicalNamed];
            assert.deepEqual(postgresHits.map((hit) => hit.chunk), fileHits.map((hit) => hit.chunk), question);
            fileHits.forEach((hit, i) => {
                close(postgresHits[i]!.score, hit.score, 1e-6);
                close(postgresHits[i]!.relevance, hit.relevance, 1e-6);
            });
            compared += fileHits.length;
            // lexicalScores of the same chunks agrees with search, on both.
            const scored = await readers[1].lexicalScores(tokenize(question), postgresHits.map((hit) => hit.label));
            for (const hit of postgresHits) close(scored.get(hit.label)!.score, hit.score, 1e-9);
        }
        assert.ok(compared >= 50, `only ${compared} hits compared`);
        for (const probe of [corpus[3]!.vectors[0]!, corpus[77]!.vectors[2]!, makeDocument("q", 1, 4242).vectors[0]!]) {
            const search = async (reader: KnowledgeBaseReader) => named(reader, await reader.denseSearch(probe, 10));
            const [fileHits, postgresHits] = await Promise.all(readers.map(search)) as [DenseNamed, DenseNamed];
            assert.deepEqual(postgresHits.map((hit) => hit.chunk), fileHits.map((hit) => hit.chunk));
            fileHits.forEach((hit, i) => close(postgresHits[i]!.score, hit.score, 1e-6));
        }
        await Promise.all(readers.map((reader) => reader.close()));
    });

    it("indexes vectors past pgvector's 2,000 dimensions as halfvec, and searches past 4,000 exactly", async () => {
        for (const dimension of [3072, 4096]) {
            const wide = { id: `wide-${dimension}`, dimension };
            const random = mulberry32(dimension);
            const vectors = Array.from({ length: 30 }, () => Array.from({ length: dimension }, () => random() * 2 - 1));
            const writer = await postgres.openWriter(wide.id, wide, { create: true });
            await writer.putDocument(makeDocument("w", 30, 1).document, vectors.map((_, index) => ({ index, text: `第${index}段`, start: 0 })), vectors);
            await writer.commit();
            await writer.close();
            const reader = await postgres.openReader(wide.id, wide);
            const labels = (await reader.getDocument("w"))!.labels;
            for (const i of [0, 17, 29]) {
                const [best] = await reader.denseSearch(vectors[i]!, 5);
                assert.equal(best?.label, labels[i]);
                close(best!.score, 1, dimension <= 4000 ? 1e-3 : 1e-6);
            }
            await reader.close();
        }
    });

    /** Every document with its chunks and vectors, by document id and position. */
    async function contents(storage: Storage, name: string): Promise<unknown> {
        const reader = await storage.openReader(name, embedder);
        const documents = await reader.documents();
        const result = [];
        for (const { labels, ...document } of documents.sort((a, b) => a.id.localeCompare(b.id))) {
            const chunks = await reader.getChunks(labels);
            const vectors = await reader.getVectors(labels);
            result.push({
                document,
                chunks: labels.map((label) => ({ ...chunks.get(label)!, label: undefined, vector: vectors.get(label) })),
            });
        }
        const prompt = await reader.promptTemplate("zh");
        await reader.close();
        const conversations = await Promise.all((await storage.listConversations(name)).map(({ id }) => storage.getConversation(name, id)));
        return { result, prompt: prompt?.text, conversations };
    }

    it("yizhi kb copy's work: file → postgres → file gives back the same documents, chunks, vectors, prompt and conversations", async () => {
        const corpus = (await newsCorpus()).slice(0, 40);
        await fill(embedded, "trip", corpus);
        await embedded.setPromptTemplate("trip", "zh", "已知信息：{context}\n请回答：{question}");
        await embedded.saveConversation("trip", {
            id: "00112233445566aa", title: "新闻", createdAt: "2026-12-01T08:00:00.000Z", updatedAt: "2026-12-01T08:00:00.000Z",
            turns: [{ question: "发生了什么？", answer: "见 [1]。", refused: false, askedAt: "2026-12-01T08:00:00.000Z", sources: [] }],
        });
        const original = await contents(embedded, "trip");
        assert.deepEqual(await copyKnowledgeBase(embedded, postgres, "trip"), { documents: 40, chunks: corpus.reduce((sum, test) => sum + test.chunks.length, 0) });
        assert.deepEqual(await contents(postgres, "trip"), original);
        await copyKnowledgeBase(postgres, embedded, "trip", { as: "trip-back" });
        assert.deepEqual(await contents(embedded, "trip-back"), original);
        await assert.rejects(copyKnowledgeBase(embedded, postgres, "trip"), KnowledgeBaseExistsError, "a copy never overwrites");
        assert.deepEqual(await contents(postgres, "trip"), original);
    });
});
