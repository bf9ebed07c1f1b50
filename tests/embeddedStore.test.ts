import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { open } from "lmdb";
import {
    CorruptKnowledgeBaseError, KnowledgeBaseBusyError, KnowledgeBaseLockLostError, KnowledgeBaseNameError, KnowledgeBaseNotFoundError,
} from "../src/errors.js";
import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import { LmdbStore, type StoreState } from "../src/store/embedded/lmdbStore.js";
import { tokenize, TOKENIZER_VERSION } from "../src/retrieval/tokenize.js";
import { validateKbName } from "../src/store/knowledgeBaseName.js";
import { acquireWriteLock } from "../src/store/writeLock.js";
import { makeTempDir, mulberry32 } from "./helpers.js";
import { bestText, embedder, makeDocument, put, textDocument, type TestDocument } from "./storageContract.js";

/* What is particular to the embedded backend: its files, the saved graph, its lock. The rest is in the storage contract. */

const hnsw = { m: 16, efConstruction: 100, efSearch: 64 };

describe("embedded storage", () => {
    let dataDir: string;
    let cleanup: () => Promise<void>;
    let storage: EmbeddedStorage;
    let counter = 0;
    before(async () => {
        ({ dir: dataDir, cleanup } = await makeTempDir("yizhi-embedded-"));
        storage = new EmbeddedStorage({ dataDir, hnsw });
    });
    after(() => cleanup());

    const freshName = () => `kb-${++counter}`;
    const writer = (name: string) => storage.openWriter(name, embedder, { create: true, lockWaitMs: 0 });

    async function committed(documents: TestDocument[]): Promise<string> {
        const name = freshName();
        const kb = await writer(name);
        for (const document of documents) await put(kb, document);
        await kb.commit();
        await kb.close();
        return name;
    }

    async function stateOf(name: string): Promise<StoreState> {
        const store = LmdbStore.open(name, storage.dirOf(name));
        try {
            return store.state();
        } finally {
            await store.close();
        }
    }

    async function graphFiles(name: string): Promise<string[]> {
        return (await fs.readdir(storage.dirOf(name))).filter((entry) => entry.startsWith("graph-")).sort();
    }

    describe("a commit", () => {
        it("writes what changed: the saved graph stays as it is, and opening replays the commits since", async () => {
            const name = await committed(Array.from({ length: 30 }, (_, i) => makeDocument(`d${i}`, 100, i)));
            const [graph] = await graphFiles(name);
            assert.ok(graph != null, "the first 3,000 chunks were worth saving the graph for");
            const saved = await fs.stat(path.join(storage.dirOf(name), graph));

            const small = makeDocument("small", 2, 99);
            const kb = await writer(name);
            await put(kb, small);
            await kb.commit();
            await kb.close();
            const after = await fs.stat(path.join(storage.dirOf(name), graph));
            assert.deepEqual([after.ino, after.mtimeMs, after.size], [saved.ino, saved.mtimeMs, saved.size], "the graph was not rewritten");
            assert.deepEqual(await graphFiles(name), [graph]);
            const state = await stateOf(name);
            assert.equal(state.sinceCheckpoint, 2, "two chunks to replay");
            assert.equal(state.checkpoint?.chunks, 3000);

            const reader = await storage.openReader(name, embedder);
            for (const [i, vector] of small.vectors.entries()) assert.equal((await bestText(reader, vector)).text, small.chunks[i]!.text);
            await reader.close();
        });

        it("saves the graph anew when enough changed, and `compact` does whenever asked", async () => {
            const name = await committed([makeDocument("a", 10, 1)]);
            const first = await graphFiles(name);
            const add = async (document: TestDocument) => {
                const kb = await writer(name);
                await put(kb, document);
                await kb.commit();
                await kb.close();
            };
            await add(makeDocument("b", 2, 2));
            assert.deepEqual(await graphFiles(name), first, "2 of 12 chunks changed: not worth saving the graph");
            await add(makeDocument("c", 2, 3));
            assert.notDeepEqual(await graphFiles(name), first, "4 of 14, over a quarter: saved");

            const report = await storage.compact(name, { lockWaitMs: 0 });
            assert.equal(report.chunks, 14);
            const state = await stateOf(name);
            assert.equal(state.sinceCheckpoint, 0);
            assert.deepEqual(await graphFiles(name), [state.checkpoint!.file], "the graphs before it are gone");
        });

        it("is refused when another writer committed since this one opened, writing nothing", async () => {
            const name = await committed([makeDocument("a", 2, 1)]);
            const kb = await writer(name);
            await put(kb, makeDocument("b", 1, 2));
            // What a writer that took the lock over would have committed meanwhile.
            const intruder = LmdbStore.open(name, storage.dirOf(name));
            intruder.commit(name, 1, 100, new Map());
            await intruder.close();
            await assert.rejects(kb.commit(), (error: unknown) => {
                assert.ok(error instanceof KnowledgeBaseLockLostError);
                assert.match(error.message, /version 2 was committed by another writer since this one opened version 1/);
                return true;
            });
            await kb.close();
            const reader = await storage.openReader(name, embedder);
            assert.deepEqual((await reader.documents()).map((document) => document.id), ["a"]);
            await reader.close();
        });

        it("is refused, and leaves that writer's lock alone, when another writer took the lock over", async () => {
            const name = await committed([makeDocument("a", 2, 1)]);
            const kb = await writer(name);
            await put(kb, makeDocument("b", 1, 2));
            await fs.writeFile(path.join(storage.dirOf(name), "write.lock.owner"), "4242 another-writer");
            await assert.rejects(kb.commit(), /another writer took it over/);
            await kb.close();
            assert.equal(await fs.readFile(path.join(storage.dirOf(name), "write.lock.owner"), "utf8"), "4242 another-writer");
            assert.equal((await stateOf(name)).documents, 1);
        });
    });

    describe("readers", () => {
        it("catch up across compactions that forgot the log they needed", async () => {
            const name = await committed([makeDocument("a", 3, 1), makeDocument("b", 3, 2)]);
            const reader = await storage.openReader(name, embedder);
            assert.equal((await reader.documents()).length, 2);
            const c = makeDocument("c", 3, 3);
            for (const step of [async () => put(kbRef!, c), async () => kbRef!.removeDocument("a")]) {
                kbRef = await writer(name);
                await step();
                await kbRef.commit();
                await kbRef.close();
                await storage.compact(name, { lockWaitMs: 0 });
            }
            assert.ok((await stateOf(name)).logStart > 2, "the log of the reader's version is gone");
            assert.equal((await bestText(reader, c.vectors[1]!)).text, c.chunks[1]!.text);
            const hits = await reader.denseSearch(makeDocument("a", 3, 1).vectors[0]!, 10);
            assert.equal(hits.length, 6, "a's chunks are gone from the graph");
            await reader.close();
        });
        let kbRef: Awaited<ReturnType<typeof writer>> | undefined;

        it("follow the knowledge base being deleted and created again under its name", async () => {
            const name = await committed([makeDocument("a", 2, 1)]);
            const reader = await storage.openReader(name, embedder);
            assert.equal((await reader.documents()).length, 1);
            await storage.delete(name, { lockWaitMs: 0 });
            await assert.rejects(reader.documents(), KnowledgeBaseNotFoundError);
            const kb = await writer(name);
            await put(kb, makeDocument("x", 1, 5));
            await put(kb, makeDocument("y", 1, 6));
            await kb.commit();
            await kb.close();
            assert.deepEqual((await reader.documents()).map((document) => document.id).sort(), ["x", "y"]);
            await reader.close();
        });

        it("read the knowledge base's own prompt templates from its prompts folder", async () => {
            const name = await committed([makeDocument("a", 1, 1)]);
            await fs.mkdir(path.join(storage.dirOf(name), "prompts"));
            await fs.writeFile(path.join(storage.dirOf(name), "prompts", "zh.txt"), "已知：{context} 问：{question}");
            const reader = await storage.openReader(name, embedder);
            assert.deepEqual(await reader.promptTemplate("zh"), { text: "已知：{context} 问：{question}", origin: path.join(storage.dirOf(name), "prompts", "zh.txt") });
            assert.equal(await reader.promptTemplate("en"), undefined);
            await reader.close();
        });
    });

    describe("BM25 postings", () => {
        it("made by another tokenizer version are made again at open, from the chunks' texts", async () => {
            const name = await committed([textDocument("a", ["数据库备份保留三十天", "差旅报销十五个工作日"]), textDocument("b", ["会议纪要"])]);
            const reader = await storage.openReader(name, embedder);
            const expected = await reader.lexicalSearch(tokenize("数据库备份"), 5);
            await reader.close();
            // Postings of an older tokenizer: here, none that today's terms would find.
            const raw = open({ path: path.join(storage.dirOf(name), "store.mdb"), maxDbs: 16 });
            const meta = raw.openDB<StoreState, string>("meta", {});
            raw.transactionSync(() => {
                meta.putSync("state", { ...meta.get("state")!, tokenizer: "jieba-search+porter-0" });
                raw.openDB("postings", { encoding: "binary" }).clearSync();
                raw.openDB("terms", {}).clearSync();
            });
            await raw.close();
            const stale = LmdbStore.open(name, storage.dirOf(name));
            assert.equal(stale.postings.documentFrequency(tokenize("数据库")[0]!), 0, "the tampering took");
            await stale.close();

            const reopened = await storage.openReader(name, embedder);
            assert.deepEqual(await reopened.lexicalSearch(tokenize("数据库备份"), 5), expected);
            await reopened.close();
            assert.equal((await stateOf(name)).tokenizer, TOKENIZER_VERSION);
        });
    });

    describe("damage", () => {
        for (const damage of ["truncated", "missing"] as const) {
            it(`names a ${damage} graph when opening; repair rebuilds it from the stored vectors`, async () => {
                const a = makeDocument("a", 20, 1);
                const name = await committed([a]);
                const [graph] = await graphFiles(name);
                const file = path.join(storage.dirOf(name), graph!);
                if (damage === "truncated") await fs.truncate(file, 500);
                else await fs.rm(file);
                await assert.rejects(storage.openReader(name, embedder), (error: unknown) => {
                    assert.ok(error instanceof CorruptKnowledgeBaseError);
                    assert.equal(error.file, graph);
                    assert.match(error.message, /yizhi kb repair/);
                    return true;
                });
                const report = await storage.repair(name, { lockWaitMs: 0 });
                assert.match(report.repaired.join(), /rebuilt the vector graph/);
                assert.equal(report.documents, 1);
                const reader = await storage.openReader(name, embedder);
                for (const [i, vector] of a.vectors.entries()) assert.equal((await bestText(reader, vector)).text, a.chunks[i]!.text);
                await reader.close();
                assert.deepEqual((await storage.repair(name)).repaired, [], "whole now");
            });
        }

        it("removes leftover temporary files and unused graphs at the next writer open", async () => {
            const name = await committed([makeDocument("a", 2, 1)]);
            const dir = storage.dirOf(name);
            const [graph] = await graphFiles(name);
            await fs.writeFile(path.join(dir, "graph-99.hnsw"), "a graph a crash left unrecorded");
            await fs.writeFile(path.join(dir, "graph-99.hnsw.4242.tmp"), "half-written");
            const kb = await writer(name);
            await kb.close();
            assert.deepEqual((await fs.readdir(dir)).filter((entry) => entry.startsWith("graph-")), [graph]);
        });

        it("refuses a corrupt kb.json, rewriting nothing", async () => {
            const name = await committed([makeDocument("a", 2, 1)]);
            const manifest = path.join(storage.dirOf(name), "kb.json");
            await fs.writeFile(manifest, "{ truncated");
            await assert.rejects(storage.openReader(name, embedder), CorruptKnowledgeBaseError);
            await assert.rejects(writer(name), CorruptKnowledgeBaseError);
            assert.equal(await fs.readFile(manifest, "utf8"), "{ truncated");
        });
    });

    describe("the data directory", () => {
        it("lists knowledge bases, damaged ones with their problem, and skips folders that are not knowledge bases", async () => {
            const listed = new EmbeddedStorage({ dataDir: path.join(dataDir, "listing"), hnsw });
            assert.deepEqual(await listed.list(), [], "a missing data directory lists nothing");
            for (const [name, documents] of [["docs", [makeDocument("a", 3, 1), makeDocument("b", 2, 2)]], ["项目文档", [makeDocument("c", 1, 3)]], ["garbled", [makeDocument("d", 1, 4)]]] as const) {
                const kb = await listed.openWriter(name, embedder, { create: true });
                for (const document of documents) await put(kb, document);
                await kb.commit();
                await kb.close();
            }
            const root = path.join(dataDir, "listing");
            await fs.writeFile(path.join(root, "garbled", "store.mdb"), "not an LMDB file at all, which is no good".repeat(200));
            await fs.mkdir(path.join(root, "other"));
            await fs.writeFile(path.join(root, "other", "notes.txt"), "not a knowledge base");
            await fs.mkdir(path.join(root, "broken"));
            await fs.writeFile(path.join(root, "broken", "kb.json"), "{ truncated");
            await fs.writeFile(path.join(root, "readme.txt"), "a file");
            await fs.mkdir(path.join(root, ".hidden"));
            await fs.copyFile(path.join(root, "docs", "kb.json"), path.join(root, ".hidden", "kb.json"));

            const summaries = await listed.list();
            assert.deepEqual(summaries.map(({ name, documents, chunks, problem }) => ({ name, documents, chunks, damaged: problem != null })), [
                { name: "broken", documents: 0, chunks: 0, damaged: true },
                { name: "docs", documents: 2, chunks: 5, damaged: false },
                { name: "garbled", documents: 0, chunks: 0, damaged: true },
                { name: "项目文档", documents: 1, chunks: 1, damaged: false },
            ]);
            assert.match(summaries[0]!.problem ?? "", /kb\.json cannot be read/);
        });

        it("keeps every knowledge base inside it, by name", () => {
            for (const name of ["docs", "项目文档", "team-a_v2.0", "a", "A1", "x".repeat(64), "文档2024", "a..b"]) {
                assert.equal(validateKbName(name), name);
                assert.equal(storage.dirOf(name), path.join(dataDir, name));
            }
            for (const name of ["..", ".", "../x", "a/b", "a\\b", "/abs", "", "x".repeat(65), "a\0b", "\0", ".hidden", "-rf", "a b", "a/../b", "..\\x", "名字/"]) {
                assert.throws(() => validateKbName(name), KnowledgeBaseNameError, JSON.stringify(name));
                assert.throws(() => storage.dirOf(name), KnowledgeBaseNameError, JSON.stringify(name));
            }
        });

        it("deletes a knowledge base only when no writer has it open; its folder goes", async () => {
            const name = await committed([makeDocument("a", 1, 1)]);
            const kb = await writer(name);
            await assert.rejects(storage.delete(name, { lockWaitMs: 0 }), KnowledgeBaseBusyError);
            await kb.close();
            await storage.delete(name, { lockWaitMs: 0 });
            await assert.rejects(fs.stat(storage.dirOf(name)), { code: "ENOENT" });
        });
    });

    describe("the write lock", () => {
        it("is exclusive until released", async () => {
            const { dir, cleanup: done } = await makeTempDir("yizhi-lock-");
            try {
                const lock = await acquireWriteLock(dir, "kb", 0);
                assert.equal(lock.compromised, undefined);
                await assert.rejects(acquireWriteLock(dir, "kb", 0), (error: unknown) => {
                    assert.ok(error instanceof KnowledgeBaseBusyError);
                    assert.equal(error.code, "kb_busy");
                    assert.match(error.message, /"kb"/);
                    return true;
                });
                await lock.release();
                const again = await acquireWriteLock(dir, "kb", 0);
                await again.release();
            } finally {
                await done();
            }
        });

        it("left behind by a dead process is taken over once stale", async () => {
            const name = await committed([makeDocument("a", 1, 1)]);
            const lockDir = path.join(storage.dirOf(name), "write.lock");
            await fs.mkdir(lockDir);
            await assert.rejects(writer(name), KnowledgeBaseBusyError, "a fresh lock is respected");
            const old = new Date(Date.now() - 60_000);
            await fs.utimes(lockDir, old, old);
            const kb = await writer(name);
            await put(kb, makeDocument("b", 1, 2));
            await kb.commit();
            await kb.close();
            assert.equal((await stateOf(name)).documents, 2);
        });
    });

    describe("BM25 postings, recent and merged", () => {
        const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"];
        const documentAt = (i: number): TestDocument => {
            const random = mulberry32(i);
            const texts = Array.from({ length: 3 }, (_, c) => [`marker${i}x${c}`, ...Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]!)].join(" "));
            return textDocument(`doc${i}`, texts);
        };
        const queries = [["alpha"], ["bravo", "kilo"], ["papa", "mike", "echo"], ["marker3x1"], ["marker69x2", "golf"], ["missing"]];

        /** Each query's hits, by chunk text, with their scores; and every chunk's lexical score for each query. */
        async function lexicalView(name: string): Promise<string[]> {
            const reader = await storage.openReader(name, embedder);
            try {
                const lines: string[] = [];
                const labels = (await reader.documents()).flatMap((document) => document.labels);
                const chunks = await reader.getChunks(labels);
                for (const terms of queries) {
                    for (const hit of await reader.lexicalSearch(terms, 1000)) lines.push(`${terms.join("+")} search ${chunks.get(hit.label)!.text} ${hit.score.toFixed(9)}`);
                    for (const [label, hit] of await reader.lexicalScores(terms, labels)) lines.push(`${terms.join("+")} score ${chunks.get(label)!.text} ${hit.score.toFixed(9)}`);
                }
                return lines.sort();
            } finally {
                await reader.close();
            }
        }

        it("give the same hits and scores whether a commit's postings are still recent, merged by a long-lived writer, or compacted", async () => {
            const many = freshName();
            const kb = await writer(many);
            for (let i = 0; i < 70; i++) {
                await put(kb, documentAt(i));
                await kb.commit();
            }
            assert.ok((await stateOf(many)).recentSegments < 64, "past 64 commits' worth, the writer merged them");
            // Removals from merged blocks (early documents) and from recent segments (late ones), and a replaced document.
            for (const id of ["doc2", "doc10", "doc65", "doc68"]) await kb.removeDocument(id);
            await put(kb, { ...documentAt(71), document: { ...documentAt(71).document, id: "doc5" } });
            await kb.commit();
            await kb.close();

            const finalIds = Array.from({ length: 70 }, (_, i) => i).filter((i) => ![2, 5, 10, 65, 68].includes(i));
            const one = await committed([...finalIds.map(documentAt), { ...documentAt(71), document: { ...documentAt(71).document, id: "doc5" } }]);
            const expected = await lexicalView(one);
            assert.ok(expected.some((line) => line.includes("marker3x1")), "the queries find something");
            assert.deepEqual(await lexicalView(many), expected);
            await storage.compact(many);
            assert.equal((await stateOf(many)).recentSegments, 0);
            assert.deepEqual(await lexicalView(many), expected);
        });
    });
});
