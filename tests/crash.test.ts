import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KnowledgeBase } from "../src/store/knowledgeBase.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import { Yizhi } from "../src/yizhi.js";
import { fixture, makeTempDir } from "./helpers.js";
import { runCli, startCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";

const FILES = 40;
const ARTICLES_PER_FILE = 5;

/** Each document's content hash and chunk texts, by source: what a knowledge base holds. */
async function contentsOf(dir: string): Promise<Map<string, { hash: string; chunks: string[] }>> {
    const { documents, chunks } = await KnowledgeBase.readCommitted(path.basename(dir), dir);
    const byLabel = new Map(chunks.map((chunk) => [chunk.label, chunk]));
    assert.equal(chunks.length, documents.reduce((sum, document) => sum + document.labels.length, 0), "every stored chunk belongs to a document");
    return new Map(documents.map((document) => [document.source, {
        hash: document.hash,
        chunks: document.labels.map((label) => byLabel.get(label)!.text),
    }]));
}

describe("kill -9 during an ingest", () => {
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

    it("then the same ingest again gives exactly the chunks of a clean run, in a store that opens", async () => {
        const cleanData = path.join(temp.dir, "clean");
        const clean = await runCli(["ingest", corpus, "--kb", "news"], testEnv(cleanData));
        assert.equal(clean.code, 0, clean.stderr);

        const crashData = path.join(temp.dir, "crashed");
        const kbDir = path.join(crashData, "news");
        const child = startCli(["ingest", corpus, "--kb", "news"], testEnv(crashData));
        const exited = new Promise((resolve) => child.on("exit", resolve));
        let committedAtKill = 0;
        for (let waited = 0; waited < 120_000 && committedAtKill === 0; waited += 20) {
            await sleep(20);
            committedAtKill = await fs.readFile(path.join(kbDir, "CURRENT"), "utf8").then(() => 1, () => 0);
        }
        child.kill("SIGKILL");
        assert.equal(await exited, null, "the ingest was killed, not finished");
        const atKill = await contentsOf(kbDir);
        assert.ok(atKill.size > 0 && atKill.size < FILES, `killed mid-ingest with ${atKill.size} of ${FILES} files committed`);

        const resumed = await runCli(["ingest", corpus, "--kb", "news", "--json"], testEnv(crashData));
        assert.equal(resumed.code, 0, resumed.stderr);
        const statuses = (JSON.parse(resumed.stdout) as { files: { status: string }[] }).files.map((file) => file.status);
        assert.equal(statuses.filter((status) => status === "unchanged").length, atKill.size, "what was committed before the kill is kept");
        assert.equal(statuses.filter((status) => status === "ingested").length, FILES - atKill.size);

        assert.deepEqual(await contentsOf(kbDir), await contentsOf(path.join(cleanData, "news")));

        const yizhi = new Yizhi(testConfig(crashData));
        try {
            const kb = await yizhi.openKnowledgeBase("news", "read");
            const expected = await contentsOf(kbDir);
            assert.equal(kb.store.size, [...expected.values()].reduce((sum, document) => sum + document.chunks.length, 0));
            assert.equal(kb.lexical.size, kb.store.size, "the lexical index holds exactly the stored chunks");
            for (const document of kb.documents().slice(0, 5)) {
                const first = kb.chunksOf(document.id)[0]!;
                const [best] = kb.store.searchChunks(await yizhi.runtime.embeddings.embedQuery(first.text), 1);
                assert.equal(best?.[0].text, first.text);
                const lexicalHits = kb.lexical.search(tokenize(first.text), 3).map((hit) => hit.label);
                assert.ok(lexicalHits.includes(first.label), "found by its own words");
            }
        } finally {
            await yizhi.dispose();
        }
        const leftovers = (await fs.readdir(kbDir)).filter((entry) => !/^(kb\.json|CURRENT|index-\d+\.hnsw|(?:records|lexical|checksums)-\d+\.json)$/.test(entry));
        assert.deepEqual(leftovers, [], "no temporary files or lock left behind");
    });
});
