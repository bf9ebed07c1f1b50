import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
    EmbedderMismatchError, KnowledgeBaseBusyError, KnowledgeBaseClosedError, KnowledgeBaseExistsError, KnowledgeBaseNotFoundError, YizhiError,
} from "../src/errors.js";
import type { EmbedderIdentity } from "../src/models/models.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import type { ChunkRecord, DocumentRecord, NewChunk } from "../src/store/records.js";
import type { KnowledgeBaseReader, KnowledgeBaseWriter, Storage } from "../src/store/storage.js";
import { cosine, mulberry32 } from "./helpers.js";

/*
 * The storage contract: what every backend must do, in backend-neutral terms, in the style of
 * LangChain's standard tests. A backend's test file calls `describeStorageContract` with a factory
 * for a fresh, empty storage; its format, lock and crash tests stay in its own files.
 */

export const DIMENSION = 16;
export const embedder: EmbedderIdentity = { id: "test-embedder-v1", dimension: DIMENSION };

export interface TestDocument {
    document: Omit<DocumentRecord, "labels">;
    chunks: NewChunk[];
    vectors: number[][];
}

/** A document of `count` chunks with seeded random vectors; `version` changes its text, hash and vectors. */
export function makeDocument(id: string, count: number, seed: number, version = 1): TestDocument {
    const random = mulberry32(seed * 1000 + version);
    return {
        document: {
            id, source: `/docs/${id}.txt`, displayName: `${id}.txt`, hash: `hash-${id}-v${version}`, fileHash: `file-${id}-v${version}`, format: "txt",
            sizeBytes: 100 * count, ingestedAt: "2024-01-01T00:00:00.000Z",
        },
        chunks: Array.from({ length: count }, (_, i) => ({ index: i, text: `${id} v${version} 第${i}段`, start: i * 20, page: i + 1, headingPath: ["标题", id] })),
        vectors: Array.from({ length: count }, () => Array.from({ length: DIMENSION }, () => random() * 2 - 1)),
    };
}

/** A document whose chunks hold exactly `texts`, with vectors that do not matter. */
export function textDocument(id: string, texts: readonly string[]): TestDocument {
    const base = makeDocument(id, texts.length, id.length);
    return { ...base, chunks: texts.map((text, index) => ({ index, text, start: 0 })) };
}

export function put(writer: KnowledgeBaseWriter, test: TestDocument): Promise<DocumentRecord> {
    return writer.putDocument(test.document, test.chunks, test.vectors);
}

/** The text of the best dense hit for `vector`, which should be the chunk stored with that very vector. */
export async function bestText(reader: KnowledgeBaseReader, vector: readonly number[]): Promise<{ text: string; score: number }> {
    const [hit] = await reader.denseSearch(vector, 1);
    assert.ok(hit != null, "no hit");
    const chunk = (await reader.getChunks([hit.label])).get(hit.label);
    assert.ok(chunk != null, "the hit's chunk is stored");
    return { text: chunk.text, score: hit.score };
}

/** Every chunk text the reader finds by dense search for each of `vectors`, with k = all. */
async function denseTexts(reader: KnowledgeBaseReader, vectors: readonly number[][], k = 100): Promise<Set<string>> {
    const found = new Set<string>();
    for (const vector of vectors) {
        const hits = await reader.denseSearch(vector, k);
        for (const chunk of (await reader.getChunks(hits.map((hit) => hit.label))).values()) found.add(chunk.text);
    }
    return found;
}

async function lexicalTexts(reader: KnowledgeBaseReader, text: string): Promise<string[]> {
    const hits = await reader.lexicalSearch(tokenize(text), 100);
    const chunks = await reader.getChunks(hits.map((hit) => hit.label));
    return hits.map((hit) => chunks.get(hit.label)!.text);
}

const close = (actual: number, expected: number, tolerance = 1e-9) => assert.ok(Math.abs(actual - expected) < tolerance, `${actual} ≠ ${expected}`);

export interface StorageUnderTest {
    storage: Storage;
    cleanup: () => Promise<void>;
}

