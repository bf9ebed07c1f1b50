import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import hnswlib from "hnswlib-node";
import { CorruptKnowledgeBaseError } from "../src/errors.js";
import type { EmbedderIdentity } from "../src/models/models.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import type { ChunkRecord, DocumentRecord } from "../src/store/records.js";
import { makeTempDir, repoRoot } from "./helpers.js";
import { bestText } from "./storageContract.js";

/*
 * A knowledge base written by Yizhi 0.1 (tests/fixtures/format-1, see its README) opens with
 * today's code, is migrated to the store once, and holds exactly what its last commit held. The
 * oracle is the fixture itself, read here directly: its records and its graph.
 */

const FIXTURE = path.join(repoRoot, "tests", "fixtures", "format-1", "old-format");
const hnsw = { m: 16, efConstruction: 200, efSearch: 64 };

interface OldRecords {
    labelsIssued: number;
    documents: DocumentRecord[];
    chunks: ChunkRecord[];
}

async function oldRecords(generation: number): Promise<OldRecords> {
    return JSON.parse(await fs.readFile(path.join(FIXTURE, `records-${generation}.json`), "utf8")) as OldRecords;
}

describe("a knowledge base of the 0.1 format", () => {
    let dataDir: string;
    let cleanup: () => Promise<void>;
    let embedder: EmbedderIdentity;
    let counter = 0;
    before(async () => {
        ({ dir: dataDir, cleanup } = await makeTempDir("yizhi-upgrade-"));
        embedder = (JSON.parse(await fs.readFile(path.join(FIXTURE, "kb.json"), "utf8")) as { embedder: EmbedderIdentity }).embedder;
    });
    after(() => cleanup());

    /** A copy of the fixture in a data directory of its own. */
    async function copy(): Promise<{ storage: EmbeddedStorage; dir: string }> {
        const root = path.join(dataDir, `data-${++counter}`);
        await fs.cp(FIXTURE, path.join(root, "old-format"), { recursive: true });
        return { storage: new EmbeddedStorage({ dataDir: root, hnsw }), dir: path.join(root, "old-format") };
    }

    it("is listed with its counts before it is opened", async () => {
        const { storage, dir } = await copy();
        const [summary] = await storage.list();
        assert.deepEqual({ name: summary?.name, documents: summary?.documents, chunks: summary?.chunks }, { name: "old-format", documents: 2, chunks: 5 });
        await fs.access(path.join(dir, "CURRENT")); // listing migrates nothing
    });

    it("opens, migrated, with the documents, chunks and vectors of its last commit", async () => {
        const { storage, dir } = await copy();
        const records = await oldRecords(4);
        const graph = new hnswlib.HierarchicalNSW("cosine", embedder.dimension);
        await graph.readIndex(path.join(FIXTURE, "index-4.hnsw"), true);

        const reader = await storage.openReader("old-format", embedder);
        assert.deepEqual((await reader.documents()).sort((a, b) => a.id.localeCompare(b.id)), records.documents.sort((a, b) => a.id.localeCompare(b.id)));
        const chunks = await reader.getChunks(records.chunks.map((chunk) => chunk.label));
        assert.deepEqual([...chunks.values()].sort((a, b) => a.label - b.label), records.chunks.sort((a, b) => a.label - b.label));
        for (const chunk of records.chunks) {
            const { text, score } = await bestText(reader, graph.getPoint(chunk.label));
            assert.equal(text, chunk.text);
            assert.ok(score > 0.9999, `score ${score}`);
            const [lexical] = await reader.lexicalSearch(tokenize(chunk.text), 1);
            assert.equal(lexical?.label, chunk.label, "its BM25 postings came along");
        }
        const deleted = (await reader.denseSearch(graph.getPoint(records.chunks[0]!.label), 10)).map((hit) => hit.label);
        assert.equal(deleted.length, 5, "the chunks its old commits deleted stay deleted");
        await reader.close();

        const left = await fs.readdir(dir);
        assert.ok(!left.some((file) => file === "CURRENT" || /^(?:index|records|lexical|checksums)-\d+/.test(file)), `old files left: ${left.join(" ")}`);

        const writer = await storage.openWriter("old-format", embedder, { lockWaitMs: 0 });
        const added = await writer.putDocument({
            id: "new", source: "/new.txt", hash: "h", fileHash: "f", format: "txt", sizeBytes: 1, ingestedAt: "2026-12-01T00:00:00.000Z",
        }, [{ index: 0, text: "新的文档", start: 0 }], [graph.getPoint(3).map((x) => -x)]);
        assert.ok(added.labels[0]! >= records.labelsIssued, "labels are never handed out twice, across the migration too");
        await writer.commit();
        await writer.close();
        assert.equal((await storage.list())[0]?.documents, 3);
    });

    it("left half-migrated by a crash, opens without migrating twice and clears the old files", async () => {
        const { storage, dir } = await copy();
        const reader = await storage.openReader("old-format", embedder);
        await reader.close();
        // The old files back, as a crash right after the migration's commit would leave them.
        for (const file of await fs.readdir(FIXTURE)) if (file !== "kb.json") await fs.copyFile(path.join(FIXTURE, file), path.join(dir, file));
        const again = await storage.openReader("old-format", embedder);
        assert.equal((await again.documents()).length, 2);
        await again.close();
        await assert.rejects(fs.access(path.join(dir, "CURRENT")), { code: "ENOENT" });
    });

    it("damaged, is named when opened, and repair rolls it back to its last whole commit before migrating it", async () => {
        const { storage, dir } = await copy();
        const records = path.join(dir, "records-4.json");
        await fs.writeFile(records, (await fs.readFile(records, "utf8")).replace("数据库", "数据仓"));
        await assert.rejects(storage.openReader("old-format", embedder), (error: unknown) => {
            assert.ok(error instanceof CorruptKnowledgeBaseError);
            assert.equal(error.file, "records-4.json");
            return true;
        });
        const report = await storage.repair("old-format", { lockWaitMs: 0 });
        assert.match(report.repaired.join(), /rolled back from generation 4 to generation 3/);
        const reader = await storage.openReader("old-format", embedder);
        assert.deepEqual((await reader.documents()).map((document) => document.id).sort(), (await oldRecords(3)).documents.map((document) => document.id).sort());
        await reader.close();
    });
});
