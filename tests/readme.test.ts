import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { startServer } from "../src/server/startServer.js";
import { makeTempDir, repoRoot } from "./helpers.js";
import { testConfig } from "./testConfig.js";

describe("the README", () => {
    it("has a TypeScript client of the OpenAI-compatible API that type-checks against the openai package", async () => {
        const readme = await fs.readFile(path.join(repoRoot, "README.md"), "utf8");
        const example = /```ts\n(import OpenAI from "openai";[\s\S]*?)```/.exec(readme)?.[1];
        assert.ok(example != null, "the README has the example");
        // Under node_modules, so that "openai" and @types/node resolve as they would in a user's project.
        const dir = path.join(repoRoot, "node_modules", ".cache", "yizhi-readme");
        await fs.mkdir(dir, { recursive: true });
        const file = path.join(dir, "client.ts");
        await fs.writeFile(file, example);
        const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
        const args = [tsc, "--noEmit", "--strict", "--noUncheckedIndexedAccess", "--module", "nodenext", "--target", "es2022", "--skipLibCheck", "--types", "node", file];
        const result = await promisify(execFile)(process.execPath, args, { cwd: repoRoot }).then(() => "", (error: { stdout?: string }) => error.stdout ?? String(error));
        assert.equal(result, "", result);
    });

    it("has a curl block that runs top to bottom against a real server", async () => {
        const readme = await fs.readFile(path.join(repoRoot, "README.md"), "utf8");
        const block = /```sh\n(# with YIZHI_API_KEY set[\s\S]*?)```/.exec(readme)?.[1];
        assert.ok(block != null, "the README has the curl block");
        const temp = await makeTempDir();
        const server = await startServer({ config: testConfig(path.join(temp.dir, "storage"), { contextSize: 2048 }), port: 0, log: () => undefined });
        try {
            await server.ready;
            // Each request must succeed: -f makes an HTTP error fail the script.
            const script = block.replaceAll("localhost:8080", server.url.replace("http://", "")).replaceAll("curl -s", "curl -sSf");
            const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], { cwd: temp.dir, maxBuffer: 16 * 1024 * 1024 });
            for (const expected of ["\"name\":\"docs\"", "\"status\":\"ingested\"", "\"answer\":", "event: done", "\"object\":\"chat.completion\"", "\"status\":\"ready\"", "\"openapi\":"])
                assert.ok(stdout.includes(expected), `the output has ${expected}`);
            assert.deepEqual(await (await fetch(`${server.url}/kbs`)).json(), { kbs: [] }, "the last commands deleted what the first made");
        } finally {
            await server.close();
            await temp.cleanup();
        }
    });
});
