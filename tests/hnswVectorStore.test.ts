import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Document } from "@langchain/core/documents";
import { HnswVectorStore, type ChunkRecord, type HnswParams, type NewChunk } from "../src/store/hnswVectorStore.js";
import { cosine, makeTempDir, mulberry32, unusedEmbeddings } from "./helpers.js";

const DIMENSION = 32;
const params: HnswParams = { m: 16, efConstruction: 200, efSearch: 64 };

function randomVectors(count: number, seed: number, dimension = DIMENSION): number[][] {
    const random = mulberry32(seed);
    return Array.from({ length: count }, () => Array.from({ length: dimension }, () => random() * 2 - 1));
}

function chunkFor(i: number): NewChunk {
    return { documentId: `doc-${Math.floor(i / 10)}`, source: `/docs/file-${Math.floor(i / 10)}.txt`, index: i % 10, text: `chunk ${i}`, start: i * 7 };
}

/** A store holding `vectors`; chunk i's label is i. */
function storeWith(vectors: readonly number[][], hnsw: HnswParams = params): HnswVectorStore {
    const store = HnswVectorStore.create(unusedEmbeddings, DIMENSION, hnsw);
    const labels = store.addChunks(vectors, vectors.map((_, i) => chunkFor(i)));
    assert.deepEqual(labels, vectors.map((_, i) => i));
    return store;
}

/** The exact top-k labels by brute-force cosine similarity, among `live` labels. */
function bruteForceTopK(vectors: readonly number[][], query: readonly number[], k: number, live?: ReadonlySet<number>): number[] {
    return vectors
        .map((vector, label) => ({ label, score: cosine(vector, query) }))
        .filter(({ label }) => live == null || live.has(label))
        .sort((a, b) => b.score - a.score)
        .slice(0, k)
        .map(({ label }) => label);
}

function recallAt10(store: HnswVectorStore, vectors: readonly number[][], queries: readonly number[][]): number {
    let found = 0;
    for (const query of queries) {
        const exact = new Set(bruteForceTopK(vectors, query, 10));
        for (const [chunk] of store.searchChunks(query, 10)) if (exact.has(chunk.label)) found++;
    }
    return found / (queries.length * 10);
}

