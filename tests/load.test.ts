import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir, mulberry32 } from "./helpers.js";
import { testConfig } from "./testConfig.js";

const CLIENTS = 50;
const DURATION_MS = 60_000;
/** A request that takes longer than this is counted as hung: the load test fails. */
const REQUEST_DEADLINE_MS = 120_000;
const EXPECTED_STATUSES = new Set([200, 429, 503]);

/**
 * A bounded load test on loopback: 50 clients ask and upload against one server for 60 s, each
 * waiting for its answer before its next request. Only 200, 429 and 503 may come back, and every
 * upload that was answered 200 is stored exactly once.
 */
describe("50 clients asking and uploading for 60 s", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;

    before(async () => {
        temp = await makeTempDir();
        // The limits a real server has, small enough to be reached: some questions wait, some are refused.
        server = await startServer({
            config: testConfig(path.join(temp.dir, "storage"), { parallelAnswers: 2, maxQueuedQuestions: 4, questionsPerMinute: 300, uploadsPerMinute: 200 }),
            port: 0, log: () => undefined,
        });
        await server.ready;
        const created = await fetch(`${server.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "load" }) });
        assert.equal(created.status, 201);
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    it("answers only 200, 429 or 503, never 500, and keeps every acknowledged upload exactly once", async (t) => {
        const statuses = new Map<number, number>();
        const acknowledged: string[] = [];
        const deadline = performance.now() + DURATION_MS;
        // A refused client backs off a little before it tries again, as a polite one does.
        const count = async (status: number, random: () => number) => {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status === 429 || status === 503) await sleep(500 + random() * 1000);
        };

        const client = async (id: number) => {
            const random = mulberry32(id + 1);
            for (let round = 0; performance.now() < deadline; round++) {
                if (random() < 0.3) {
                    const name = `client-${id}-${round}.txt`;
                    const form = new FormData();
                    form.append("files", new Blob([`第${id}位用户的第${round}份文件：编号 ${id * 1000 + round}。`]), name);
                    const response = await fetch(`${server.url}/kbs/load/documents`, { method: "POST", body: form, signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
                    if (response.status === 200) {
                        const { files } = await response.json() as { files: { name: string; status: string }[] };
                        assert.equal(files[0]?.status, "ingested");
                        acknowledged.push(name);
                    } else {
                        await response.arrayBuffer();
                    }
                    await count(response.status, random);
                } else {
                    const response = await fetch(`${server.url}/ask`, {
                        method: "POST", headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
                        body: JSON.stringify({ kb: "load", question: `第${Math.floor(random() * CLIENTS)}位用户的文件是什么？`, mode: random() < 0.5 ? "bm25" : "hybrid" }),
                    });
                    await response.arrayBuffer();
                    await count(response.status, random);
                }
                if (random() < 0.2) await sleep(random() * 200);
            }
        };

        let probesFailed = 0;
        const probing = (async () => {
            while (performance.now() < deadline) {
                const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) }).catch(() => undefined);
                if (response?.status !== 200) probesFailed++;
                await response?.arrayBuffer();
                await sleep(250);
            }
        })();
        await Promise.all([...Array.from({ length: CLIENTS }, (_, id) => client(id)), probing]);

        t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; uploads acknowledged: ${acknowledged.length}`);
        for (const status of statuses.keys()) assert.ok(EXPECTED_STATUSES.has(status), `status ${status} came back`);
        assert.ok((statuses.get(200) ?? 0) > 0, "some requests were served");
        assert.equal(probesFailed, 0, "/healthz answered throughout");

        const { documents } = await (await fetch(`${server.url}/kbs/load/documents`)).json() as { documents: { name: string }[] };
        const stored = documents.map((document) => document.name).sort();
        assert.deepEqual(stored, [...acknowledged].sort(), "every acknowledged upload is stored, exactly once, and nothing else");
    });
});