export function describeStorageContract(backend: string, make: () => Promise<StorageUnderTest>): void {
    describe(`storage contract: ${backend}`, () => {
        let storage: Storage;
        let cleanup: () => Promise<void>;
        let counter = 0;
        before(async () => {
            ({ storage, cleanup } = await make());
        });
        after(() => cleanup());

        const freshName = () => `kb-${++counter}`;

        async function writer(name: string, create = true): Promise<KnowledgeBaseWriter> {
            return storage.openWriter(name, embedder, { create, lockWaitMs: 0 });
        }

        /** A knowledge base holding a (3 chunks) and b (2 chunks), committed. */
        async function committed(): Promise<{ name: string; a: TestDocument; b: TestDocument }> {
            const name = freshName();
            const a = makeDocument("a", 3, 1);
            const b = makeDocument("b", 2, 2);
            const kb = await writer(name);
            await put(kb, a);
            await put(kb, b);
            await kb.commit();
            await kb.close();
            return { name, a, b };
        }

        describe("knowledge bases", () => {
            it("are created, listed with their counts, versioned by commit, and deleted", async () => {
                const name = freshName();
                assert.equal(await storage.exists(name), false);
                await storage.create(name, embedder);
                assert.equal(await storage.exists(name), true);
                await assert.rejects(storage.create(name, embedder), KnowledgeBaseExistsError);
                assert.equal(await storage.version(name), 0);
                let summary = (await storage.list()).find((kb) => kb.name === name);
                assert.deepEqual({ documents: summary?.documents, chunks: summary?.chunks, embedder: summary?.embedder }, { documents: 0, chunks: 0, embedder: embedder.id });

                const kb = await writer(name, false);
                await put(kb, makeDocument("a", 3, 1));
                await kb.commit();
                const first = await storage.version(name);
                await put(kb, makeDocument("b", 2, 2));
                await kb.commit();
                await kb.close();
                const second = await storage.version(name);
                assert.ok(first !== 0 && second !== first, `versions ${first}, ${second}`);
                summary = (await storage.list()).find((listed) => listed.name === name);
                assert.deepEqual({ documents: summary?.documents, chunks: summary?.chunks }, { documents: 2, chunks: 5 });

                await storage.delete(name, { lockWaitMs: 0 });
                assert.equal(await storage.exists(name), false);
                assert.ok(!(await storage.list()).some((listed) => listed.name === name));
                await assert.rejects(storage.openReader(name, embedder), KnowledgeBaseNotFoundError);
            });

            it("are not created by opening a reader, or a writer without create", async () => {
                const name = freshName();
                await assert.rejects(storage.openReader(name, embedder), KnowledgeBaseNotFoundError);
                await assert.rejects(writer(name, false), KnowledgeBaseNotFoundError);
                await assert.rejects(storage.delete(name), KnowledgeBaseNotFoundError);
                assert.equal(await storage.exists(name), false);
            });

            it("refuse an embedder with another id or dimension, changing nothing", async () => {
                const { name } = await committed();
                for (const other of [{ ...embedder, id: "another-model" }, { ...embedder, dimension: DIMENSION * 2 }]) {
                    await assert.rejects(storage.openReader(name, other), EmbedderMismatchError);
                    await assert.rejects(storage.openWriter(name, other, { lockWaitMs: 0 }), EmbedderMismatchError);
                }
                const reader = await storage.openReader(name, embedder);
                assert.equal((await reader.documents()).length, 2);
                await reader.close();
                const kb = await writer(name, false); // the failed opens left no lock behind
                await kb.close();
            });

            it("keep a remote embedder's fingerprint, and refuse the same name giving other vectors", async () => {
                const name = freshName();
                const fingerprint = Array.from({ length: DIMENSION }, (_, i) => Math.sin(i + 1));
                const remote: EmbedderIdentity = { id: "openai:bge-m3", dimension: DIMENSION, fingerprint };
                await storage.create(name, remote);
                assert.deepEqual(await storage.embedder(name), remote);
                // The same weights computed again (rounding) are the same embedder; other weights are not.
                const recomputed = { ...remote, fingerprint: fingerprint.map((value) => value * (1 + 1e-6)) };
                await (await storage.openWriter(name, recomputed, { lockWaitMs: 0 })).close();
                const swapped = { ...remote, fingerprint: fingerprint.map((_, i) => Math.cos(3 * i)) };
                await assert.rejects(storage.openWriter(name, swapped, { lockWaitMs: 0 }), { code: "embedder_mismatch", message: /other vectors under that name/ });
                await assert.rejects(storage.openReader(name, swapped), { code: "embedder_mismatch" });
                await (await storage.openReader(name, remote)).close();
                await storage.delete(name);
            });
        });

        describe("readers and the writer", () => {
            it("a commit is seen by a reader opened before it, at its next call, and by later ones", async () => {
                const { name, a, b } = await committed();
                const early = await storage.openReader(name, embedder);
                assert.equal((await early.documents()).length, 2);
                const kb = await writer(name, false);
                const c = makeDocument("c", 2, 3);
                await put(kb, c);
                assert.equal((await early.documents()).length, 2, "not before the commit");
                assert.equal((await kb.documents()).length, 3, "the writer sees its own change at once");
                await kb.commit();
                await kb.close();
                for (const reader of [early, await storage.openReader(name, embedder)]) {
                    assert.deepEqual((await reader.documents()).map((document) => document.id).sort(), ["a", "b", "c"]);
                    for (const test of [a, b, c]) {
                        for (const [i, vector] of test.vectors.entries()) {
                            const { text, score } = await bestText(reader, vector);
                            assert.equal(text, test.chunks[i]!.text);
                            close(score, 1, 1e-5);
                        }
                    }
                    await reader.close();
                }
            });

            it("what is not committed is dropped at close", async () => {
                const { name } = await committed();
                const kb = await writer(name, false);
                await put(kb, makeDocument("c", 2, 3));
                await kb.removeDocument("a");
                await kb.close();
                const reader = await storage.openReader(name, embedder);
                assert.deepEqual((await reader.documents()).map((document) => document.id).sort(), ["a", "b"]);
                await reader.close();
            });

            it("stores documents and chunks as given, each chunk under its own label", async () => {
                const { name, a } = await committed();
                const reader = await storage.openReader(name, embedder);
                const stored = await reader.getDocument("a");
                assert.ok(stored != null);
                const { labels, ...details } = stored;
                assert.deepEqual(details, a.document);
                assert.equal(new Set(labels).size, 3);
                const chunks = await reader.getChunks([...labels, 987_654]);
                assert.equal(chunks.size, 3, "an unknown label is left out");
                assert.deepEqual(labels.map((label) => {
                    const { label: _label, ...chunk } = chunks.get(label)!;
                    return chunk;
                }), a.chunks.map((chunk) => ({ ...chunk, documentId: "a", source: a.document.source })));
                assert.equal(await reader.getDocument("missing"), undefined);
                await reader.close();
            });

            it("dense scores are the cosine similarities of the stored vectors", async () => {
                const { name, a, b } = await committed();
                const reader = await storage.openReader(name, embedder);
                const query = makeDocument("q", 1, 99).vectors[0]!;
                const stored = [...a.vectors, ...b.vectors];
                const labels = [...(await reader.getDocument("a"))!.labels, ...(await reader.getDocument("b"))!.labels];
                const scores = await reader.denseScores(query, labels);
                labels.forEach((label, i) => close(scores.get(label)!, cosine(query, stored[i]!), 1e-5));
                const hits = await reader.denseSearch(query, 10);
                assert.equal(hits.length, 5);
                for (const hit of hits) close(hit.score, scores.get(hit.label)!, 1e-5);
                assert.deepEqual(hits.map((hit) => hit.score), [...hits.map((hit) => hit.score)].sort((x, y) => y - x));
                await reader.close();
            });

            it("replacing a document removes its old chunks from dense and lexical search, also after reopening", async () => {
                const { name, a } = await committed();
                const kb = await writer(name, false);
                const a2 = makeDocument("a", 2, 1, 2);
                await put(kb, a2);
                await kb.commit();
                await kb.close();
                const reader = await storage.openReader(name, embedder);
                const found = await denseTexts(reader, [...a.vectors, ...a2.vectors]);
                for (const chunk of a.chunks) assert.ok(!found.has(chunk.text), `${chunk.text} is gone`);
                for (const chunk of a2.chunks) assert.ok(found.has(chunk.text));
                assert.deepEqual(await lexicalTexts(reader, "v1"), ["b v1 第0段", "b v1 第1段"]);
                assert.equal((await reader.getDocument("a"))?.labels.length, 2);
                assert.equal((await reader.getChunks(a.chunks.map((_, i) => i))).size <= 2, true);
                await reader.close();
            });

            it("removing a document removes it and its chunks, durably; the writer says whether it existed", async () => {
                const { name, a } = await committed();
                const kb = await writer(name, false);
                assert.equal(await kb.removeDocument("a"), true);
                assert.equal(await kb.removeDocument("a"), false);
                assert.equal(await kb.removeDocument("missing"), false);
                await kb.commit();
                await kb.close();
                const reader = await storage.openReader(name, embedder);
                assert.deepEqual((await reader.documents()).map((document) => document.id), ["b"]);
                const found = await denseTexts(reader, a.vectors);
                for (const chunk of a.chunks) assert.ok(!found.has(chunk.text));
                assert.deepEqual(await lexicalTexts(reader, "a"), []);
                await reader.close();
            });

            it("never hands out a label twice, across commits and reopening", async () => {
                const name = freshName();
                const seen = new Set<number>();
                for (let round = 0; round < 3; round++) {
                    const kb = await writer(name);
                    const record = await put(kb, makeDocument("a", 3, 1, round + 1));
                    for (const label of record.labels) {
                        assert.ok(!seen.has(label), `label ${label} reused`);
                        seen.add(label);
                    }
                    await kb.commit();
                    await kb.close();
                }
            });

            it("finds a document by content hash, and updates its details without touching its chunks", async () => {
                const { name } = await committed();
                const kb = await writer(name, false);
                assert.equal((await kb.findByHash("hash-a-v1"))?.id, "a");
                assert.equal(await kb.findByHash("hash-none"), undefined);
                await kb.updateDocument("a", { fileHash: "file-a-resaved", format: "md", displayName: "renamed.md" });
                await kb.updateDocument("missing", { format: "md" });
                assert.equal((await kb.getDocument("a"))?.format, "md");
                await kb.commit();
                await kb.close();
                const reader = await storage.openReader(name, embedder);
                const stored = (await reader.getDocument("a"))!;
                assert.deepEqual([stored.fileHash, stored.format, stored.displayName, stored.labels.length], ["file-a-resaved", "md", "renamed.md", 3]);
                assert.equal(await reader.getDocument("missing"), undefined);
                await reader.close();
                const again = await writer(name, false);
                assert.equal((await again.findByHash("hash-a-v1"))?.id, "a");
                await again.removeDocument("a");
                assert.equal(await again.findByHash("hash-a-v1"), undefined, "a removal is seen at once");
                await again.close();
            });

            it("refuses vectors of another dimension, storing nothing", async () => {
                const { name } = await committed();
                const kb = await writer(name, false);
                const wrong = makeDocument("c", 1, 3);
                await assert.rejects(kb.putDocument(wrong.document, wrong.chunks, [[1, 2, 3]]), YizhiError);
                await assert.rejects(kb.putDocument(wrong.document, wrong.chunks, []), RangeError);
                await kb.commit();
                await kb.close();
                assert.equal((await storage.list()).find((summary) => summary.name === name)?.documents, 2);
            });

            it("lets one writer in at a time; readers are never blocked", async () => {
                const { name } = await committed();
                const first = await writer(name, false);
                await assert.rejects(writer(name, false), KnowledgeBaseBusyError);
                const reader = await storage.openReader(name, embedder);
                assert.equal((await reader.documents()).length, 2);
                await first.close();
                const waiting = storage.openWriter(name, embedder, { lockWaitMs: 5_000 });
                const second = await waiting;
                await second.close();
                await reader.close();
            });

            it("a closed reader or writer cannot be used, and a closed writer commits nothing", async () => {
                const { name } = await committed();
                const kb = await writer(name, false);
                await put(kb, makeDocument("c", 1, 3));
                await kb.close();
                await kb.close(); // closing twice is harmless
                const c = makeDocument("d", 1, 4);
                await assert.rejects(put(kb, c), KnowledgeBaseClosedError);
                await assert.rejects(kb.removeDocument("a"), KnowledgeBaseClosedError);
                await assert.rejects(kb.updateDocument("a", { format: "md" }), KnowledgeBaseClosedError);
                await assert.rejects(kb.documents(), KnowledgeBaseClosedError);
                await assert.rejects(kb.commit(), KnowledgeBaseClosedError);
                const next = await writer(name, false); // the lock is free
                await next.close();

                const reader = await storage.openReader(name, embedder);
                await reader[Symbol.asyncDispose]();
                await assert.rejects(reader.documents(), KnowledgeBaseClosedError);
                await assert.rejects(reader.getChunks([0]), KnowledgeBaseClosedError);
                await assert.rejects(reader.denseSearch(c.vectors[0]!, 1), KnowledgeBaseClosedError);
                await assert.rejects(reader.lexicalSearch(["a"], 1), KnowledgeBaseClosedError);
                const check = await storage.openReader(name, embedder);
                assert.deepEqual((await check.documents()).map((document) => document.id).sort(), ["a", "b"]);
                await check.close();
            });

            it("has no prompt template of its own unless given one; one given is read at once, and can be taken away", async () => {
                const { name } = await committed();
                const reader = await storage.openReader(name, embedder);
                assert.equal(await reader.promptTemplate("zh"), undefined);
                await storage.setPromptTemplate(name, "zh", "已知信息：{context}\n问题：{question}");
                assert.equal((await reader.promptTemplate("zh"))?.text, "已知信息：{context}\n问题：{question}");
                assert.equal(await reader.promptTemplate("en"), undefined);
                await storage.setPromptTemplate(name, "zh", undefined);
                assert.equal(await reader.promptTemplate("zh"), undefined);
                await reader.close();
            });

            it("keeps conversations: saved, listed the last changed first, replaced, deleted, and gone with the knowledge base", async () => {
                const { name } = await committed();
                assert.deepEqual(await storage.listConversations(name), []);
                const turn = {
                    question: "年假有几天？", answer: "十天 [1]。", refused: false, askedAt: "2026-12-01T08:00:00.000Z",
                    sources: [{ n: 1, documentId: "a", chunkIndex: 0, name: "制度.md", page: 2, headingPath: ["假期"], score: 0.8, text: "员工每年享有十天年假。" }],
                };
                const older = { id: "0123456789abcdef", title: "年假", createdAt: "2026-12-01T08:00:00.000Z", updatedAt: "2026-12-01T08:00:00.000Z", turns: [turn] };
                const newer = { id: "fedcba9876543210", title: "报销", createdAt: "2026-12-01T09:00:00.000Z", updatedAt: "2026-12-01T09:00:00.000Z", turns: [] };
                await storage.saveConversation(name, older);
                await storage.saveConversation(name, newer);
                assert.deepEqual(await storage.getConversation(name, older.id), older);
                assert.deepEqual((await storage.listConversations(name)).map((item) => [item.id, item.turns]), [[newer.id, 0], [older.id, 1]]);

                const continued = { ...older, title: "年假制度", updatedAt: "2026-12-01T10:00:00.000Z", turns: [turn, { ...turn, question: "病假呢？", refused: true, sources: [] }] };
                await storage.saveConversation(name, continued);
                assert.deepEqual(await storage.getConversation(name, older.id), continued);
                assert.deepEqual((await storage.listConversations(name)).map((item) => [item.id, item.title, item.turns]), [[older.id, "年假制度", 2], [newer.id, "报销", 0]]);

                assert.equal(await storage.getConversation(name, "../../kb"), undefined, "an id that is not one finds nothing");
                await assert.rejects(storage.saveConversation(name, { ...newer, id: "../escape" }), RangeError);
                assert.equal(await storage.deleteConversation(name, newer.id), true);
                assert.equal(await storage.deleteConversation(name, newer.id), false);
                assert.deepEqual((await storage.listConversations(name)).map((item) => item.id), [older.id]);

                await storage.delete(name);
                await storage.create(name, embedder);
                assert.deepEqual(await storage.listConversations(name), [], "a knowledge base made again under the name has none of the old one's");
                await assert.rejects(storage.listConversations("no-such-kb"), KnowledgeBaseNotFoundError);
            });

            it("gives back each chunk's stored vector, and the embedder it was built with", async () => {
                const { name, a, b } = await committed();
                assert.deepEqual(await storage.embedder(name), embedder);
                const reader = await storage.openReader(name, embedder);
                const labels = [...(await reader.getDocument("a"))!.labels, ...(await reader.getDocument("b"))!.labels];
                const vectors = await reader.getVectors([...labels, 987_654]);
                assert.equal(vectors.size, 5, "an unknown label is left out");
                [...a.vectors, ...b.vectors].forEach((vector, i) => {
                    const stored = vectors.get(labels[i]!)!;
                    assert.equal(stored.length, DIMENSION);
                    // Both backends keep 32-bit floats.
                    stored.forEach((value, j) => close(value, Math.fround(vector[j]!), 1e-7));
                });
                await reader.close();
            });
        });

        describe("lexical search (BM25)", () => {
            /** A knowledge base of one document per chunk text, committed; returns a reader and each text's label. */
            async function lexicalKb(texts: readonly string[]): Promise<{ reader: KnowledgeBaseReader; labelOf: (text: string) => number }> {
                const name = freshName();
                const kb = await writer(name);
                const labels = new Map<string, number>();
                for (const [i, text] of texts.entries()) labels.set(text, (await put(kb, textDocument(`d${i}`, [text]))).labels[0]!);
                await kb.commit();
                await kb.close();
                return { reader: await storage.openReader(name, embedder), labelOf: (text) => labels.get(text)! };
            }

            it("scores by the Okapi BM25 formula with Lucene's IDF (a worked example)", async () => {
                const { reader, labelOf } = await lexicalKb(["cat sat mat", "dog sat log dog", "cat cat cat dog bird"]);
                // N = 3, average length 4. "cat" is in 2 chunks: idf = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6.
                const idfCat = Math.log(1.6);
                const hits = await reader.lexicalSearch(["cat"], 10);
                assert.deepEqual(hits.map((hit) => hit.label), [labelOf("cat cat cat dog bird"), labelOf("cat sat mat")]);
                close(hits[0]!.score, idfCat * 3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 5 / 4)));
                close(hits[1]!.score, idfCat * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / 4)));
                const idfBird = Math.log(1 + 2.5 / 1.5);
                close((await reader.lexicalSearch(["bird"], 1))[0]!.score, idfBird * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 5 / 4)));
                // Scores for given chunks are the same as search gives them; a chunk without the term scores 0.
                const scores = await reader.lexicalScores(["cat"], [labelOf("cat sat mat"), labelOf("dog sat log dog"), 987_654]);
                close(scores.get(labelOf("cat sat mat"))!.score, hits[1]!.score);
                assert.equal(scores.get(labelOf("dog sat log dog"))!.score, 0);
                assert.equal(scores.has(987_654), false);
                await reader.close();
            });

            it("relevance is the score over that of an average-length chunk holding each query term once, capped at 1", async () => {
                const { reader, labelOf } = await lexicalKb(["cat sat mat", "dog sat log dog", "cat cat cat dog bird"]);
                const idf = (df: number) => Math.log(1 + (3 - df + 0.5) / (df + 0.5));
                const [top, second] = await reader.lexicalSearch(["cat", "mat"], 10);
                assert.equal(top!.label, labelOf("cat sat mat"));
                assert.ok(top!.score / (idf(2) + idf(1)) > 1);
                assert.equal(top!.relevance, 1);
                close(second!.relevance, second!.score / (idf(2) + idf(1)));
                const [withUnknown] = await reader.lexicalSearch(["cat", "mat", "zebra"], 10);
                close(withUnknown!.relevance, top!.score / (idf(2) + idf(1) + idf(0)));
                assert.deepEqual(await reader.lexicalSearch(["zebra"], 10), []);
                assert.deepEqual(await reader.lexicalSearch([], 10), []);
                await reader.close();
            });

            it("ranks a rare term above a common one, a short chunk above a long one, and saturates repeats", async () => {
                const { reader, labelOf } = await lexicalKb([
                    "报销流程说明", "差旅报销标准", "差旅住宿标准", "会议纪要", "会议纪要附件目录说明补充材料",
                    "词", "词 词", "词 词 词", "词 词 词 词",
                ]);
                const [rare] = await reader.lexicalSearch(tokenize("报销住宿"), 1);
                assert.equal(rare?.label, labelOf("差旅住宿标准"), "住宿 is rarer than 报销");
                assert.deepEqual((await reader.lexicalSearch(["纪要"], 2)).map((hit) => hit.label), [labelOf("会议纪要"), labelOf("会议纪要附件目录说明补充材料")]);
                const byLabel = new Map((await reader.lexicalSearch(["词"], 10)).map((hit) => [hit.label, hit.score]));
                const score = (repeats: number) => byLabel.get(labelOf(Array.from({ length: repeats }, () => "词").join(" ")))!;
                const gains = [2, 3, 4].map((repeats) => score(repeats) - score(repeats - 1));
                assert.ok(gains[0]! > gains[1]! && gains[1]! > gains[2]! && gains[2]! > 0, String(gains));
                await reader.close();
            });

            it("forgets removed chunks, in the statistics too", async () => {
                const name = freshName();
                const kb = await writer(name);
                for (const [id, text] of [["x1", "a1 shared"], ["x2", "a2 shared"], ["x3", "a3"]] as const) await put(kb, textDocument(id, [text]));
                await kb.commit();
                const reader = await storage.openReader(name, embedder);
                const before = (await reader.lexicalSearch(tokenize("shared"), 5))[0]!.score;
                await kb.removeDocument("x2");
                await kb.commit();
                await kb.close();
                assert.deepEqual(await reader.lexicalSearch(tokenize("a2"), 5), []);
                const hits = await reader.lexicalSearch(tokenize("shared"), 5);
                assert.equal(hits.length, 1);
                assert.notEqual(hits[0]!.score, before, "document frequency and lengths changed");
                await reader.close();
            });

            it("finds the chunks of many commits, across the blocks a term's postings fill", async () => {
                const name = freshName();
                const kb = await writer(name);
                const texts: string[] = [];
                const batches = ["alpha", "bravo", "charlie", "delta"];
                for (let commit = 0; commit < 4; commit++) {
                    for (let i = 0; i < 300; i++) {
                        const text = `共同 ${batches[commit]} 编号${commit * 300 + i}`;
                        texts.push(text);
                        await put(kb, textDocument(`n${commit}-${i}`, [text]));
                    }
                    await kb.commit();
                }
                for (let i = 0; i < 300; i += 2) await kb.removeDocument(`n1-${i}`);
                await kb.commit();
                await kb.close();
                const reader = await storage.openReader(name, embedder);
                assert.equal((await reader.lexicalSearch(["共同"], 2000)).length, 1200 - 150);
                assert.equal((await reader.lexicalSearch(tokenize("bravo"), 2000)).length, 150);
                assert.deepEqual(await lexicalTexts(reader, "302"), []);
                assert.deepEqual(await lexicalTexts(reader, "303"), ["共同 bravo 编号303"]);
                await reader.close();
            });
        });
    });
}

/** Every chunk a reader holds, document by document in document order. */
export async function allChunks(reader: KnowledgeBaseReader): Promise<ChunkRecord[]> {
    const labels = (await reader.documents()).flatMap((document) => document.labels);
    const chunks = await reader.getChunks(labels);
    return labels.map((label) => chunks.get(label)!);
}