describe("HnswVectorStore", () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    const vectors2000 = randomVectors(2000, 1);
    const queries = randomVectors(100, 2);

    before(async () => {
        ({ dir, cleanup } = await makeTempDir("yizhi-hnsw-"));
    });
    after(async () => {
        await cleanup();
    });

    it("returns [] from an empty store", () => {
        const store = HnswVectorStore.create(unusedEmbeddings, DIMENSION, params);
        assert.equal(store.size, 0);
        assert.deepEqual(store.searchChunks(queries[0]!, 5), []);
    });

    it("scores are exact cosine similarities, sorted best first", () => {
        const vectors = randomVectors(300, 3);
        const store = storeWith(vectors);
        for (const query of queries.slice(0, 20)) {
            const results = store.searchChunks(query, 20);
            assert.equal(results.length, 20);
            for (const [chunk, score] of results) {
                assert.ok(Math.abs(score - cosine(vectors[chunk.label]!, query)) < 1e-5, `score ${score} is not the cosine similarity`);
                assert.ok(score >= -1 - 1e-6 && score <= 1 + 1e-6);
            }
            for (let i = 1; i < results.length; i++) assert.ok(results[i - 1]![1] >= results[i]![1], "results are not sorted best first");
        }
        // A stored vector, scaled, finds itself with similarity 1: cosine ignores length.
        const [[best, score]] = store.searchChunks(vectors[42]!.map((x) => x * 5), 1) as [[ChunkRecord, number]];
        assert.equal(best.label, 42);
        assert.ok(Math.abs(score - 1) < 1e-5);
        assert.deepEqual(best, { ...chunkFor(42), label: 42 });
    });

    it("top-10 recall against brute force is at least 0.95 on 2,000 points with efSearch 64", () => {
        const store = storeWith(vectors2000);
        const recall = recallAt10(store, vectors2000, queries);
        assert.ok(recall >= 0.95, `recall@10 ${recall}`);
    });

    it("grows past its initial capacity of 1024", () => {
        const vectors = randomVectors(3000, 4);
        const store = HnswVectorStore.create(unusedEmbeddings, DIMENSION, params);
        for (let i = 0; i < vectors.length; i += 500) {
            const batch = vectors.slice(i, i + 500);
            store.addChunks(batch, batch.map((_, j) => chunkFor(i + j)));
        }
        assert.equal(store.size, 3000);
        assert.equal(store.labelsIssued, 3000);
        for (const label of [0, 1023, 1024, 2047, 2048, 2999]) {
            const [[chunk, score]] = store.searchChunks(vectors[label]!, 1) as [[ChunkRecord, number]];
            assert.equal(chunk.label, label);
            assert.ok(score > 0.9999);
        }
        assert.equal(store.searchChunks(queries[0]!, 3000).length, 3000);
    });

    it("never returns deleted chunks, even for their own vectors, and never reuses their labels", () => {
        const store = storeWith(vectors2000);
        const random = mulberry32(5);
        const deleted = new Set<number>();
        while (deleted.size < 500) deleted.add(Math.floor(random() * vectors2000.length));
        store.deleteChunks(deleted);
        store.deleteChunks([...deleted].slice(0, 10)); // deleting twice is harmless
        assert.equal(store.size, 1500);
        for (const label of deleted) assert.equal(store.getChunk(label), undefined);

        const deletedVectors = [...deleted].slice(0, 30).map((label) => vectors2000[label]!);
        for (const query of [...queries.slice(0, 20), ...deletedVectors]) {
            const results = store.searchChunks(query, store.size);
            assert.equal(results.length, 1500, "k = size returns every live chunk");
            for (const [chunk] of results) assert.ok(!deleted.has(chunk.label), `deleted label ${chunk.label} came back`);
        }

        // New chunks take the deleted points' slots in the graph, but never their labels.
        const fresh = randomVectors(600, 6);
        const labels = store.addChunks(fresh, fresh.map((_, i) => chunkFor(2000 + i)));
        assert.deepEqual(labels, fresh.map((_, i) => 2000 + i));
        assert.equal(store.size, 2100);
        for (const label of deleted) assert.equal(store.getChunk(label), undefined);
        const [[found]] = store.searchChunks(fresh[123]!, 1) as [[ChunkRecord, number]];
        assert.equal(found.label, 2123);
        for (const query of deletedVectors.slice(0, 10)) {
            const results = store.searchChunks(query, store.size);
            assert.equal(results.length, store.size, "every live chunk is still reachable after slots were reused");
            for (const [chunk] of results) assert.ok(!deleted.has(chunk.label));
        }

        const live = new Set([...store.allChunks()].map((chunk) => chunk.label));
        const allVectors = [...vectors2000, ...fresh];
        let hits = 0;
        for (const query of queries.slice(0, 50)) {
            const exact = new Set(bruteForceTopK(allVectors, query, 10, live));
            for (const [chunk] of store.searchChunks(query, 10)) if (exact.has(chunk.label)) hits++;
        }
        assert.ok(hits / 500 >= 0.95, `recall@10 after deletes and re-adds ${hits / 500}`);
    });

    it("returns every live chunk, without throwing, when k exceeds the number of chunks", () => {
        const vectors = randomVectors(50, 7);
        const store = storeWith(vectors);
        store.deleteChunks([3, 4, 5]);
        const results = store.searchChunks(queries[0]!, 5000);
        assert.equal(results.length, 47);
        assert.deepEqual(results.map(([chunk]) => chunk.label), bruteForceTopK(vectors, queries[0]!, 50, new Set(results.map(([chunk]) => chunk.label))));
        assert.deepEqual(new Set(results.map(([chunk]) => chunk.label)), new Set([...store.allChunks()].map((chunk) => chunk.label)));
    });

    it("applies a filter to the chunks it returns", () => {
        const vectors = randomVectors(200, 8);
        const store = storeWith(vectors);
        const results = store.searchChunks(queries[0]!, 10, (chunk) => chunk.documentId === "doc-3");
        assert.equal(results.length, 10);
        assert.deepEqual(results.map(([chunk]) => chunk.label).sort((a, b) => a - b), [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
    });

    it("save → load gives identical results and re-applies efSearch (hnswlib resets it to 10)", async () => {
        const store = storeWith(vectors2000);
        store.deleteChunks([0, 1, 2, 100, 1999]);
        const file = path.join(dir, "round-trip.hnsw");
        await store.save(file);
        const chunks = [...store.allChunks()];

        const loaded = await HnswVectorStore.load(unusedEmbeddings, DIMENSION, params, file, chunks, store.labelsIssued);
        assert.equal(loaded.size, store.size);
        assert.equal(loaded.labelsIssued, 2000);
        for (const query of queries.slice(0, 30)) assert.deepEqual(loaded.searchChunks(query, 10), store.searchChunks(query, 10));
        for (const label of [0, 1, 2, 100, 1999]) {
            for (const [chunk] of loaded.searchChunks(vectors2000[label]!, 50)) assert.notEqual(chunk.label, label);
        }

        const loadedWithEf10 = await HnswVectorStore.load(unusedEmbeddings, DIMENSION, { ...params, efSearch: 10 }, file, chunks, store.labelsIssued);
        const live = new Set(chunks.map((chunk) => chunk.label));
        const recall = (target: HnswVectorStore) => {
            let hits = 0;
            for (const query of queries) {
                const exact = new Set(bruteForceTopK(vectors2000, query, 10, live));
                for (const [chunk] of target.searchChunks(query, 10)) if (exact.has(chunk.label)) hits++;
            }
            return hits / (queries.length * 10);
        };
        const recallEf64 = recall(loaded);
        const recallEf10 = recall(loadedWithEf10);
        assert.ok(recallEf64 >= 0.95, `recall@10 after load with efSearch 64: ${recallEf64}`);
        assert.ok(recallEf64 >= recallEf10, `efSearch 64 (${recallEf64}) is no better than 10 (${recallEf10}) after load`);

        // Labels stay unique after a load: the next one continues from labelsIssued.
        assert.deepEqual(loaded.addChunks([queries[0]!], [chunkFor(9999)]), [2000]);
        assert.ok((await fs.stat(file)).size > 0);
    });

    it("works through the LangChain VectorStore surface", async () => {
        const store = HnswVectorStore.create(unusedEmbeddings, DIMENSION, params);
        assert.equal(store._vectorstoreType(), "yizhi-hnsw");
        const vectors = randomVectors(3, 9);
        const ids = await store.addVectors(vectors, [
            new Document({ pageContent: "第一段", metadata: { documentId: "a", source: "/docs/a.pdf", chunkIndex: 0, page: 1 } }),
            new Document({ pageContent: "第二段", metadata: { documentId: "a", source: "/docs/a.pdf", chunkIndex: 1, page: 2, headingPath: ["一", "二"] } }),
            new Document({ pageContent: "other", metadata: { documentId: "b", source: "b.txt", chunkIndex: 0 } }),
        ]);
        assert.deepEqual(ids, ["0", "1", "2"]);

        const results = await store.similaritySearchVectorWithScore(vectors[1]!, 3);
        assert.equal(results.length, 3);
        const [document, score] = results[0]!;
        assert.ok(document instanceof Document);
        assert.equal(document.id, "1");
        assert.equal(document.pageContent, "第二段");
        assert.deepEqual(document.metadata, { documentId: "a", source: "/docs/a.pdf", chunkIndex: 1, page: 2, headingPath: ["一", "二"] });
        assert.ok(Math.abs(score - 1) < 1e-5);
        const other = results.find(([candidate]) => candidate.id === "2")!;
        assert.deepEqual(other[0].metadata, { documentId: "b", source: "b.txt", chunkIndex: 0 });

        const filtered = await store.similaritySearchVectorWithScore(vectors[1]!, 3, (chunk) => chunk.documentId === "b");
        assert.deepEqual(filtered.map(([candidate]) => candidate.id), ["2"]);

        await store.delete({ ids: [ids[1]!] });
        const afterDelete = await store.similaritySearchVectorWithScore(vectors[1]!, 3);
        assert.deepEqual(afterDelete.map(([candidate]) => candidate.id).sort(), ["0", "2"]);
        assert.equal(store.size, 2);
    });

    it("rejects a vector count that does not match the chunk count", () => {
        const store = HnswVectorStore.create(unusedEmbeddings, DIMENSION, params);
        assert.throws(() => store.addChunks(randomVectors(2, 10), [chunkFor(0)]), RangeError);
        assert.equal(store.size, 0);
    });
});
