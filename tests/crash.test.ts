import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { tokenize } from "../src/retrieval/tokenize.js";
import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import type { EmbedderIdentity } from "../src/models/models.js";
import { Yizhi } from "../src/yizhi.js";
import { fixture, makeTempDir } from "./helpers.js";
import { runCli, startCli } from "./runCli.js";
import { allChunks, bestText, embedder as testEmbedder, makeDocument, put } from "./storageContract.js";
import { testConfig, testEnv } from "./testConfig.js";

const FILES = 40;
const ARTICLES_PER_FILE = 5;
const hnsw = { m: 16, efConstruction: 200, efSearch: 64 };
/** What a knowledge base's folder holds between writers: anything else is a leftover. */
const expectedFiles = /^(kb\.json|store\.mdb|store\.mdb-lock|graph-\d+\.hnsw)$/;

/** Each document's content hash and chunk texts, by source: what a knowledge base holds. */
async function contentsOf(dataDir: string, embedder: EmbedderIdentity): Promise<Map<string, { hash: string; chunks: string[] }>> {
    const reader = await new EmbeddedStorage({ dataDir, hnsw }).openReader("news", embedder);
    try {
        const chunks = await allChunks(reader);
        const documents = await reader.documents();
        assert.equal(chunks.filter((chunk) => chunk != null).length, documents.reduce((sum, document) => sum + document.labels.length, 0), "every document's chunks are stored");
        const textsOf = (id: string) => chunks.filter((chunk) => chunk.documentId === id).map((chunk) => chunk.text);
        return new Map(documents.map((document) => [document.source, { hash: document.hash, chunks: textsOf(document.id) }]));
    } finally {
        await reader.close();
    }
}

async function versionOf(dataDir: string): Promise<number> {
    return new EmbeddedStorage({ dataDir, hnsw }).version("news").catch(() => 0);
}

describe("kill -9", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let corpus: string;

    before(async () => {
        temp = await makeTempDir();
        corpus = path.join(temp.dir, "corpus");
        await fs.mkdir(corpus);
        const articles = (await fs.readFile(fixture("zh/crud_news_documents_dup_part_1_part_1.txt"), "utf8")).split("\n").filter((line) => line.trim() !== "");
        for (let i = 0; i < FILES; i++) {
            const name = `news-${String(i).padStart(2, "0")}.txt`;
            await fs.writeFile(path.join(corpus, name), articles.slice(i * ARTICLES_PER_FILE, (i + 1) * ARTICLES_PER_FILE).join("\n\n"));
        }
    });
    after(() => temp.cleanup());

    it("during an ingest, then the same ingest again, gives exactly the chunks of a clean run, with search that finds them", async () => {
        const cleanData = path.join(temp.dir, "clean");
        const clean = await runCli(["ingest", corpus, "--kb", "news"], testEnv(cleanData));
        assert.equal(clean.code, 0, clean.stderr);

        const crashData = path.join(temp.dir, "crashed");
        const yizhi = new Yizhi(testConfig(crashData));
        try {
            const embedder = await yizhi.models.embeddings.identity();
            const child = startCli(["ingest", corpus, "--kb", "news"], testEnv(crashData));
            const exited = new Promise((resolve) => child.on("exit", resolve));
            for (let waited = 0; waited < 120_000 && await versionOf(crashData) === 0; waited += 20) await sleep(20);
            child.kill("SIGKILL");
            assert.equal(await exited, null, "the ingest was killed, not finished");
            const atKill = await contentsOf(crashData, embedder);
            assert.ok(atKill.size > 0 && atKill.size < FILES, `killed mid-ingest with ${atKill.size} of ${FILES} files committed`);

            const resumed = await runCli(["ingest", corpus, "--kb", "news", "--json"], testEnv(crashData));
            assert.equal(resumed.code, 0, resumed.stderr);
            const statuses = (JSON.parse(resumed.stdout) as { files: { status: string }[] }).files.map((file) => file.status);
            assert.equal(statuses.filter((status) => status === "unchanged").length, atKill.size, "what was committed before the kill is kept");
            assert.equal(statuses.filter((status) => status === "ingested").length, FILES - atKill.size);
            assert.deepEqual(await contentsOf(crashData, embedder), await contentsOf(cleanData, embedder));

            const kb = await yizhi.knowledgeBases.openReader("news");
            for (const chunk of (await allChunks(kb)).slice(0, 200).filter((_, i) => i % 40 === 0)) {
                assert.equal((await bestText(kb, await yizhi.models.embeddings.embedQuery(chunk.text))).text, chunk.text);
                const lexicalHits = (await kb.lexicalSearch(tokenize(chunk.text), 3)).map((hit) => hit.label);
                assert.ok(lexicalHits.includes(chunk.label), "the lexical index has it, by its own words");
            }
            const everything = await kb.lexicalSearch(tokenize(["新闻", "中国", "记者", "发展"].join(" ")), 100_000);
            const stored = new Set((await allChunks(kb)).map((chunk) => chunk.label));
            assert.ok(everything.every((hit) => stored.has(hit.label)), "the lexical index holds no chunk the store lost");
            await kb.close();
        } finally {
            await yizhi.dispose();
        }
        const leftovers = (await fs.readdir(path.join(crashData, "news"))).filter((entry) => !expectedFiles.test(entry));
        assert.deepEqual(leftovers, [], "no temporary files or lock left behind");
    });

    it("while the graph is being saved leaves the last commit whole, with the old graph or the new", async () => {
        const dataDir = path.join(temp.dir, "compacting");
        const storage = new EmbeddedStorage({ dataDir, hnsw });
        const documents = Array.from({ length: 40 }, (_, i) => makeDocument(`d${i}`, 500, i));
        const writer = await storage.openWriter("news", testEmbedder, { create: true });
        for (const document of documents) await put(writer, document);
        await writer.commit();
        await writer.removeDocument("d0");
        await writer.commit();
        await writer.close();
        const dir = storage.dirOf("news");

        let killedWhileSaving = 0;
        for (let round = 0; round < 6; round++) {
            const child = startCli(["kb", "compact", "news"], testEnv(dataDir));
            const exited = new Promise((resolve) => child.on("exit", resolve));
            // Killed as soon as the new graph's temporary file appears, or at a later moment in later rounds.
            for (let waited = 0; waited < 30_000; waited += 2) {
                if ((await fs.readdir(dir)).some((entry) => entry.endsWith(".tmp"))) break;
                await sleep(2);
            }
            if (round > 2) await sleep((round - 2) * 15);
            if ((await fs.readdir(dir)).some((entry) => entry.endsWith(".tmp"))) killedWhileSaving++;
            child.kill("SIGKILL");
            await exited;

            const reader = await storage.openReader("news", testEmbedder);
            assert.equal((await reader.documents()).length, 39, `round ${round}`);
            for (const document of [documents[1]!, documents[39]!]) {
                for (const i of [0, 250, 499]) assert.equal((await bestText(reader, document.vectors[i]!)).text, document.chunks[i]!.text);
            }
            assert.equal((await reader.denseSearch(documents[0]!.vectors[0]!, 20_000)).length, 19_500, "the removed document stays removed");
            await reader.close();
        }
        assert.ok(killedWhileSaving > 0, "at least one kill landed while the graph was being written");
        const next = await storage.openWriter("news", testEmbedder, { lockWaitMs: 10_000 });
        await next.close();
        assert.deepEqual((await fs.readdir(dir)).filter((entry) => !expectedFiles.test(entry)), [], "the next writer cleared what the kills left");
        assert.equal((await fs.readdir(dir)).filter((entry) => entry.startsWith("graph-")).length, 1);
    });
});
