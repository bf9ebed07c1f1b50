import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { defaultParseLimits } from "../ingest/limits.js";
import type { LoadContext } from "../ingest/loaders/types.js";
import { defaultOcrSettings, type OcrSettings } from "../ingest/ocr/ocrEngine.js";
import { OcrReader, type OcrProgress } from "../ingest/ocr/ocrReader.js";
import { sharedPaddleOcrEngine } from "../ingest/ocr/paddleOcrEngine.js";
import { UnreadableFileError } from "../src/errors.js";

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

/** A small seeded PRNG (mulberry32): the same seed gives the same numbers in [0, 1) on every run. */
export function mulberry32(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/**
 * An embedder for stores that are only given vectors: the store's constructor needs one, but a
 * test that calls this has gone through a text path it did not mean to, so it throws.
 */
export const unusedEmbeddings: EmbeddingsInterface = {
    embedDocuments(): Promise<number[][]> {
        throw new Error("unusedEmbeddings.embedDocuments was called: this test stores and searches plain vectors only");
    },
    embedQuery(): Promise<number[]> {
        throw new Error("unusedEmbeddings.embedQuery was called: this test stores and searches plain vectors only");
    },
};

/** Exact cosine similarity, to check the scores the store computes. */
export function cosine(a: readonly number[], b: readonly number[]): number {
    let dot = 0;
    let normA = 0;
    let normB = 0;
    for (let i = 0; i < a.length; i++) {
        dot += a[i]! * b[i]!;
        normA += a[i]! * a[i]!;
        normB += b[i]! * b[i]!;
    }
    return dot / Math.sqrt(normA * normB);
}

/**
 * Waits until no writer holds the knowledge base in `kbDir`: the server answers an upload before its
 * writer has closed (closing may save the vector graph), so its files can still change just after.
 */
export async function writerClosed(kbDir: string): Promise<void> {
    for (let waited = 0; waited < 30_000; waited += 10) {
        if (!await fs.access(path.join(kbDir, "write.lock")).then(() => true, () => false)) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`A writer still holds ${kbDir} after 30 s.`);
}

/**
 * The files under `dir` (deleted ones too) that this process or any process it started still has
 * open, as "pid: path" (Linux: read from /proc; empty elsewhere).
 */
export async function filesHeldUnder(dir: string): Promise<string[]> {
    const held: string[] = [];
    const pending = [String(process.pid)];
    for (let pid = pending.pop(); pid != null; pid = pending.pop()) {
        const descriptors = await fs.readdir(`/proc/${pid}/fd`).catch(() => []);
        for (const fd of descriptors) {
            const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
            if (target.startsWith(dir + path.sep)) held.push(`${pid} ${(await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "?")).replace(/\0/g, " ")}: ${target}`);
        }
        for (const thread of await fs.readdir(`/proc/${pid}/task`).catch(() => [])) {
            const children = await fs.readFile(`/proc/${pid}/task/${thread}/children`, "utf8").catch(() => "");
            pending.push(...children.split(/\s+/).filter((child) => child !== ""));
        }
    }
    return held;
}

/** What a loader is given in a parser process: a real OCR reader (PP-OCRv4, one thread), `settings` as given. */
export function loadContext(
    settings: Partial<OcrSettings> = {},
    onProgress?: (progress: OcrProgress) => void,
    maxImagePixels = defaultParseLimits.maxImagePixels,
): LoadContext {
    const ocr = { ...defaultOcrSettings, ...settings };
    return {
        ocr: new OcrReader({
            settings: ocr,
            maxImagePixels,
            engine: () => sharedPaddleOcrEngine(ocr.threads),
            ...(onProgress != null ? { onProgress } : {}),
        }),
    };
}

/** Asserts that reading a file fails with `UnreadableFileError`, its reason matching `reason`. */
export async function assertUnreadable(loading: Promise<unknown>, reason: RegExp): Promise<void> {
    await assert.rejects(loading, (error: unknown) => {
        assert.ok(error instanceof UnreadableFileError, `expected UnreadableFileError, got ${String(error)}`);
        assert.match(error.reason, reason);
        return true;
    });
}
