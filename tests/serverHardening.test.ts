import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { ConfigInput } from "../src/config/schema.js";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir, testModelPath } from "./helpers.js";
import { runCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";

/** A raw HTTP request, so that `Host` can be set as a DNS-rebinding page's browser would send it. */
function request(url: string, options: { method?: string; headers?: Record<string, string> }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (text: string) => (body += text));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("error", reject);
        req.end();
    });
}

function upload(url: string, name: string, headers: Record<string, string> = {}): Promise<Response> {
    const form = new FormData();
    form.append("files", new Blob([`${name}：第一条，文件应当妥善保管。`]), name);
    return fetch(url, { method: "POST", body: form, headers });
}

/** Runs `use` on a server of its own (on 127.0.0.1) over a fresh data directory, then closes it and removes the directory. */
async function withServer(settings: ConfigInput, use: (server: RunningServer) => Promise<void>): Promise<void> {
    const temp = await makeTempDir();
    const server = await startServer({ config: testConfig(path.join(temp.dir, "storage"), settings), port: 0, log: () => undefined });
    try {
        await use(server);
    } finally {
        await server.close();
        await temp.cleanup();
    }
}

describe("a server reachable by every page a team member opens", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    const documentsUrl = () => `${server.url}/kbs/team/documents`;
    const documentNames = async () => ((await (await fetch(documentsUrl())).json()) as { documents: { name: string }[] }).documents.map((document) => document.name).sort();

    before(async () => {
        temp = await makeTempDir();
        server = await startServer({ config: testConfig(path.join(temp.dir, "storage"), { maxUploadRequestBytes: 4096 }), port: 0, log: () => undefined });
        await server.ready;
        const created = await fetch(`${server.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "team" }) });
        assert.equal(created.status, 201);
        assert.equal((await upload(documentsUrl(), "规章.txt", { origin: server.url, "sec-fetch-site": "same-origin" })).status, 200, "the page's own upload");
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    it("refuses an upload, an overwrite or a delete sent by a page of another origin, changing nothing", async () => {
        for (const headers of [
            { origin: "https://evil.example" },
            { origin: "null" },
            { "sec-fetch-site": "cross-site" },
            { "sec-fetch-site": "same-site", origin: "http://intranet.example" },
        ] as Record<string, string>[]) {
            for (const name of ["规章.txt", "new.txt"]) {
                const response = await upload(documentsUrl(), name, headers);
                assert.equal(response.status, 403, JSON.stringify(headers));
                const { error } = await response.json() as { error: { code: string; message: string } };
                assert.equal(error.code, "forbidden_origin");
                assert.match(error.message, /only from this server's own page.*YIZHI_API_KEY/);
            }
            const deleted = await fetch(`${server.url}/kbs/team`, { method: "DELETE", headers });
            assert.equal(deleted.status, 403);
            const asked = await fetch(`${server.url}/ask`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ kb: "team", question: "文件？" }) });
            assert.equal(asked.status, 403, "a question costs compute: another site cannot spend it either");
        }
        assert.deepEqual(await documentNames(), ["规章.txt"]);
        const { documents } = await (await fetch(documentsUrl())).json() as { documents: { chunks: number }[] };
        assert.ok(documents[0]!.chunks > 0);
    });

    it("accepts the same requests from its own page and from clients that are not browsers", async () => {
        assert.equal((await upload(documentsUrl(), "own-page.txt", { origin: server.url, "sec-fetch-site": "same-origin" })).status, 200);
        assert.equal((await upload(documentsUrl(), "curl.txt")).status, 200, "no Origin, no Sec-Fetch-Site: curl or a script");
        const names = await documentNames();
        assert.ok(names.includes("curl.txt") && names.includes("own-page.txt"));
    });

    it("refuses an upload whose files together pass maxUploadRequestBytes, storing none of them", async () => {
        const before = await documentNames();
        const form = (count: number) => {
            const body = new FormData();
            for (let i = 0; i < count; i++) body.append("files", new Blob([`第${i}份：${"内容。".repeat(160)}`]), `part-${count}-${i}.txt`);
            return body;
        };
        const refused = await fetch(documentsUrl(), { method: "POST", body: form(3) });
        assert.equal(refused.status, 413);
        const { error } = await refused.json() as { error: { code: string; message: string } };
        assert.equal(error.code, "upload_too_large");
        assert.match(error.message, /4096 bytes together.*maxUploadRequestBytes/);
        assert.deepEqual(await documentNames(), before);
        assert.equal((await fetch(documentsUrl(), { method: "POST", body: form(2) })).status, 200, "two of them fit");
    });

    it("answers only to its own host names (no DNS rebinding), on every route", async () => {
        const port = new URL(server.url).port;
        for (const route of ["/", "/healthz", "/kbs", "/kbs/team/documents"]) {
            const rebound = await request(`${server.url}${route}`, { headers: { host: `attacker.example:${port}` } });
            assert.equal(rebound.status, 403, route);
            assert.equal((JSON.parse(rebound.body) as { error: { code: string } }).error.code, "forbidden_host");
            assert.doesNotMatch(rebound.body, /规章/);
        }
        for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost"]) {
            assert.equal((await request(`${server.url}/kbs`, { headers: { host } })).status, 200, host);
        }
    });

    it("serves the page with a content security policy and no framing", async () => {
        const page = await fetch(`${server.url}/`);
        assert.equal(page.status, 200);
        const csp = page.headers.get("content-security-policy") ?? "";
        assert.match(csp, /default-src 'self'/);
        assert.match(csp, /script-src 'self'(;|$)/, "no inline or eval'd script");
        assert.match(csp, /frame-ancestors 'none'/);
        assert.equal(page.headers.get("x-content-type-options"), "nosniff");
        assert.equal(page.headers.get("x-frame-options"), "DENY");
        assert.equal(page.headers.get("x-powered-by"), null);
    });
});

describe("what the API shows of the server", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    const postJson = (route: string, body: unknown) =>
        fetch(`${server.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

    before(async () => {
        temp = await makeTempDir();
        const storage = path.join(temp.dir, "storage");
        const folder = path.join(temp.dir, "srv", "secret-location", "合同");
        await fs.mkdir(path.join(folder, "2024"), { recursive: true });
        await fs.writeFile(path.join(folder, "2024", "租赁合同.txt"), "租赁合同：租期三年，租金每月一万元。");
        await fs.writeFile(path.join(temp.dir, "srv", "secret-location", "单独的文件.txt"), "单独的文件：会议记录。");
        const ingested = await runCli(["ingest", folder, path.join(temp.dir, "srv", "secret-location", "单独的文件.txt"), "--kb", "contracts"], testEnv(storage));
        assert.equal(ingested.code, 0, ingested.stderr);
        server = await startServer({ config: testConfig(storage, { lexicalThreshold: 0.1 }), port: 0, log: () => undefined });
        await server.ready;
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    it("names documents ingested by the CLI by their path below the ingested folder, never by the server's folders", async () => {
        const body = await (await fetch(`${server.url}/kbs/contracts/documents`)).text();
        assert.doesNotMatch(body, /secret-location|\/srv\/|yizhi-test/);
        const { documents } = JSON.parse(body) as { documents: { source: string; name: string }[] };
        assert.deepEqual(documents.map(({ source, name }) => ({ source, name })).sort((a, b) => a.name.localeCompare(b.name)), [
            { source: "单独的文件.txt", name: "单独的文件.txt" },
            { source: "合同/2024/租赁合同.txt", name: "合同/2024/租赁合同.txt" },
        ].sort((a, b) => a.name.localeCompare(b.name)));

        const asked = await postJson("/ask", { kb: "contracts", question: "租赁合同的租金是多少？", mode: "bm25" });
        const answer = await asked.text();
        assert.equal(asked.status, 200, answer);
        assert.doesNotMatch(answer, /secret-location|yizhi-test/);
        const { sources } = JSON.parse(answer) as { sources: { source: string; name: string }[] };
        assert.ok(sources.length > 0);
        assert.equal(sources[0]!.source, "合同/2024/租赁合同.txt");
        assert.equal(sources[0]!.name, "租赁合同.txt");
    });

    it("/ask takes lexicalThreshold, so an API client can have a question refused in bm25 and hybrid modes", async () => {
        for (const mode of ["bm25", "hybrid"]) {
            const ask = async (lexicalThreshold: number) => (await (await postJson("/ask", { kb: "contracts", question: "租赁合同的租金和会议记录", mode, lexicalThreshold, scoreThreshold: 1 })).json()) as { refused: boolean };
            assert.equal((await ask(1)).refused, true, `${mode}: no chunk has every word`);
            assert.equal((await ask(0.05)).refused, false, mode);
        }
        const invalid = await postJson("/ask", { kb: "contracts", question: "租金", lexicalThreshold: 2 });
        assert.equal(invalid.status, 400);
        assert.match(((await invalid.json()) as { error: { message: string } }).error.message, /lexicalThreshold/);
    });

    it("bounds /v1/chat/completions as /ask is bounded: message size, question size, message count", async () => {
        const ask = (messages: unknown[]) => postJson("/v1/chat/completions", { model: "contracts", messages });
        for (const [messages, problem] of [
            [[{ role: "user", content: "租".repeat(900_000 / 3) }], /messages/],
            [[{ role: "user", content: "租金是多少？".repeat(1_000) }], /at most 4000/],
            [Array.from({ length: 5_000 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: "租金？" })), /messages/],
            [[{ role: "user", content: "   " }], /empty/],
        ] as const) {
            const response = await ask([...messages]);
            assert.equal(response.status, 400);
            const { error } = await response.json() as { error: { code: string; message: string } };
            assert.equal(error.code, "invalid_request");
            assert.match(error.message, problem);
        }
        const long = Array.from({ length: 120 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `第${i}轮` }));
        const accepted = await ask([...long, { role: "user", content: "租赁合同的租金是多少？" }]);
        assert.equal(accepted.status, 200, "a long conversation is answered, from its latest turns");
    });

    it("/readyz does not show model paths to anyone who asks", async () => {
        const broken = await startServer({
            config: testConfig(path.join(temp.dir, "storage"), { llmModel: path.join(temp.dir, "srv", "secret-location", "missing.gguf"), embeddingModel: testModelPath }),
            port: 0, log: () => undefined,
        });
        try {
            await broken.ready.catch(() => undefined);
            const response = await fetch(`${broken.url}/readyz`);
            assert.equal(response.status, 503);
            const body = await response.text();
            assert.doesNotMatch(body, /secret-location|missing\.gguf|shared\/models/);
            assert.match(body, /The LLM model is not on the server: run \\"yizhi models pull\\" there .*its log names the files/);
        } finally {
            await broken.close();
        }
    });
});

describe("rate limits per client", () => {
    it("answers 429 with Retry-After past questionsPerMinute and uploadsPerMinute, per API key when there is one", async () => {
        await withServer({ questionsPerMinute: 3, uploadsPerMinute: 2, lexicalThreshold: 1 }, async (server) => {
            await server.ready;
            assert.equal((await fetch(`${server.url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "team" }) })).status, 201);
            const ask = () => fetch(`${server.url}/ask`, {
                method: "POST", headers: { "content-type": "application/json", authorization: "Bearer made-up" },
                body: JSON.stringify({ kb: "team", question: "今天天气怎么样？", mode: "bm25" }),
            });
            for (let i = 0; i < 3; i++) assert.equal((await ask()).status, 200);
            const limited = await ask();
            assert.equal(limited.status, 429, "a made-up Authorization header is not a new client when no key is configured");
            assert.ok(Number(limited.headers.get("retry-after")) > 0);
            const { error } = await limited.json() as { error: { code: string; message: string } };
            assert.equal(error.code, "rate_limited");
            assert.match(error.message, /at most 3 a minute \(setting questionsPerMinute\)/);

            for (let i = 0; i < 2; i++) assert.equal((await upload(`${server.url}/kbs/team/documents`, `limited-${i}.txt`)).status, 200);
            const tooMany = await upload(`${server.url}/kbs/team/documents`, "limited-2.txt");
            assert.equal(tooMany.status, 429);
            assert.ok(Number(tooMany.headers.get("retry-after")) > 0);
            assert.equal((await fetch(`${server.url}/healthz`)).status, 200, "probes are never limited");
        });

        await withServer({ questionsPerMinute: 1, apiKey: "team-key" }, async (keyed) => {
            await keyed.ready;
            const headers = { "content-type": "application/json", authorization: "Bearer team-key" };
            await fetch(`${keyed.url}/kbs`, { method: "POST", headers, body: JSON.stringify({ name: "team" }) });
            const ask = () => fetch(`${keyed.url}/ask`, { method: "POST", headers, body: JSON.stringify({ kb: "team", question: "天气？", mode: "bm25" }) });
            assert.equal((await ask()).status, 200);
            assert.equal((await ask()).status, 429, "the key is the client");
        });
    });
});

describe("a server listening on every address", () => {
    it("answers to the names given in allowedHosts, and to no other", async () => {
        await withServer({ allowedHosts: "yizhi.team.example, 127.0.0.1" }, async (server) => {
            assert.equal((await request(`${server.url}/healthz`, { headers: { host: "yizhi.team.example:8080" } })).status, 200);
            assert.equal((await request(`${server.url}/healthz`, { headers: { host: "localhost" } })).status, 403, "loopback names are not added to a list");
        });
    });
});
