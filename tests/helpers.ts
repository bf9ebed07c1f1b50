import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from source with tsx). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Shared test data lives beside the checkout, as it does in CI. */
export const sharedDir = path.resolve(repoRoot, "../shared");
export const fixturesDir = path.join(sharedDir, "fixtures");
export const testModelPath = path.join(sharedDir, "models", "stories260K.gguf");

export function fixture(...parts: string[]): string {
    return path.join(fixturesDir, ...parts);
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function makeTempDir(prefix = "yizhi-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}
