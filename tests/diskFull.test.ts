import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir, writerClosed } from "./helpers.js";
import { runCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";

/** A real full disk: a small tmpfs, which only root can mount. */
function mountTmpfs(dir: string, bytes: number): boolean {
    try {
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/** Fills the file system of `file` to the last byte, then frees `leaveBytes` of it again. */
async function fillUp(file: string, leaveBytes = 0): Promise<void> {
    const handle = await fs.open(file, "w");
    const block = Buffer.alloc(64 * 1024, 1);
    try {
        for (;;) await handle.write(block);
    } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
    } finally {
        await handle.close();
    }
    for (const size of [4096, 512, 1]) {
        try {
            for (;;) await fs.appendFile(file, Buffer.alloc(size, 1));
        } catch {
            // this size no longer fits: try a smaller one
        }
    }
    if (leaveBytes > 0) await fs.truncate(file, (await fs.stat(file)).size - leaveBytes);
}

function upload(url: string, name: string, text: string): Promise<Response> {
    const form = new FormData();
    form.append("files", new Blob([text]), name);
    return fetch(url, { method: "POST", body: form });
}

describe("a disk that fills up", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let dataDir: string;
    let mounted = false;
    let server: RunningServer | undefined;

    before(async () => {
        temp = await makeTempDir();
        dataDir = path.join(temp.dir, "data");
        await fs.mkdir(dataDir);
        mounted = mountTmpfs(dataDir, 4 * 1024 * 1024);
    });
    after(async () => {
        await server?.close();
        if (mounted) execFileSync("umount", [dataDir]);
        await temp.cleanup();
    });

    it("gives 507 insufficient_storage, leaves nothing half-written, lets a document be deleted, and takes uploads again once there is room", async (t) => {
        if (!mounted) return t.skip("mounting a tmpfs needs root (CI runs as root)");
        server = await startServer({ config: testConfig(dataDir), port: 0, log: () => undefined });
        await server.ready;
        const documentsUrl = `${server.url}/kbs/team/documents`;
        assert.equal((await fetch(`${server.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "team" }) })).status, 201);
        assert.equal((await upload(documentsUrl, "first.txt", "第一份文件：存放在将要写满的磁盘上。")).status, 200);
        assert.equal((await upload(documentsUrl, "zeroth.txt", "更早的一份文件：它将被删除，腾出空间。")).status, 200);
        const kbDir = path.join(dataDir, "team");
        await writerClosed(kbDir);
        const committedFiles = (await fs.readdir(kbDir)).sort();
        const listBefore = await (await fetch(documentsUrl)).json();

        // Full but for a few pages: less than an upload needs, as a disk is when it fills up in use.
        const filler = path.join(dataDir, "filler.bin");
        await fillUp(filler, 16 * 1024);
        const refused = await upload(documentsUrl, "second.txt", "第二份文件：磁盘已满，它不能被存入。".repeat(400));
        assert.equal(refused.status, 507);
        const { error } = await refused.json() as { error: { code: string; message: string } };
        assert.equal(error.code, "insufficient_storage");
        assert.match(error.message, /full.*Free some space/);
        await writerClosed(kbDir);
        assert.deepEqual((await fs.readdir(kbDir)).sort(), committedFiles, "no half-written file or temporary file is left");
        assert.deepEqual(await (await fetch(documentsUrl)).json(), listBefore, "what was stored is unchanged");

        // Deleting a document is how a person makes room: it works on the full disk.
        const { documents: stored } = listBefore as { documents: { id: string; name: string }[] };
        const deleted = await fetch(`${documentsUrl}/${stored.find((document) => document.name === "zeroth.txt")!.id}`, { method: "DELETE" });
        assert.equal(deleted.status, 204, await deleted.text());
        const left = ((await (await fetch(documentsUrl)).json()) as { documents: { name: string }[] }).documents.map((document) => document.name);
        assert.deepEqual(left, ["first.txt"]);

        await fs.rm(filler);
        assert.equal((await upload(documentsUrl, "second.txt", "第二份文件：现在有空间了。")).status, 200);
        const { documents } = await (await fetch(documentsUrl)).json() as { documents: { name: string }[] };
        assert.deepEqual(documents.map((document) => document.name).sort(), ["first.txt", "second.txt"]);
    });

    it("the CLI says so in one line, without a stack trace, however little room is left, and leaves no half-made knowledge base", async (t) => {
        if (!mounted) return t.skip("mounting a tmpfs needs root (CI runs as root)");
        await writerClosed(path.join(dataDir, "team")); // nothing frees or takes pages behind the test's back
        const docs = path.join(temp.dir, "docs");
        await fs.mkdir(docs, { recursive: true });
        await fs.writeFile(path.join(docs, "third.txt"), "第三份文件。".repeat(50));
        const filler = path.join(dataDir, "filler.bin");
        // 0: not a byte; 8 and 16 KiB: room for kb.json but not for LMDB's lock file, which LMDB wrote
        // through a memory map (SIGBUS) before Yizhi made it; 96 KiB: room for the lock file, not the store.
        for (const leaveBytes of [0, 8 * 1024, 16 * 1024, 96 * 1024]) {
            await fillUp(filler, leaveBytes);
            try {
                const result = await runCli(["ingest", docs, "--kb", "cli"], testEnv(dataDir));
                assert.deepEqual([result.code, result.signal], [1, null], `${leaveBytes} bytes left: ${result.stderr}`);
                assert.match(result.stderr, /^yizhi: The disk holding .* is full.*Free some space and try again\.\n$/);
                assert.deepEqual((await fs.readdir(dataDir)).sort(), ["filler.bin", "team"], `${leaveBytes} bytes left: nothing is left of the knowledge base it would have made`);
            } finally {
                await fs.rm(filler);
            }
        }
    });
});
