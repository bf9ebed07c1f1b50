import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { makeTempDir, repoRoot } from "./helpers.js";
import { runCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";

interface Source { n: number; source: string; score: number; text: string }

function textOf(result: unknown): string {
    const { content } = result as CallToolResult;
    const first = content[0];
    assert.ok(first?.type === "text");
    return first.text;
}

/** Both knowledge bases, ingested by the CLI as a user would. */
async function ingestKnowledgeBases(dir: string, dataDir: string): Promise<void> {
    for (const [kb, name, text] of [
        ["policies", "年假制度.txt", "员工每年享有十天带薪年假。年假需提前一周向主管申请，当年未休完的年假可顺延至次年三月。"],
        ["secret", "薪资.txt", "薪资保密：每月十日发放工资，调薪每年四月进行一次。"],
    ] as const) {
        const folder = path.join(dir, kb);
        await fs.mkdir(folder, { recursive: true });
        await fs.writeFile(path.join(folder, name), text);
        const ingested = await runCli(["ingest", folder, "--kb", kb], testEnv(dataDir));
        assert.equal(ingested.code, 0, ingested.stderr);
    }
}

describe("the MCP server", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let dataDir: string;
    before(async () => {
        temp = await makeTempDir();
        dataDir = path.join(temp.dir, "storage");
        await ingestKnowledgeBases(temp.dir, dataDir);
    });
    after(() => temp.cleanup());

    it("yizhi mcp serves the SDK's own client over stdio: list, search and ask, and a clear error for a knowledge base that is not there", async () => {
        const client = new Client({ name: "yizhi-test", version: "1.0.0" });
        await client.connect(new StdioClientTransport({
            command: process.execPath, args: [path.join(repoRoot, "dist", "src", "cli", "main.js"), "mcp"], env: testEnv(dataDir), stderr: "ignore",
        }));
        try {
            const { tools } = await client.listTools();
            assert.deepEqual(tools.map((tool) => tool.name).sort(), ["ask", "list_knowledge_bases", "search"]);

            const listed = JSON.parse(textOf(await client.callTool({ name: "list_knowledge_bases", arguments: {} }))) as { name: string; documents: number }[];
            assert.deepEqual(listed.map((kb) => [kb.name, kb.documents]), [["policies", 1], ["secret", 1]]);

            const found = JSON.parse(textOf(await client.callTool({ name: "search", arguments: { kb: "policies", query: "年假顺延", mode: "bm25" } }))) as Source[];
            assert.ok(found.length > 0);
            assert.equal(found[0]!.source, "policies/年假制度.txt", "shown by its path below the folder ingested");
            assert.match(found[0]!.text, /顺延至次年三月/);
            assert.ok(found[0]!.score > 0);
            const nothing = JSON.parse(textOf(await client.callTool({ name: "search", arguments: { kb: "policies", query: "火星探测器", mode: "bm25" } }))) as Source[];
            assert.deepEqual(nothing, [], "nothing relevant: an empty list");

            const answered = JSON.parse(textOf(await client.callTool({ name: "ask", arguments: { kb: "policies", question: "年假可以顺延吗？", mode: "bm25" } }))) as { answer: string; refused: boolean; sources: Source[] };
            assert.equal(answered.refused, false);
            assert.ok(answered.answer.length > 0);
            assert.equal(answered.sources[0]?.source, "policies/年假制度.txt");

            const missing = await client.callTool({ name: "ask", arguments: { kb: "nope", question: "年假？" } }) as CallToolResult;
            assert.equal(missing.isError, true);
            assert.match(textOf(missing), /kb_not_found: Knowledge base "nope" does not exist/);
            const invalid = await client.callTool({ name: "search", arguments: { kb: "policies", query: "" } }) as CallToolResult;
            assert.equal(invalid.isError, true, "an empty query is refused by the tool's schema");
        } finally {
            await client.close();
        }
    });

    describe("on yizhi serve, at /mcp", () => {
        let server: RunningServer;
        let readerKey: string;
        before(async () => {
            const added = await runCli(["keys", "add", "agent", "--role", "reader", "--kb", "policies", "--json"], testEnv(dataDir));
            assert.equal(added.code, 0, added.stderr);
            readerKey = (JSON.parse(added.stdout) as { key: string }).key;
            server = await startServer({ config: testConfig(dataDir), port: 0, log: () => undefined });
            await server.ready;
        });
        after(() => server.close());

        const connect = async (key?: string) => {
            const client = new Client({ name: "yizhi-test", version: "1.0.0" });
            await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), key != null ? { requestInit: { headers: { authorization: `Bearer ${key}` } } } : {}));
            return client;
        };

        it("needs the API key, and offers a key only the knowledge bases it may read", async () => {
            await assert.rejects(connect(), /401|unauthorized/i);
            const client = await connect(readerKey);
            try {
                const listed = JSON.parse(textOf(await client.callTool({ name: "list_knowledge_bases", arguments: {} }))) as { name: string }[];
                assert.deepEqual(listed.map((kb) => kb.name), ["policies"]);
                const found = JSON.parse(textOf(await client.callTool({ name: "search", arguments: { kb: "policies", query: "年假", mode: "bm25" } }))) as Source[];
                assert.equal(found[0]?.source, "policies/年假制度.txt");
                const forbidden = await client.callTool({ name: "search", arguments: { kb: "secret", query: "薪资", mode: "bm25" } }) as CallToolResult;
                assert.equal(forbidden.isError, true);
                assert.match(textOf(forbidden), /^forbidden: The key "agent" \(reader\) may not read or ask knowledge base "secret"/);
            } finally {
                await client.close();
            }
            const get = await fetch(`${server.url}/mcp`, { headers: { authorization: `Bearer ${readerKey}` } });
            assert.equal(get.status, 405);
            assert.equal((await get.json() as { error: { code: string } }).error.code, "method_not_allowed");
        });
    });
});
