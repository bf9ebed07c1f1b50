import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "./helpers.js";

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
});
