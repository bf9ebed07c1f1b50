import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
    CorruptKnowledgeBaseError, EmbedderMismatchError, KnowledgeBaseBusyError, KnowledgeBaseClosedError, KnowledgeBaseLockLostError,
    KnowledgeBaseNameError, KnowledgeBaseNotFoundError,
} from "../src/errors.js";
import type { EmbedderIdentity } from "../src/models/llamaEmbeddings.js";
import type { HnswParams } from "../src/store/hnswVectorStore.js";
import { KnowledgeBase, type DocumentRecord, type OpenKnowledgeBaseOptions } from "../src/store/knowledgeBase.js";
import { KnowledgeBases, validateKbName } from "../src/store/knowledgeBases.js";
import { acquireWriteLock } from "../src/store/writeLock.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import { makeTempDir, mulberry32, unusedEmbeddings } from "./helpers.js";

const DIMENSION = 16;
const embedder: EmbedderIdentity = { id: "test-embedder-v1", dimension: DIMENSION };
const hnsw: HnswParams = { m: 16, efConstruction: 100, efSearch: 64 };

function options(mode: "read" | "write", extra: Partial<OpenKnowledgeBaseOptions> = {}): OpenKnowledgeBaseOptions {
    return { embeddings: unusedEmbeddings, embedder, hnsw, mode, lockWaitMs: 0, ...extra };
}

interface TestDocument {
    document: Omit<DocumentRecord, "labels">;
    chunks: { index: number; text: string; start: number; page?: number }[];
    vectors: number[][];
}

/** A document of `count` chunks with random (seeded) vectors; `version` changes its text and vectors. */
function makeDocument(id: string, count: number, seed: number, version = 1): TestDocument {
    const random = mulberry32(seed * 1000 + version);
    return {
        document: {
            id, source: `/docs/${id}.txt`, hash: `hash-${id}-v${version}`, fileHash: `file-hash-${id}-v${version}`, format: "txt", sizeBytes: 100 * count,
            ingestedAt: "2024-01-01T00:00:00.000Z",
        },
        chunks: Array.from({ length: count }, (_, i) => ({ index: i, text: `${id} v${version} 第${i}段`, start: i * 20, page: i + 1 })),
        vectors: Array.from({ length: count }, () => Array.from({ length: DIMENSION }, () => random() * 2 - 1)),
    };
}

function put(kb: KnowledgeBase, test: TestDocument): DocumentRecord {
    return kb.putDocument(test.document, test.chunks, test.vectors);
}

/** The texts of the chunks found searching for each of `vectors` with k = every chunk. */
function searchTexts(kb: KnowledgeBase, vectors: readonly number[][]): Set<string> {
    const found = new Set<string>();
    for (const vector of vectors) for (const [chunk] of kb.store.searchChunks(vector, Math.max(1, kb.store.size))) found.add(chunk.text);
    return found;
}

/** The best hit for `vector`, which should be the chunk stored with that very vector. */
function bestHit(kb: KnowledgeBase, vector: readonly number[]): { text: string; score: number } {
    const [hit] = kb.store.searchChunks(vector, 1);
    assert.ok(hit != null, "no hit");
    return { text: hit[0].text, score: hit[1] };
}

