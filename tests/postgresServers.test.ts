import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PostgresStorage } from "../src/store/postgres/postgresStorage.js";
import { fixture, makeTempDir } from "./helpers.js";
import { runCli, startCli } from "./runCli.js";
import { testEnv } from "./testConfig.js";
import { freePort, vectorDatabase, type TestDatabase } from "./testDatabases.js";

/*
 * Several Yizhi processes on one PostgreSQL (PGlite with pgvector, served on loopback): the CLI on
 * either backend and a copy between them, two servers sharing knowledge bases, and a server killed
 * while it writes.
 */

interface Served {
    url: string;
    process: ChildProcess;
    stop(): Promise<void>;
}

describe("several Yizhi processes on one PostgreSQL", () => {
    let database: TestDatabase;
    let temp: { dir: string; cleanup: () => Promise<void> };
    const servers: Served[] = [];
    /** Each process its own data folder: what they share is the database. */
    const env = (who: string, extra: Record<string, string> = {}) =>
        testEnv(path.join(temp.dir, who, "storage"), { YIZHI_STORAGE: "postgres", YIZHI_DATABASE_URL: database.url, ...extra });

    before(async () => {
        database = await vectorDatabase();
        temp = await makeTempDir();
    });
    after(async () => {
        for (const server of servers) await server.stop();
        await database?.stop();
        await temp?.cleanup();
    });

    async function serve(who: string): Promise<Served> {
        const port = await freePort();
        const child = startCli(["serve", "--port", String(port)], env(who));
        let log = "";
        child.stderr?.setEncoding("utf8").on("data", (text: string) => (log += text));
        const url = `http://127.0.0.1:${port}`;
        for (let waited = 0; (await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200; waited += 200) {
            assert.ok(waited < 60_000 && child.exitCode == null, `server ${who} did not get ready: ${log}`);
            await sleep(200);
        }
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        const served = {
            url,
            process: child,
            async stop() {
                if (child.exitCode == null && child.signalCode == null) child.kill("SIGTERM");
                await exited;
            },
        };
        servers.push(served);
        return served;
    }

    function upload(url: string, kb: string, name: string, content: string): Promise<Response> {
        const form = new FormData();
        form.append("files", new Blob([content]), name);
        return fetch(`${url}/kbs/${encodeURIComponent(kb)}/documents`, { method: "POST", body: form });
    }

    async function documentNames(url: string, kb: string): Promise<string[]> {
        const { documents } = await (await fetch(`${url}/kbs/${kb}/documents`)).json() as { documents: { name: string }[] };
        return documents.map((document) => document.name).sort();
    }

    it("the CLI works the same on either backend, and kb copy moves a knowledge base over with the same answers' sources", async () => {
        const file = testEnv(path.join(temp.dir, "cli", "storage"));
        const ingested = await runCli(["ingest", fixture("zh", "md"), "--kb", "docs"], file);
        assert.equal(ingested.code, 0, ingested.stderr);
        const copied = await runCli(["kb", "copy", "docs", "--to", "postgres"], { ...file, YIZHI_DATABASE_URL: database.url });
        assert.equal(copied.code, 0, copied.stderr);
        assert.match(copied.stdout, /Copied knowledge base "docs" from .* to "docs" in postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: 3 documents, \d+ chunks\./);
        const question = ["ask", "检察机关行政诉讼监督的范围是什么？", "--kb", "docs", "--mode", "bm25", "--json"];
        const [onFile, onPostgres] = await Promise.all([runCli(question, file), runCli(question, env("cli"))]);
        assert.equal(onPostgres.code, 0, onPostgres.stderr);
        const sources = (output: string) => (JSON.parse(output) as { sources: { source: string; text: string; score: number }[] }).sources
            .map(({ source, text, score }) => ({ source, text, score: score.toFixed(9) }));
        assert.ok(sources(onFile.stdout).length > 0);
        assert.deepEqual(sources(onPostgres.stdout), sources(onFile.stdout));
        const squad = path.join(temp.dir, "squad.json");
        await fs.writeFile(squad, JSON.stringify({ version: "v2.0", data: [{ title: "规章", paragraphs: [
            { context: "差旅费报销须在出差结束后十五个工作日内提交，并附上发票和行程单。", qas: [{ id: "q1", question: "差旅费报销要在出差结束后多少个工作日内提交？", answers: [{ text: "十五个工作日", answer_start: 12 }] }] },
            { context: "数据库每天凌晨备份一次，备份文件保留三十天后自动删除。", qas: [{ id: "q2", question: "数据库备份文件保留多少天？", answers: [{ text: "三十天", answer_start: 18 }] }] },
        ] }] }));
        const evaluate = ["eval", squad, "--mode", "bm25", "--json"];
        const [evalOnFile, evalOnPostgres] = await Promise.all([runCli(evaluate, file), runCli(evaluate, env("cli"))]);
        assert.equal(evalOnPostgres.code, 0, evalOnPostgres.stderr);
        const recall = (output: string) => {
            const report = JSON.parse(output) as Record<string, unknown>;
            return { chunks: report.chunks, "recall@1": report["recall@1"], mrr: report.mrr };
        };
        assert.deepEqual(recall(evalOnPostgres.stdout), recall(evalOnFile.stdout));
        assert.equal(recall(evalOnPostgres.stdout)["recall@1"], 1);
        const listed = await runCli(["kb", "list", "--json"], env("cli"));
        assert.deepEqual((JSON.parse(listed.stdout) as { name: string; documents: number }[]).map(({ name, documents }) => ({ name, documents })), [{ name: "docs", documents: 3 }],
            "eval's temporary knowledge base is gone");
        const config = await runCli(["config", "--json"], env("cli"));
        const shown = JSON.parse(config.stdout) as { config: { storage: string; databaseUrl: string } };
        assert.equal(shown.config.storage, "postgres");
        assert.equal(shown.config.databaseUrl, new URL(database.url.replace(":postgres@", ":***@")).toString());
        assert.doesNotMatch(config.stdout, /:postgres@/, "the password is not printed");
    });

    it("two servers share knowledge bases: one's upload is listed and answered from by the other, and uploads through both land once each", async () => {
        const [a, b] = await Promise.all([serve("a"), serve("b")]);
        const page = await fetch(`${b.url}/`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<html/i, "the page is served the same");
        assert.equal((await fetch(`${a.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "team" }) })).status, 201);
        assert.equal((await fetch(`${b.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "team" }) })).status, 409, "created once");
        const policy = await fs.readFile(fixture("zh", "md", "zh_regulation_procuratorate_admin_litigation_supervision_2016.md"), "utf8");
        assert.equal((await upload(a.url, "team", "监督规则.md", policy)).status, 200);
        assert.deepEqual(await documentNames(b.url, "team"), ["监督规则.md"]);
        const asked = await fetch(`${b.url}/ask`, {
            method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ kb: "team", question: "检察机关行政诉讼监督的范围是什么？", mode: "bm25" }),
        });
        assert.equal(asked.status, 200);
        const answer = await asked.json() as { refused: boolean; sources: { source: string }[] };
        assert.equal(answer.refused, false);
        assert.ok(answer.sources.length > 0 && answer.sources.every((source) => source.source === "监督规则.md"));

        const names = Array.from({ length: 8 }, (_, i) => `第${i}份通知.txt`);
        const responses = await Promise.all(names.map((name, i) => upload(i % 2 === 0 ? a.url : b.url, "team", name, `通知${i}：本周${i}号会议室改为${i + 2}楼，请各部门周知。`.repeat(20))));
        for (const response of responses) assert.equal(response.status, 200, await response.text());
        const expected = ["监督规则.md", ...names].sort();
        assert.deepEqual(await documentNames(a.url, "team"), expected);
        assert.deepEqual(await documentNames(b.url, "team"), expected);
        await Promise.all([a.stop(), b.stop()]);
    });

    it("a server killed with kill -9 while it ingests leaves each document whole or absent; each committed in its own transaction", async () => {
        const storage = new PostgresStorage({ url: database.url, hnsw: { m: 16, efConstruction: 100 } });
        const text = (await fs.readFile(fixture("zh", "txt", "zh_cas_regulations_compilation.txt"))).subarray(0, 60_000);
        const parts = 6;
        const left: number[] = [];
        try {
            // Killed at once, and as soon as the first document is committed.
            for (const [round, when] of (["at once", "after the first document"] as const).entries()) {
                const server = await serve(`killed-${round}`);
                const kb = `killed-${round}`;
                assert.equal((await fetch(`${server.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: kb }) })).status, 201);
                const form = new FormData();
                for (let i = 0; i < parts; i++) form.append("files", new Blob([text.subarray(i * 10_000, (i + 1) * 10_000)]), `part-${i}.txt`);
                const uploading = fetch(`${server.url}/kbs/${kb}/documents`, { method: "POST", body: form }).catch(() => undefined);
                if (when === "at once") await sleep(200);
                else while ((await storage.list()).find((listed) => listed.name === kb)!.documents === 0) await sleep(20);
                server.process.kill("SIGKILL");
                await server.stop();
                await uploading;
                const reader = await storage.openReader(kb, await storage.embedder(kb));
                const documents = await reader.documents();
                for (const document of documents) {
                    assert.ok(document.labels.length > 0);
                    assert.equal((await reader.getChunks(document.labels)).size, document.labels.length, `${document.source} is whole`);
                    assert.equal((await reader.getVectors(document.labels)).size, document.labels.length);
                }
                const summary = (await storage.list()).find((listed) => listed.name === kb)!;
                assert.deepEqual([summary.documents, summary.chunks], [documents.length, documents.reduce((sum, document) => sum + document.labels.length, 0)], "the counts agree with the rows");
                left.push(documents.length);
                await reader.close();
            }
            assert.equal(left[0], 0, "killed before its first commit, the upload left nothing");
            assert.ok(left[1]! >= 1 && left[1]! < parts, `killed mid-upload, the documents committed before stay: ${left[1]} of ${parts}`);
        } finally {
            await storage.close();
        }
    });
});
