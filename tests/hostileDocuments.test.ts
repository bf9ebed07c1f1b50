import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir } from "./helpers.js";
import { hostileCases, nestedHtml, pdfNestedSaves, xlsxBomb } from "./hostileFiles.js";
import { runCli, startCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";

interface Outcome {
    name: string;
    status: string;
    chunks: number;
    reason?: string;
}

interface StoredDocument {
    id: string;
    name: string;
    hash: string;
    chunks: number;
}

/** Memory the server (this process) may grow by while it takes one hostile upload: the files are read elsewhere. */
const SERVER_MEMORY_MARGIN = 256 * 1024 * 1024;

/**
 * Settings of the server under attack: a time limit low enough to reach quickly, and a memory limit
 * above what a parser process takes under tsx (about 300 MB; 110 MB once built). Defaults otherwise.
 */
const hostileSettings = { parseTimeoutSeconds: 10, parseMemoryMb: 700, maxUploadBytes: 64 * 1024 * 1024 };

describe("hostile documents uploaded to yizhi serve", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    const kbUrl = () => `${server.url}/kbs/team`;

    const storedDocuments = async (): Promise<StoredDocument[]> => {
        const { documents } = await (await fetch(`${kbUrl()}/documents`)).json() as { documents: StoredDocument[] };
        return documents.map(({ id, name, hash, chunks }) => ({ id, name, hash, chunks })).sort((a, b) => a.id.localeCompare(b.id));
    };

    /** Uploads `files` while asking /healthz over and over; resolves with the outcomes, the probes and the server's peak memory. */
    const uploadWhileProbing = async (files: { name: string; content: Uint8Array | string }[]) => {
        const form = new FormData();
        for (const file of files) form.append("files", new Blob([file.content]), file.name);
        let uploaded = false;
        let peakRss = process.memoryUsage.rss();
        const probes: { status: number; ms: number; beforeUploadEnded: boolean }[] = [];
        const probing = (async () => {
            while (!uploaded) {
                const started = performance.now();
                const response = await fetch(`${server.url}/healthz`);
                await response.arrayBuffer();
                probes.push({ status: response.status, ms: performance.now() - started, beforeUploadEnded: !uploaded });
                peakRss = Math.max(peakRss, process.memoryUsage.rss());
                await sleep(25);
            }
        })();
        const response = await fetch(`${kbUrl()}/documents`, { method: "POST", body: form });
        uploaded = true;
        await probing;
        assert.equal(response.status, 200, await response.clone().text());
        const { files: outcomes } = await response.json() as { files: Outcome[] };
        return { outcomes, probes, peakRss };
    };

    before(async () => {
        temp = await makeTempDir();
        server = await startServer({ config: testConfig(path.join(temp.dir, "storage"), hostileSettings), port: 0, log: () => undefined });
        await server.ready;
        assert.equal((await fetch(`${server.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "team" }) })).status, 201);
        const { outcomes } = await uploadWhileProbing([
            { name: "规章.txt", content: "第一条：本规章适用于全体成员。\n\n第二条：文件应当妥善保管。" },
            { name: "notes.md", content: "# Notes\n\nThe archive is kept in room 101." },
        ]);
        assert.deepEqual(outcomes.map((outcome) => outcome.status), ["ingested", "ingested"]);
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    for (const [i, hostile] of hostileCases.entries()) {
        it(`row ${hostile.row}: ${hostile.name} fails with a reason; the server keeps answering, the rest of the upload is stored, nothing stored changes`, async (t) => {
            const before = await storedDocuments();
            const rssBefore = process.memoryUsage.rss();
            const companion = { name: `companion-${i}.txt`, content: `第${i}份正常的文件：它应当被存入知识库。` };
            const { outcomes, probes, peakRss } = await uploadWhileProbing([{ name: hostile.name, content: await hostile.make() }, companion]);

            const [attack, ordinary] = outcomes;
            assert.equal(attack?.status, "failed");
            assert.match(attack.reason ?? "", hostile.reason);
            assert.equal(ordinary?.status, "ingested", "the other file of the upload is stored");

            assert.ok(probes.length > 0 && probes.every((probe) => probe.status === 200), "every /healthz probe was answered");
            assert.ok(probes.some((probe) => probe.beforeUploadEnded), "/healthz was answered while the file was being read");
            assert.ok(peakRss < rssBefore + SERVER_MEMORY_MARGIN, `the server grew by ${Math.round((peakRss - rssBefore) / 1e6)} MB`);
            t.diagnostic(`/healthz: ${probes.length} probes, slowest ${Math.max(...probes.map((probe) => probe.ms)).toFixed(1)} ms; server memory +${Math.round((peakRss - rssBefore) / 1e6)} MB`);

            const after = await storedDocuments();
            assert.deepEqual(after.filter((document) => document.name !== companion.name), before, "documents already stored are unchanged");
            assert.ok(after.some((document) => document.name === companion.name));
        });
    }
});

describe("hostile documents in a CLI ingest", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    before(async () => {
        temp = await makeTempDir();
    });
    after(() => temp.cleanup());

    it("a hostile file fails alone: the rest of the batch is stored", async () => {
        const docs = path.join(temp.dir, "docs");
        await fs.mkdir(docs);
        await fs.writeFile(path.join(docs, "a-bomb.xlsx"), await xlsxBomb(600));
        await fs.writeFile(path.join(docs, "b-nested.html"), nestedHtml(100_000));
        await fs.writeFile(path.join(docs, "c-ordinary.txt"), "一份普通的文件。");
        const result = await runCli(["ingest", docs, "--kb", "batch", "--json"], testEnv(path.join(temp.dir, "data")));
        assert.equal(result.code, 1, "failed files make a non-zero exit");
        const { files } = JSON.parse(result.stdout) as { files: { path: string; status: string; reason?: string }[] };
        const byName = new Map(files.map((file) => [path.basename(file.path), file]));
        assert.match(byName.get("a-bomb.xlsx")?.reason ?? "", /maxInflatedBytes/);
        assert.match(byName.get("b-nested.html")?.reason ?? "", /maxNestingDepth/);
        assert.equal(byName.get("c-ordinary.txt")?.status, "ingested");
    });

    it("SIGTERM stops an ingest stuck in a file promptly, leaving the knowledge base as last committed", async () => {
        const docs = path.join(temp.dir, "stuck");
        await fs.mkdir(docs);
        await fs.writeFile(path.join(docs, "a-ordinary.txt"), "先被存入的文件。");
        await fs.writeFile(path.join(docs, "b-nested-saves.pdf"), pdfNestedSaves(1_000_000));
        const dataDir = path.join(temp.dir, "stuck-data");
        const child = startCli(["ingest", docs, "--kb", "stuck"], testEnv(dataDir, { YIZHI_PARSE_TIMEOUT_SECONDS: "600" }));
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal != null ? -1 : null))));
        // Wait until the PDF is being read: a parser process is running under the CLI.
        const kbDir = path.join(dataDir, "stuck");
        for (let waited = 0; waited < 60_000 && !await fs.access(path.join(kbDir, "write.lock")).then(() => true, () => false); waited += 100) await sleep(100);
        await sleep(3_000);
        child.kill("SIGTERM");
        const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
        if (!stopped) child.kill("SIGKILL");
        assert.ok(stopped, "the CLI stopped on SIGTERM while a file was being read");
        await assert.rejects(fs.access(path.join(kbDir, "write.lock")), "the write lock was released");
        const reopened = await runCli(["docs", "list", "--kb", "stuck", "--json"], testEnv(dataDir));
        assert.equal(reopened.code, 0, reopened.stderr);
    });

    it("SIGTERM stops yizhi serve promptly while it reads a file, releasing the lock and leaving no parser behind", async () => {
        const dataDir = path.join(temp.dir, "serve-data");
        const port = 20_000 + Math.floor(Math.random() * 10_000);
        const server = startCli(["serve", "--port", String(port)], testEnv(dataDir, { YIZHI_PARSE_TIMEOUT_SECONDS: "600" }));
        const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
        const url = `http://127.0.0.1:${port}`;
        for (let waited = 0; waited < 60_000; waited += 200) {
            if ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200) break;
            await sleep(200);
        }
        assert.equal((await fetch(`${url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "served" }) })).status, 201);
        const form = new FormData();
        form.append("files", new Blob([pdfNestedSaves(1_000_000)]), "stuck.pdf");
        const uploading = fetch(`${url}/kbs/served/documents`, { method: "POST", body: form }).catch(() => undefined);
        const kbDir = path.join(dataDir, "served");
        for (let waited = 0; waited < 30_000 && !await fs.access(path.join(kbDir, "write.lock")).then(() => true, () => false); waited += 100) await sleep(100);
        await sleep(2_000);
        const parsers = (await fs.readFile(`/proc/${server.pid}/task/${server.pid}/children`, "utf8").catch(() => "")).split(/\s+/).filter((pid) => pid !== "");
        assert.ok(parsers.length > 0, "a parser process is reading the file");
        server.kill("SIGTERM");
        const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
        if (!stopped) server.kill("SIGKILL");
        assert.ok(stopped, "the server stopped on SIGTERM while a file was being read");
        await uploading;
        await assert.rejects(fs.access(path.join(kbDir, "write.lock")), "the write lock was released");
        await sleep(1_000);
        for (const pid of parsers) assert.throws(() => process.kill(Number(pid), 0), `parser ${pid} is gone`);
    });
});