/** Every file under `dir` with its bytes, to prove that something wrote nothing. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
        const full = path.join(entry.parentPath, entry.name);
        files.set(path.relative(dir, full) + (entry.isDirectory() ? "/" : ""), entry.isDirectory() ? Buffer.alloc(0) : await fs.readFile(full));
    }
    return files;
}

async function assertUnchanged(dir: string, before: Map<string, Buffer>): Promise<void> {
    assert.ok(before.has("kb.json") && before.has("CURRENT"), "the snapshot holds the knowledge base's files");
    const now = await snapshot(dir);
    assert.deepEqual([...now.keys()].sort(), [...before.keys()].sort());
    for (const [name, bytes] of before) assert.ok(now.get(name)!.equals(bytes), `${name} was rewritten`);
}

describe("KnowledgeBase", () => {
    let root: string;
    let cleanup: () => Promise<void>;
    let counter = 0;

    before(async () => {
        ({ dir: root, cleanup } = await makeTempDir("yizhi-kb-"));
    });
    after(async () => {
        await cleanup();
    });

    function freshDir(): string {
        return path.join(root, `kb-${++counter}`);
    }

    /** A knowledge base with documents a (3 chunks) and b (2 chunks), committed and closed. */
    async function committedKb(): Promise<{ dir: string; a: TestDocument; b: TestDocument }> {
        const dir = freshDir();
        const a = makeDocument("a", 3, 1);
        const b = makeDocument("b", 2, 2);
        const kb = await KnowledgeBase.open("test", dir, options("write"));
        put(kb, a);
        put(kb, b);
        await kb.commit();
        await kb.close();
        return { dir, a, b };
    }

    it("commits documents that a read-only open elsewhere can see and search", async () => {
        const dir = freshDir();
        const a = makeDocument("a", 3, 1);
        const b = makeDocument("b", 2, 2);
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        assert.equal(writer.writable, true);
        const recordA = put(writer, a);
        put(writer, b);
        assert.deepEqual(recordA.labels, [0, 1, 2]);
        await writer.commit();

        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.equal(reader.writable, false);
        assert.deepEqual(reader.documents().map((document) => document.id).sort(), ["a", "b"]);
        assert.deepEqual(reader.getDocument("a"), { ...a.document, labels: [0, 1, 2] });
        assert.deepEqual(reader.chunksOf("a").map((chunk) => [chunk.text, chunk.page, chunk.documentId, chunk.source]), [
            ["a v1 第0段", 1, "a", "/docs/a.txt"], ["a v1 第1段", 2, "a", "/docs/a.txt"], ["a v1 第2段", 3, "a", "/docs/a.txt"],
        ]);
        assert.equal(reader.findByHash("hash-b-v1")?.id, "b");
        assert.equal(reader.store.size, 5);
        for (const [i, vector] of [...a.vectors, ...b.vectors].entries()) {
            const { text, score } = bestHit(reader, vector);
            assert.equal(text, [...a.chunks, ...b.chunks][i]!.text);
            assert.ok(Math.abs(score - 1) < 1e-5);
        }
        await writer.close();

        const manifest = JSON.parse(await fs.readFile(path.join(dir, "kb.json"), "utf8")) as { embedder: EmbedderIdentity; name: string };
        assert.deepEqual(manifest.embedder, embedder);
        assert.equal(manifest.name, "test");
        await assert.rejects(fs.stat(path.join(dir, "write.lock")), { code: "ENOENT" });
    });

    it("keeps uncommitted changes invisible to new readers and drops them on close", async () => {
        const { dir, a, b } = await committedKb();
        const c = makeDocument("c", 2, 3);
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        put(writer, c);
        writer.removeDocument("a");
        assert.equal(writer.store.size, 4);

        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.deepEqual(reader.documents().map((document) => document.id).sort(), ["a", "b"]);
        assert.equal(searchTexts(reader, c.vectors).has("c v1 第0段"), false);
        const committed = await KnowledgeBase.readCommitted("test", dir);
        assert.deepEqual(committed.documents.map((document) => document.id).sort(), ["a", "b"]);
        await writer.close();

        const reopened = await KnowledgeBase.open("test", dir, options("write"));
        assert.deepEqual(reopened.documents().map((document) => document.id).sort(), ["a", "b"]);
        const texts = searchTexts(reopened, [...a.vectors, ...b.vectors, ...c.vectors]);
        assert.deepEqual([...texts].sort(), [...a.chunks, ...b.chunks].map((chunk) => chunk.text).sort());
        await reopened.close();
    });

    it("replacing a document removes its old chunks from search", async () => {
        const { dir, a } = await committedKb();
        const a2 = makeDocument("a", 2, 1, 2);
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        const record = put(writer, a2);
        assert.deepEqual(record.labels, [5, 6], "new chunks get new labels");
        assert.equal(writer.store.size, 4);
        const inMemory = searchTexts(writer, a.vectors);
        for (const chunk of a.chunks) assert.equal(inMemory.has(chunk.text), false, `old chunk "${chunk.text}" still found`);
        await writer.commit();
        await writer.close();

        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.equal(reader.documents().length, 2);
        assert.equal(reader.getDocument("a")?.hash, "hash-a-v2");
        assert.deepEqual(reader.chunksOf("a").map((chunk) => chunk.text), ["a v2 第0段", "a v2 第1段"]);
        const found = searchTexts(reader, [...a.vectors, ...a2.vectors]);
        for (const chunk of a.chunks) assert.equal(found.has(chunk.text), false, `old chunk "${chunk.text}" found after reopen`);
        assert.equal(bestHit(reader, a2.vectors[1]!).text, "a v2 第1段");
        assert.equal(reader.store.size, 4);
    });

    it("removeDocument removes the document and its chunks, durably", async () => {
        const { dir, a, b } = await committedKb();
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        assert.equal(writer.removeDocument("a"), true);
        assert.equal(writer.removeDocument("a"), false);
        assert.equal(writer.removeDocument("missing"), false);
        await writer.commit();
        await writer.close();

        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.equal(reader.getDocument("a"), undefined);
        assert.deepEqual(reader.chunksOf("a"), []);
        const found = searchTexts(reader, [...a.vectors, ...b.vectors]);
        assert.deepEqual([...found].sort(), b.chunks.map((chunk) => chunk.text).sort());
        const committed = await KnowledgeBase.readCommitted("test", dir);
        assert.deepEqual(committed.chunks.map((chunk) => chunk.documentId), ["b", "b"]);
    });

    describe("its lexical (BM25) index", () => {
        /** A document whose chunks hold words that name it: `${word}` in each chunk. */
        function wordDocument(id: string, word: string, count: number, version = 1): TestDocument {
            const document = makeDocument(id, count, id.charCodeAt(0), version);
            document.chunks = document.chunks.map((chunk, i) => ({ ...chunk, text: `${word}第${i}条规定（版本${version}）` }));
            return document;
        }
        const lexicalLabels = (kb: KnowledgeBase, word: string) => kb.lexical.search(tokenize(word), 100).map((hit) => hit.label).sort((x, y) => x - y);

        it("is saved with each generation and finds the committed chunks by their words after reopening", async () => {
            const dir = freshDir();
            const writer = await KnowledgeBase.open("test", dir, options("write"));
            const travel = put(writer, wordDocument("t", "差旅费", 3));
            const leave = put(writer, wordDocument("l", "年假", 2));
            await writer.commit();
            await writer.close();
            assert.ok((await fs.readdir(dir)).includes("lexical-1.json"));

            const reader = await KnowledgeBase.open("test", dir, options("read"));
            assert.equal(reader.lexical.size, 5);
            assert.deepEqual(lexicalLabels(reader, "差旅费"), travel.labels);
            assert.deepEqual(lexicalLabels(reader, "年假"), leave.labels);
        });

        it("never returns a deleted or replaced document's chunks, in memory or after reopening", async () => {
            const dir = freshDir();
            const writer = await KnowledgeBase.open("test", dir, options("write"));
            put(writer, wordDocument("t", "差旅费", 3));
            put(writer, wordDocument("l", "年假", 2));
            await writer.commit();
            writer.removeDocument("t");
            const replaced = put(writer, wordDocument("l", "病假", 2, 2));
            assert.deepEqual(lexicalLabels(writer, "差旅费"), []);
            assert.deepEqual(lexicalLabels(writer, "年假"), []);
            await writer.commit();
            await writer.close();

            const reader = await KnowledgeBase.open("test", dir, options("read"));
            assert.deepEqual(lexicalLabels(reader, "差旅费"), []);
            assert.deepEqual(lexicalLabels(reader, "年假"), []);
            assert.deepEqual(lexicalLabels(reader, "病假"), replaced.labels);
            assert.equal(reader.lexical.size, reader.store.size);
            // The saved file itself no longer holds the deleted chunks.
            const saved = JSON.parse(await fs.readFile(path.join(dir, "lexical-2.json"), "utf8")) as { chunks: [number, unknown][] };
            assert.deepEqual(saved.chunks.map(([label]) => label).sort(), replaced.labels);
        });

        it("is rebuilt from the chunks' text when its file is missing, damaged, or from another tokenizer", async () => {
            const dir = freshDir();
            const writer = await KnowledgeBase.open("test", dir, options("write"));
            const travel = put(writer, wordDocument("t", "差旅费", 3));
            await writer.commit();
            await writer.close();
            const file = path.join(dir, "lexical-1.json");
            const original = await fs.readFile(file, "utf8");
            const damages: [string, () => Promise<void>][] = [
                ["missing", () => fs.rm(file)],
                ["truncated", () => fs.writeFile(file, original.slice(0, original.length / 2))],
                ["another tokenizer", () => fs.writeFile(file, JSON.stringify({ ...JSON.parse(original), tokenizer: "old", chunks: [] }))],
            ];
            for (const [damage, apply] of damages) {
                await apply();
                const reader = await KnowledgeBase.open("test", dir, options("read"));
                assert.deepEqual(lexicalLabels(reader, "差旅费"), travel.labels, damage);
                assert.equal(reader.documents().length, 1, damage);
            }
        });

        it("a crash before CURRENT moves leaves the previous generation's lexical index in use", async () => {
            const dir = freshDir();
            const writer = await KnowledgeBase.open("test", dir, options("write"));
            const travel = put(writer, wordDocument("t", "差旅费", 3));
            await writer.commit();
            await writer.close();
            // What a crash while writing generation 2 leaves: its lexical file, but CURRENT still 1.
            await fs.writeFile(path.join(dir, "lexical-2.json"), JSON.stringify({ tokenizer: "x", k1: 1.2, b: 0.75, chunks: [] }));
            const reader = await KnowledgeBase.open("test", dir, options("read"));
            assert.deepEqual(lexicalLabels(reader, "差旅费"), travel.labels);
            const next = await KnowledgeBase.open("test", dir, options("write"));
            assert.ok(!(await fs.readdir(dir)).includes("lexical-2.json"), "the writer removes the leftover");
            await next.close();
        });
    });

    it("never hands out a label twice, across commits and reopening", async () => {
        const { dir } = await committedKb();
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        writer.removeDocument("b");
        await writer.commit();
        await writer.close();
        const again = await KnowledgeBase.open("test", dir, options("write"));
        assert.deepEqual(put(again, makeDocument("c", 2, 3)).labels, [5, 6]);
        await again.close();
    });

    it("refuses an embedder with another id or dimension, writing nothing", async () => {
        const { dir } = await committedKb();
        const before = await snapshot(dir);
        for (const other of [{ id: "another-embedder", dimension: DIMENSION }, { id: embedder.id, dimension: 32 }]) {
            for (const mode of ["read", "write"] as const) {
                await assert.rejects(KnowledgeBase.open("test", dir, options(mode, { embedder: other })), (error: unknown) => {
                    assert.ok(error instanceof EmbedderMismatchError);
                    assert.ok(error.message.includes(embedder.id) && error.message.includes(other.id));
                    return true;
                });
                await assertUnchanged(dir, before);
            }
        }
        // The failed write open released its lock.
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        await writer.close();
    });

    it("lets one writer in at a time; readers are never blocked", async () => {
        const { dir } = await committedKb();
        const first = await KnowledgeBase.open("test", dir, options("write"));
        await assert.rejects(KnowledgeBase.open("test", dir, options("write")), KnowledgeBaseBusyError);
        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.equal(reader.documents().length, 2);
        await first.close();

        const second = await KnowledgeBase.open("test", dir, options("write"));
        assert.equal(second.writable, true);
        await second.close();
    });

    it("waits for a writer to finish when lockWaitMs allows", async () => {
        const { dir } = await committedKb();
        const first = await KnowledgeBase.open("test", dir, options("write"));
        const waiting = KnowledgeBase.open("test", dir, options("write", { lockWaitMs: 5_000 }));
        setTimeout(() => void first.close(), 300);
        const second = await waiting;
        assert.equal(second.writable, true);
        await second.close();
    });

    it("takes over a lock left behind by a dead process", async () => {
        const { dir } = await committedKb();
        const lockDir = path.join(dir, "write.lock");
        await fs.mkdir(lockDir);
        await assert.rejects(KnowledgeBase.open("test", dir, options("write")), KnowledgeBaseBusyError, "a fresh lock is respected");

        const old = new Date(Date.now() - 60_000);
        await fs.utimes(lockDir, old, old);
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        put(writer, makeDocument("c", 1, 3));
        await writer.commit();
        await writer.close();
        assert.equal((await KnowledgeBase.readCommitted("test", dir)).documents.length, 3);
    });

    it("a writer whose lock another writer took over commits nothing and leaves that writer's lock alone", async () => {
        const { dir } = await committedKb();
        const stale = await KnowledgeBase.open("test", dir, options("write"));
        put(stale, makeDocument("c", 1, 3));
        // What a writer that found the lock stale leaves beside it: its own token.
        await fs.writeFile(path.join(dir, "write.lock.owner"), "4242 another-writer");
        const before = await snapshot(dir);
        await assert.rejects(stale.commit(), (error: unknown) => {
            assert.ok(error instanceof KnowledgeBaseLockLostError);
            assert.equal(error.code, "kb_lock_lost");
            assert.match(error.message, /Nothing was committed to knowledge base "test".*another writer took it over/);
            return true;
        });
        await assertUnchanged(dir, before);
        await stale.close();
        await fs.access(path.join(dir, "write.lock")); // still the other writer's
        assert.equal(await fs.readFile(path.join(dir, "write.lock.owner"), "utf8"), "4242 another-writer");
    });

    it("a writer whose knowledge base another writer committed since it opened commits nothing", async () => {
        const { dir } = await committedKb();
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        put(writer, makeDocument("c", 1, 3));
        // Generation 2, as another writer that took the lock over would have committed it.
        for (const file of ["index", "records", "lexical"]) {
            const extension = file === "index" ? "hnsw" : "json";
            await fs.copyFile(path.join(dir, `${file}-1.${extension}`), path.join(dir, `${file}-2.${extension}`));
        }
        await fs.writeFile(path.join(dir, "CURRENT"), "2\n");
        const before = await snapshot(dir);
        await assert.rejects(writer.commit(), (error: unknown) => {
            assert.ok(error instanceof KnowledgeBaseLockLostError);
            assert.match(error.message, /generation 2 was committed by another writer since this one opened generation 1/);
            return true;
        });
        await assertUnchanged(dir, before);
        await writer.close();
        assert.deepEqual((await KnowledgeBase.readCommitted("test", dir)).documents.map((document) => document.id).sort(), ["a", "b"]);
    });

    it("cannot be used once closed", async () => {
        const { dir } = await committedKb();
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        await writer.close();
        await writer.close(); // closing twice is harmless
        assert.throws(() => put(writer, makeDocument("c", 1, 3)), KnowledgeBaseClosedError);
        assert.throws(() => writer.removeDocument("a"), KnowledgeBaseClosedError);
        await assert.rejects(writer.commit(), KnowledgeBaseClosedError);
        // The lock is free for the next writer, and the closed one wrote nothing.
        const next = await KnowledgeBase.open("test", dir, options("write"));
        await next.close();
        const reader = await KnowledgeBase.open("test", dir, options("read"));
        await reader.close();
        assert.throws(() => reader.documents(), KnowledgeBaseClosedError);
        assert.throws(() => reader.chunksOf("a"), KnowledgeBaseClosedError);
        assert.deepEqual((await KnowledgeBase.readCommitted("test", dir)).documents.map((document) => document.id).sort(), ["a", "b"]);
    });

    it("ignores a half-written generation and removes it at the next writer open", async () => {
        const { dir, a } = await committedKb();
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        put(writer, makeDocument("c", 2, 3));
        await writer.commit();
        await writer.close();
        assert.equal((await fs.readFile(path.join(dir, "CURRENT"), "utf8")).trim(), "2");

        // A crash during commit of generation 7: garbage graph, truncated records, a temporary file.
        const leftovers = ["index-7.hnsw", "records-7.json", "records-7.json.99999.tmp", "CURRENT.99999.tmp"];
        await fs.writeFile(path.join(dir, "index-7.hnsw"), Buffer.from("not an hnsw index at all"));
        const records = await fs.readFile(path.join(dir, "records-2.json"), "utf8");
        await fs.writeFile(path.join(dir, "records-7.json"), records.slice(0, records.length / 2));
        await fs.writeFile(path.join(dir, "records-7.json.99999.tmp"), records.slice(0, 10));
        await fs.writeFile(path.join(dir, "CURRENT.99999.tmp"), "7");

        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.deepEqual(reader.documents().map((document) => document.id).sort(), ["a", "b", "c"]);
        assert.equal(bestHit(reader, a.vectors[0]!).text, "a v1 第0段");
        assert.equal((await KnowledgeBase.readCommitted("test", dir)).chunks.length, 7);
        for (const name of leftovers) await fs.access(path.join(dir, name)); // readers delete nothing

        const next = await KnowledgeBase.open("test", dir, options("write"));
        const files = await fs.readdir(dir);
        for (const name of leftovers) assert.ok(!files.includes(name), `${name} survived the writer open`);
        assert.ok(files.includes("index-2.hnsw") && files.includes("records-2.json"));
        put(next, makeDocument("d", 1, 4));
        await next.commit();
        await next.close();
        const after = await KnowledgeBase.open("test", dir, options("read"));
        assert.deepEqual(after.documents().map((document) => document.id).sort(), ["a", "b", "c", "d"]);
        assert.equal((await fs.readFile(path.join(dir, "CURRENT"), "utf8")).trim(), "3");
    });

    it("after a crash during the first commit, opens empty and commits over the leftovers", async () => {
        const dir = freshDir();
        const created = await KnowledgeBase.open("test", dir, options("write"));
        await created.close();
        await fs.writeFile(path.join(dir, "index-1.hnsw"), Buffer.from("half an index"));
        await fs.writeFile(path.join(dir, "records-1.json"), "{\"generation\":1,\"documents\":[");

        assert.deepEqual(await KnowledgeBase.readCommitted("test", dir), { documents: [], chunks: [] });
        const reader = await KnowledgeBase.open("test", dir, options("read"));
        assert.equal(reader.store.size, 0);
        assert.deepEqual(reader.store.searchChunks(makeDocument("x", 1, 9).vectors[0]!, 5), []);

        const a = makeDocument("a", 2, 1);
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        put(writer, a);
        await writer.commit();
        await writer.close();
        const after = await KnowledgeBase.open("test", dir, options("read"));
        assert.deepEqual(after.documents().map((document) => document.id), ["a"]);
        assert.equal(bestHit(after, a.vectors[1]!).text, "a v1 第1段");
    });

    it("refuses a corrupt CURRENT file, rewriting nothing", async () => {
        const { dir } = await committedKb();
        for (const content of ["garbage\n", "", "-1", "1.5", "9\n"]) {
            await fs.writeFile(path.join(dir, "CURRENT"), content);
            const before = await snapshot(dir);
            for (const mode of ["read", "write"] as const) {
                await assert.rejects(KnowledgeBase.open("test", dir, options(mode)), CorruptKnowledgeBaseError, `CURRENT "${content}" (${mode})`);
                await assertUnchanged(dir, before);
            }
            await assert.rejects(KnowledgeBase.readCommitted("test", dir), CorruptKnowledgeBaseError);
        }
        await fs.writeFile(path.join(dir, "CURRENT"), "1\n");
        const writer = await KnowledgeBase.open("test", dir, options("write"));
        assert.equal(writer.documents().length, 2, "the lock was released and the data is intact");
        await writer.close();
    });

    it("refuses a corrupt records file, rewriting nothing", async () => {
        const { dir } = await committedKb();
        const recordsFile = path.join(dir, "records-1.json");
        const records = await fs.readFile(recordsFile, "utf8");
        await fs.writeFile(recordsFile, records.slice(0, Math.floor(records.length * 0.6)));
        const before = await snapshot(dir);
        for (const mode of ["read", "write"] as const) {
            await assert.rejects(KnowledgeBase.open("test", dir, options(mode)), (error: unknown) => {
                assert.ok(error instanceof CorruptKnowledgeBaseError);
                assert.match(error.message, /records-1\.json/);
                return true;
            });
            await assertUnchanged(dir, before);
        }
        await assert.rejects(KnowledgeBase.readCommitted("test", dir), CorruptKnowledgeBaseError);
        await assertUnchanged(dir, before);
    });

    describe("integrity on disk", () => {
        /** A knowledge base with two commits: generation 1 holds a and b, generation 2 adds c. */
        async function twoCommits(): Promise<string> {
            const { dir } = await committedKb();
            const writer = await KnowledgeBase.open("test", dir, options("write"));
            put(writer, makeDocument("c", 2, 3));
            await writer.commit();
            await writer.close();
            return dir;
        }

        const damages: { file: string; damage: (file: string) => Promise<void> }[] = [
            {
                file: "records-2.json", damage: async (file) => {
                    // Valid JSON, every chunk gone: what opened as "3 documents, 0 chunks" before checksums.
                    const records = JSON.parse(await fs.readFile(file, "utf8")) as { chunks: unknown[] };
                    await fs.writeFile(file, JSON.stringify({ ...records, chunks: [] }));
                },
            },
            {
                file: "index-2.hnsw", damage: async (file) => {
                    const bytes = await fs.readFile(file);
                    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
                    await fs.writeFile(file, bytes);
                },
            },
        ];

        for (const { file, damage } of damages) {
            it(`names a damaged ${file} when opening, rewriting nothing, and repair rolls back to the last whole commit`, async () => {
                const dir = await twoCommits();
                await damage(path.join(dir, file));
                const before = await snapshot(dir);
                for (const mode of ["read", "write"] as const) {
                    await assert.rejects(KnowledgeBase.open("test", dir, options(mode)), (error: unknown) => {
                        assert.ok(error instanceof CorruptKnowledgeBaseError);
                        assert.equal(error.file, file);
                        assert.match(error.message, new RegExp(`${file.replace(".", "\\.")} .*yizhi kb repair test`));
                        return true;
                    });
                    await assertUnchanged(dir, before);
                }

                assert.deepEqual(await KnowledgeBase.repair("test", dir, 0), { from: 2, to: 1 });
                assert.equal((await fs.readFile(path.join(dir, "CURRENT"), "utf8")).trim(), "1");
                assert.ok(!(await fs.readdir(dir)).some((entry) => entry.endsWith("-2.json") || entry.endsWith("-2.hnsw")), "the damaged generation is gone");
                const reader = await KnowledgeBase.open("test", dir, options("read"));
                assert.deepEqual(reader.documents().map((document) => document.id).sort(), ["a", "b"]);
                assert.equal(bestHit(reader, makeDocument("a", 3, 1).vectors[2]!).text, "a v1 第2段");
                assert.deepEqual(await KnowledgeBase.repair("test", dir, 0), { from: 1, to: 1 }, "a whole knowledge base is left as it is");
            });
        }

        it("keeps the previous commit to roll back to, also after a writer opens", async () => {
            const dir = await twoCommits();
            const writer = await KnowledgeBase.open("test", dir, options("write"));
            await writer.close();
            assert.ok((await fs.readdir(dir)).includes("records-1.json"));
            await fs.writeFile(path.join(dir, "CURRENT"), "garbage");
            assert.deepEqual(await KnowledgeBase.repair("test", dir, 0), { from: undefined, to: 2 }, "an unreadable CURRENT goes to the newest whole commit");
        });

        it("says so when no commit is whole", async () => {
            const { dir } = await committedKb();
            await fs.writeFile(path.join(dir, "records-1.json"), "{}");
            await assert.rejects(KnowledgeBase.repair("test", dir, 0), /no commit of it is whole/);
        });

        it("lists a knowledge base whose commit is damaged, with its problem", async () => {
            const dir = await twoCommits();
            await damages[0]!.damage(path.join(dir, "records-2.json"));
            const kbs = new KnowledgeBases(path.dirname(dir), hnsw);
            const listed = (await kbs.list()).find((summary) => summary.name === path.basename(dir));
            assert.match(listed?.problem ?? "", /records-2\.json/);
        });
    });

    it("refuses a corrupt kb.json, rewriting nothing", async () => {
        const { dir } = await committedKb();
        await fs.writeFile(path.join(dir, "kb.json"), "{ not json");
        const before = await snapshot(dir);
        for (const mode of ["read", "write"] as const) {
            await assert.rejects(KnowledgeBase.open("test", dir, options(mode)), CorruptKnowledgeBaseError);
            await assertUnchanged(dir, before);
        }
    });

    it("readCommitted returns the committed state without loading the index", async () => {
        const { dir, a, b } = await committedKb();
        await fs.rm(path.join(dir, "index-1.hnsw"));
        const { documents, chunks } = await KnowledgeBase.readCommitted("test", dir);
        assert.deepEqual(documents.map((document) => document.id).sort(), ["a", "b"]);
        assert.deepEqual(chunks.map((chunk) => chunk.text).sort(), [...a.chunks, ...b.chunks].map((chunk) => chunk.text).sort());
        assert.deepEqual([documents.length, chunks.length], [2, 5]);
        await assert.rejects(KnowledgeBase.open("test", dir, options("read")), (error: unknown) => {
            assert.ok(error instanceof CorruptKnowledgeBaseError);
            assert.match(error.message, /index-1\.hnsw/);
            return true;
        });
        assert.deepEqual(await KnowledgeBase.readCommitted("test", freshDir()), { documents: [], chunks: [] });
    });

    it("refuses changes through a read-only open", async () => {
        const { dir } = await committedKb();
        const reader = await KnowledgeBase.open("test", dir, options("read"));
        const c = makeDocument("c", 1, 3);
        assert.throws(() => reader.putDocument(c.document, c.chunks, c.vectors), /read-only/);
        assert.throws(() => reader.removeDocument("a"), /read-only/);
        await assert.rejects(reader.commit(), /read-only/);
        assert.equal(reader.store.size, 5);
        assert.equal(reader.documents().length, 2);
        await reader.close();
    });

    it("a read-only open does not create a knowledge base", async () => {
        const dir = freshDir();
        await assert.rejects(KnowledgeBase.open("test", dir, options("read")));
        await assert.rejects(fs.stat(dir), { code: "ENOENT" });
    });
});

