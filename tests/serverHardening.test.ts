import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir } from "./helpers.js";
import { testConfig } from "./testConfig.js";

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

describe("a server reachable by every page a team member opens", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    const documentsUrl = () => `${server.url}/kbs/team/documents`;
    const documentNames = async () => ((await (await fetch(documentsUrl())).json()) as { documents: { name: string }[] }).documents.map((document) => document.name).sort();

    before(async () => {
        temp = await makeTempDir();
        server = await startServer({ config: testConfig(path.join(temp.dir, "storage")), port: 0, log: () => undefined });
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
        for (const headers of <Record<string, string>[]>[
            { origin: "https://evil.example" },
            { origin: "null" },
            { "sec-fetch-site": "cross-site" },
            { "sec-fetch-site": "same-site", origin: "http://intranet.example" },
        ]) {
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
        assert.deepEqual(await documentNames(), ["curl.txt", "own-page.txt", "规章.txt"]);
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

describe("a server listening on every address", () => {
    it("answers to the names given in allowedHosts, and to no other", async () => {
        const temp = await makeTempDir();
        const server = await startServer({
            config: testConfig(path.join(temp.dir, "storage"), { allowedHosts: "yizhi.team.example, 127.0.0.1" }),
            host: "127.0.0.1", port: 0, log: () => undefined,
        });
        try {
            assert.equal((await request(`${server.url}/healthz`, { headers: { host: "yizhi.team.example:8080" } })).status, 200);
            assert.equal((await request(`${server.url}/healthz`, { headers: { host: "localhost" } })).status, 403, "loopback names are not added to a list");
        } finally {
            await server.close();
            await temp.cleanup();
        }
    });
});
