import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { KeyError } from "../src/errors.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir } from "./helpers.js";
import { runCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";

describe("KeyStore", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    before(async () => {
        temp = await makeTempDir();
    });
    after(() => temp.cleanup());

    it("keeps only a hash of each key, in a file only its owner can read, and recognises the key", async () => {
        const store = KeyStore.of(temp.dir);
        assert.equal(await store.any(), false);
        const { key, summary } = await store.add("alice", "writer", ["docs"]);
        assert.match(key, /^yz_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
        assert.deepEqual({ name: summary.name, role: summary.role, kbs: summary.kbs }, { name: "alice", role: "writer", kbs: ["docs"] });
        const file = await fs.readFile(store.file, "utf8");
        assert.ok(!file.includes(key.slice(12)), "the secret is not stored");
        assert.equal((await fs.stat(store.file)).mode & 0o777, 0o600);

        assert.deepEqual(await store.verify(key), { name: "alice", role: "writer", kbs: ["docs"] });
        assert.equal(await store.verify(`${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`), undefined, "one character off is no key");
        assert.equal(await store.verify("yz_00000000_" + "A".repeat(43)), undefined);
        assert.equal(await store.verify("not a key"), undefined);
        assert.deepEqual((await store.list()).map((listed) => Object.keys(listed).sort()), [["createdAt", "id", "kbs", "name", "role"]], "listings show no hash");

        await store.remove("alice");
        assert.equal(await store.verify(key), undefined);
        assert.equal(await store.any(), false);
    });

    it("refuses a duplicate name, a bad name, a reader of nothing, and says when its file is damaged", async () => {
        const store = KeyStore.of(path.join(temp.dir, "second"));
        await store.add("bob", "reader", "*");
        await assert.rejects(store.add("bob", "admin", "*"), (error: unknown) => error instanceof KeyError && /exists already/.test(error.message));
        await assert.rejects(store.add("../evil", "admin", "*"), /not a valid key name/);
        await assert.rejects(store.add("carol", "reader", []), /needs the knowledge bases it may use/);
        await assert.rejects(store.remove("nobody"), /no key named "nobody"/);
        await fs.writeFile(store.file, "{ damaged");
        await assert.rejects(store.verify("yz_00000000_" + "A".repeat(43)), /keys file \(\.keys\.json in the data directory\) is damaged/);
    });
});

describe("keys with roles on every route", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    let dataDir: string;
    const keys: Record<"admin" | "writer" | "reader", string> = { admin: "", writer: "", reader: "" };
    let otherDocumentId = "";

    const call = (method: string, route: string, key: string | undefined, body?: unknown) =>
        fetch(`${server.url}${route}`, {
            method,
            headers: { ...(key != null ? { authorization: `Bearer ${key}` } : {}), ...(body != null ? { "content-type": "application/json" } : {}) },
            ...(body != null ? { body: JSON.stringify(body) } : {}),
        });
    const upload = (kb: string, key: string, name: string) => {
        const form = new FormData();
        form.append("files", new Blob([`${name}：一份新的文件。`]), name);
        return fetch(`${server.url}/kbs/${kb}/documents`, { method: "POST", body: form, headers: { authorization: `Bearer ${key}` } });
    };

    before(async () => {
        temp = await makeTempDir();
        dataDir = path.join(temp.dir, "storage");
        server = await startServer({ config: testConfig(dataDir, { lexicalThreshold: 0 }), port: 0, log: () => undefined });
        await server.ready;
        // Before any key exists, the server needs none.
        for (const kb of ["docs", "other"]) {
            assert.equal((await call("POST", "/kbs", undefined, { name: kb })).status, 201);
            const form = new FormData();
            form.append("files", new Blob([`${kb}：第一份文件，关于报销流程。`]), `${kb}.txt`);
            assert.equal((await fetch(`${server.url}/kbs/${kb}/documents`, { method: "POST", body: form })).status, 200);
        }
        otherDocumentId = ((await (await call("GET", "/kbs/other/documents", undefined)).json()) as { documents: { id: string }[] }).documents[0]!.id;
        for (const [role, kbs] of [["admin", []], ["writer", ["--kb", "docs"]], ["reader", ["--kb", "docs"]]] as const) {
            const added = await runCli(["keys", "add", `${role}-key`, "--role", role, ...kbs], testEnv(dataDir));
            assert.equal(added.code, 0, added.stderr);
            keys[role] = added.stdout.trim();
            assert.match(added.stderr, /shown only now/);
        }
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    it("requires a key once one exists: none, or a wrong one, is 401", async () => {
        for (const key of [undefined, "wrong", `${keys.reader}x`]) {
            const response = await call("GET", "/kbs", key);
            assert.equal(response.status, 401, String(key));
            assert.equal(((await response.json()) as { error: { code: string } }).error.code, "unauthorized");
        }
        assert.equal((await call("GET", "/healthz", undefined)).status, 200, "probes need no key");
    });

    it("lets each role do what it may, on each route, and refuses the rest with a 403 naming what is missing", async () => {
        const expectations: { route: string; method: string; body?: unknown; status: Record<keyof typeof keys, number> }[] = [
            { method: "GET", route: "/kbs/docs/documents", status: { admin: 200, writer: 200, reader: 200 } },
            { method: "GET", route: "/kbs/other/documents", status: { admin: 200, writer: 403, reader: 403 } },
            { method: "POST", route: "/ask", body: { kb: "docs", question: "报销流程是什么？", mode: "bm25" }, status: { admin: 200, writer: 200, reader: 200 } },
            { method: "POST", route: "/ask", body: { kb: "other", question: "报销流程是什么？", mode: "bm25" }, status: { admin: 200, writer: 403, reader: 403 } },
            { method: "POST", route: "/v1/chat/completions", body: { model: "other", messages: [{ role: "user", content: "报销？" }] }, status: { admin: 200, writer: 403, reader: 403 } },
            { method: "POST", route: "/kbs", body: { name: "new-one" }, status: { admin: 201, writer: 403, reader: 403 } },
            { method: "DELETE", route: `/kbs/other/documents/${otherDocumentId}`, status: { admin: 204, writer: 403, reader: 403 } },
        ];
        for (const { method, route, body, status } of expectations) {
            for (const role of ["reader", "writer", "admin"] as const) {
                const response = await call(method, route, keys[role], body);
                assert.equal(response.status, status[role], `${role}: ${method} ${route} ${JSON.stringify(body ?? "")}`);
                if (response.status === 403) {
                    const { error } = await response.json() as { error: { code: string; message: string } };
                    assert.equal(error.code, "forbidden");
                    assert.match(error.message, new RegExp(`"${role}-key" \\(${role}\\) may not .*needs the (writer|reader|admin) role`));
                } else {
                    await response.arrayBuffer();
                }
            }
        }

        assert.equal((await upload("docs", keys.reader, "by-reader.txt")).status, 403);
        const byReader = await upload("docs", keys.reader, "by-reader.txt");
        assert.match(((await byReader.json()) as { error: { message: string } }).error.message, /may not upload to or delete from knowledge base "docs": that needs the writer role for "docs"/);
        assert.equal((await upload("other", keys.writer, "by-writer.txt")).status, 403);
        assert.equal((await upload("docs", keys.writer, "by-writer.txt")).status, 200);
        assert.equal((await call("DELETE", "/kbs/other", keys.writer)).status, 403);
        const names = ((await (await call("GET", "/kbs/docs/documents", keys.reader)).json()) as { documents: { name: string }[] }).documents.map((document) => document.name).sort();
        assert.deepEqual(names, ["by-writer.txt", "docs.txt"], "nothing the reader sent was stored");
    });

    it("lists only the knowledge bases a key may read, in /kbs and /v1/models, and says who the key is", async () => {
        for (const [role, expected] of [["reader", ["docs"]], ["writer", ["docs"]], ["admin", ["docs", "new-one", "other"]]] as const) {
            const kbs = ((await (await call("GET", "/kbs", keys[role])).json()) as { kbs: { name: string }[] }).kbs.map((kb) => kb.name).sort();
            assert.deepEqual(kbs, expected, role);
            const models = ((await (await call("GET", "/v1/models", keys[role])).json()) as { data: { id: string }[] }).data.map((model) => model.id).sort();
            assert.deepEqual(models, expected, role);
        }
        assert.deepEqual(await (await call("GET", "/whoami", keys.writer)).json(), { name: "writer-key", role: "writer", kbs: ["docs"] });
    });

    it("a removed key stops working on the running server at once", async () => {
        const removed = await runCli(["keys", "remove", "reader-key"], testEnv(dataDir));
        assert.equal(removed.code, 0, removed.stderr);
        assert.equal((await call("GET", "/kbs", keys.reader)).status, 401);
        assert.equal((await call("GET", "/kbs", keys.writer)).status, 200);
        const listed = await runCli(["keys", "list", "--json"], testEnv(dataDir));
        assert.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((key) => key.name).sort(), ["admin-key", "writer-key"]);
        assert.doesNotMatch(listed.stdout, /yz_[0-9a-f]{8}_/);
    });

    it("the CLI refuses a bad role or a reader of nothing, with a message and exit code", async () => {
        const badRole = await runCli(["keys", "add", "x", "--role", "owner"], testEnv(dataDir));
        assert.notEqual(badRole.code, 0);
        assert.match(badRole.stderr, /Must be one of: reader, writer, admin/);
        const noKb = await runCli(["keys", "add", "y", "--role", "reader"], testEnv(dataDir));
        assert.equal(noKb.code, 1);
        assert.match(noKb.stderr, /needs the knowledge bases it may use/);
    });
});