describe("writeLock", () => {
    it("is exclusive until released", async () => {
        const { dir, cleanup } = await makeTempDir("yizhi-lock-");
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
            await cleanup();
        }
    });
});

describe("knowledge-base names", () => {
    const kbs = new KnowledgeBases("/data/yizhi", hnsw);

    it("accepts letters in any script, digits, _, - and .", () => {
        for (const name of ["docs", "项目文档", "team-a_v2.0", "a", "A1", "x".repeat(64), "文档2024", "a..b"]) {
            assert.equal(validateKbName(name), name);
            assert.equal(kbs.dirOf(name), path.join("/data/yizhi", name));
        }
    });

    it("rejects names that could leave the data directory or hide a file", () => {
        for (const name of ["..", ".", "../x", "a/b", "a\\b", "/abs", "", "x".repeat(65), "a\0b", "\0", ".hidden", "-rf", "a b", "a/../b", "..\\x", "名字/"]) {
            assert.throws(() => validateKbName(name), KnowledgeBaseNameError, JSON.stringify(name));
            assert.throws(() => kbs.dirOf(name), KnowledgeBaseNameError, JSON.stringify(name));
        }
    });
});

describe("KnowledgeBases", () => {
    let dataDir: string;
    let cleanup: () => Promise<void>;

    before(async () => {
        ({ dir: dataDir, cleanup } = await makeTempDir("yizhi-kbs-"));
    });
    after(async () => {
        await cleanup();
    });

    const openOptions = { embeddings: unusedEmbeddings, embedder, lockWaitMs: 0 };

    async function createKb(kbs: KnowledgeBases, name: string, documents: TestDocument[]): Promise<void> {
        const kb = await kbs.openForWrite(name, { ...openOptions, create: true });
        for (const document of documents) put(kb, document);
        await kb.commit();
        await kb.close();
    }

    it("lists knowledge bases, damaged ones too, and skips folders that are not knowledge bases", async () => {
        const kbs = new KnowledgeBases(path.join(dataDir, "list"), hnsw);
        assert.deepEqual(await kbs.list(), [], "a missing data directory lists nothing");
        await createKb(kbs, "docs", [makeDocument("a", 3, 1), makeDocument("b", 2, 2)]);
        await createKb(kbs, "项目文档", [makeDocument("c", 1, 3)]);
        await fs.mkdir(path.join(kbs.dataDir, "empty-folder"));
        await fs.mkdir(path.join(kbs.dataDir, "other"));
        await fs.writeFile(path.join(kbs.dataDir, "other", "notes.txt"), "not a knowledge base");
        await fs.mkdir(path.join(kbs.dataDir, "broken"));
        await fs.writeFile(path.join(kbs.dataDir, "broken", "kb.json"), "{ truncated");
        await fs.writeFile(path.join(kbs.dataDir, "readme.txt"), "a file");
        await fs.mkdir(path.join(kbs.dataDir, ".hidden"));
        await fs.copyFile(path.join(kbs.dataDir, "docs", "kb.json"), path.join(kbs.dataDir, ".hidden", "kb.json"));

        const summaries = await kbs.list();
        assert.deepEqual(summaries.map(({ name, embedder: id, documents, chunks }) => ({ name, id, documents, chunks })), [
            { name: "broken", id: "", documents: 0, chunks: 0 },
            { name: "docs", id: embedder.id, documents: 2, chunks: 5 },
            { name: "项目文档", id: embedder.id, documents: 1, chunks: 1 },
        ]);
        assert.match(summaries[0]!.problem ?? "", /kb\.json cannot be read/, "a damaged knowledge base is listed, with its problem");
        assert.equal(summaries[1]!.problem, undefined);
        assert.ok(!Number.isNaN(Date.parse(summaries[1]!.createdAt)));
        assert.equal(await kbs.exists("docs"), true);
        assert.equal(await kbs.exists("other"), false);
    });

    it("lists counts that follow each commit", async () => {
        const kbs = new KnowledgeBases(path.join(dataDir, "list-counts"), hnsw);
        await createKb(kbs, "growing", [makeDocument("a", 2, 1)]);
        assert.deepEqual((await kbs.list()).map(({ documents, chunks }) => [documents, chunks]), [[1, 2]]);
        const kb = await kbs.openForWrite("growing", { ...openOptions, create: false });
        put(kb, makeDocument("b", 3, 2));
        await kb.commit();
        await kb.close();
        assert.deepEqual((await kbs.list()).map(({ documents, chunks }) => [documents, chunks]), [[2, 5]]);
    });

    it("lists the other knowledge bases when one cannot be read, naming its problem", async () => {
        const kbs = new KnowledgeBases(path.join(dataDir, "list-damaged"), hnsw);
        await createKb(kbs, "good", [makeDocument("a", 2, 1)]);
        await createKb(kbs, "damaged", [makeDocument("b", 1, 2)]);
        await fs.writeFile(path.join(kbs.dataDir, "damaged", "CURRENT"), "garbage\n");
        const summaries = await kbs.list();
        assert.deepEqual(summaries.map(({ name, documents, problem }) => ({ name, documents, damaged: problem != null })), [
            { name: "damaged", documents: 0, damaged: true },
            { name: "good", documents: 1, damaged: false },
        ]);
        assert.match(summaries[0]!.problem ?? "", /CURRENT holds "garbage"/);
    });

    it("opens only existing knowledge bases unless asked to create one", async () => {
        const kbs = new KnowledgeBases(path.join(dataDir, "open"), hnsw);
        await assert.rejects(kbs.openForRead("nothing", openOptions), KnowledgeBaseNotFoundError);
        await assert.rejects(kbs.openForWrite("nothing", { ...openOptions, create: false }), KnowledgeBaseNotFoundError);
        await assert.rejects(kbs.openForWrite("../escape", { ...openOptions, create: true }), KnowledgeBaseNameError);
        await createKb(kbs, "docs", [makeDocument("a", 2, 1)]);
        const reader = await kbs.openForRead("docs", openOptions);
        assert.equal(reader.store.size, 2);
        assert.equal(reader.dir, path.join(kbs.dataDir, "docs"));
    });

    it("deletes a knowledge base: its folder goes and it is gone from the list", async () => {
        const kbs = new KnowledgeBases(path.join(dataDir, "delete"), hnsw);
        await createKb(kbs, "keep", [makeDocument("a", 1, 1)]);
        await createKb(kbs, "doomed", [makeDocument("b", 2, 2)]);

        const writer = await kbs.openForWrite("doomed", { ...openOptions, create: false });
        await assert.rejects(kbs.delete("doomed", 0), KnowledgeBaseBusyError, "a knowledge base being written is not deleted");
        await writer.close();

        await kbs.delete("doomed", 0);
        assert.deepEqual(await fs.readdir(kbs.dataDir), ["keep"]);
        assert.deepEqual((await kbs.list()).map((summary) => summary.name), ["keep"]);
        assert.equal(await kbs.exists("doomed"), false);
        await assert.rejects(kbs.delete("doomed", 0), KnowledgeBaseNotFoundError);
        await assert.rejects(kbs.openForRead("doomed", openOptions), KnowledgeBaseNotFoundError);
    });
});
