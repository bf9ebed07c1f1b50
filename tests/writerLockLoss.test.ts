import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { KnowledgeBaseLockLostError } from "../src/errors.js";
import { Yizhi } from "../src/yizhi.js";
import { makeTempDir } from "./helpers.js";
import { runCli } from "./runCli.js";
import { allChunks } from "./storageContract.js";
import { testConfig, testEnv } from "./testConfig.js";

/** Blocks this thread's event loop, as a parser stuck in a hostile file does. */
function blockEventLoop(ms: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe("two writers on one knowledge base, the first one's event loop blocked past the lock's stale time", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;

    before(async () => {
        temp = await makeTempDir();
        yizhi = new Yizhi(testConfig(path.join(temp.dir, "data")));
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("the second writer's documents stay committed, and the first writer is told it lost the lock", async () => {
        const docs = path.join(temp.dir, "docs");
        await fs.mkdir(docs);
        await fs.writeFile(path.join(docs, "first.txt"), "第一份文件：早已提交的内容。");
        await fs.writeFile(path.join(docs, "second.txt"), "第二份文件：第二个写入者的内容。");
        const env = testEnv(path.join(temp.dir, "data"));
        const created = await runCli(["ingest", path.join(docs, "first.txt"), "--kb", "shared"], env);
        assert.equal(created.code, 0, created.stderr);

        const first = await yizhi.knowledgeBases.openWriter("shared");
        const [vector] = await yizhi.models.embeddings.embedDocuments(["第一个写入者尚未提交的内容。"]);
        await first.putDocument({
            id: "uncommitted", source: "uncommitted.txt", hash: "hash-uncommitted", fileHash: "file-hash-uncommitted",
            format: "txt", sizeBytes: 10, ingestedAt: new Date().toISOString(),
        }, [{ index: 0, text: "第一个写入者尚未提交的内容。", start: 0 }], [vector!]);

        // The second writer waits for the lock (10 s by default) while the first one is stuck.
        const second = runCli(["ingest", path.join(docs, "second.txt"), "--kb", "shared", "--json"], env);
        blockEventLoop(7_000);
        const result = await second;
        assert.equal(result.code, 0, `the second writer took over the stale lock and committed: ${result.stderr}`);
        const committed = await yizhi.storage.version("shared");

        await assert.rejects(first.commit(), KnowledgeBaseLockLostError);
        await first.close();

        assert.equal(await yizhi.storage.version("shared"), committed, "the stale writer committed nothing");
        const reader = await yizhi.knowledgeBases.openReader("shared");
        const documents = await reader.documents();
        assert.deepEqual(documents.map((document) => path.basename(document.source)).sort(), ["first.txt", "second.txt"]);
        assert.equal((await allChunks(reader)).length, documents.reduce((sum, document) => sum + document.labels.length, 0), "what was committed opens whole");
        await reader.close();

        // The lock is free again: the next writer gets it at once.
        const next = await yizhi.knowledgeBases.openWriter("shared", { lockWaitMs: 0 });
        await next.close();
    });
});
