import fs from "node:fs/promises";
import path from "node:path";
import { KnowledgeBaseNameError, KnowledgeBaseNotFoundError } from "../errors.js";
import type { HnswParams } from "./hnswVectorStore.js";
import { KnowledgeBase, type KnowledgeBaseManifest, type OpenKnowledgeBaseOptions } from "./knowledgeBase.js";
import { acquireWriteLock } from "./writeLock.js";

/**
 * A knowledge-base name: letters (any script, so Chinese names work), digits, `_`, `-` and `.`,
 * starting with a letter or digit, at most 64 characters. Names are folder names, so nothing that
 * could climb out of the data directory or hide a file (`..`, `/`, NUL) can pass.
 */
const kbNamePattern = /^[\p{L}\p{N}][\p{L}\p{N}_.-]{0,63}$/u;

export function validateKbName(name: string): string {
    if (!kbNamePattern.test(name)) {
        throw new KnowledgeBaseNameError(
            `"${name}" is not a valid knowledge-base name: use 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
        );
    }
    return name;
}

export interface KnowledgeBaseSummary {
    name: string;
    createdAt: string;
    embedder: string;
    documents: number;
    chunks: number;
    /** Why the knowledge base cannot be opened, when it cannot; the others are listed all the same. */
    problem?: string;
}

interface Counts {
    documents: number;
    chunks: number;
}

/** The knowledge bases under the data directory: one folder each. */
export class KnowledgeBases {
    // Counting means reading a whole records file; its counts change only with a new generation.
    private readonly countsByDir = new Map<string, { generation: number; counts: Counts }>();

    public constructor(public readonly dataDir: string, private readonly hnsw: HnswParams) {}

    /** The folder of a knowledge base, always inside the data directory. */
    public dirOf(name: string): string {
        const dir = path.resolve(this.dataDir, validateKbName(name));
        if (path.dirname(dir) !== path.resolve(this.dataDir)) throw new KnowledgeBaseNameError(`"${name}" is not a valid knowledge-base name.`);
        return dir;
    }

    public async exists(name: string): Promise<boolean> {
        return fileExists(path.join(this.dirOf(name), "kb.json"));
    }

    /** Throws `KnowledgeBaseNotFoundError`, naming the data directory and the knowledge bases in it, unless `name` exists. */
    public async assertExists(name: string): Promise<void> {
        if (await this.exists(name)) return;
        const existing = (await this.list()).map((summary) => summary.name);
        throw new KnowledgeBaseNotFoundError(name, { dataDir: this.dataDir, existing });
    }

    public async list(): Promise<KnowledgeBaseSummary[]> {
        let entries: string[];
        try {
            entries = await fs.readdir(this.dataDir);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
            throw error;
        }
        const summaries: KnowledgeBaseSummary[] = [];
        for (const entry of entries.sort()) {
            if (!kbNamePattern.test(entry)) continue;
            const dir = path.join(this.dataDir, entry);
            let manifest: KnowledgeBaseManifest;
            try {
                manifest = JSON.parse(await fs.readFile(path.join(dir, "kb.json"), "utf8")) as KnowledgeBaseManifest;
            } catch (error) {
                // A folder without kb.json is not a knowledge base; one whose kb.json is damaged is, and is listed so.
                const code = (error as NodeJS.ErrnoException).code;
                if (code === "ENOENT" || code === "ENOTDIR") continue;
                summaries.push({ name: entry, createdAt: "", embedder: "", documents: 0, chunks: 0, problem: `Its kb.json cannot be read: ${(error as Error).message}` });
                continue;
            }
            const summary = { name: entry, createdAt: manifest.createdAt, embedder: manifest.embedder?.id ?? "" };
            try {
                summaries.push({ ...summary, ...await this.countsOf(entry, dir) });
            } catch (error) {
                summaries.push({ ...summary, documents: 0, chunks: 0, problem: (error as Error).message });
            }
        }
        return summaries;
    }

    private async countsOf(name: string, dir: string): Promise<Counts> {
        const generation = await KnowledgeBase.currentGeneration(name, dir);
        const cached = this.countsByDir.get(dir);
        if (cached?.generation === generation) return cached.counts;
        const { documents, chunks } = await KnowledgeBase.readCommitted(name, dir);
        const counts = { documents: documents.length, chunks: chunks.length };
        this.countsByDir.set(dir, { generation, counts });
        return counts;
    }

    /** Opens an existing knowledge base for reading. */
    public async openForRead(name: string, options: Omit<OpenKnowledgeBaseOptions, "mode" | "hnsw">): Promise<KnowledgeBase> {
        await this.assertExists(name);
        return KnowledgeBase.open(name, this.dirOf(name), { ...options, hnsw: this.hnsw, mode: "read" });
    }

    /** Opens a knowledge base for writing, creating it if `create` is set and it does not exist. */
    public async openForWrite(name: string, options: Omit<OpenKnowledgeBaseOptions, "mode" | "hnsw"> & { create: boolean }): Promise<KnowledgeBase> {
        if (!options.create) await this.assertExists(name);
        return KnowledgeBase.open(name, this.dirOf(name), { ...options, hnsw: this.hnsw, mode: "write" });
    }

    /** Rolls a damaged knowledge base back to its last whole commit (see `KnowledgeBase.repair`). */
    public async repair(name: string, lockWaitMs = 10_000): Promise<{ from: number | undefined; to: number }> {
        await this.assertExists(name);
        return KnowledgeBase.repair(name, this.dirOf(name), lockWaitMs);
    }

    /** Deletes a knowledge base and everything in it, once no other process is writing to it. */
    public async delete(name: string, lockWaitMs = 10_000): Promise<void> {
        await this.assertExists(name);
        const dir = this.dirOf(name);
        const lock = await acquireWriteLock(dir, name, lockWaitMs);
        // Renaming first makes the deletion atomic for readers: the name is gone at once.
        const doomed = path.join(this.dataDir, `.deleting-${name}-${process.pid}`);
        await fs.rename(dir, doomed);
        await lock.release().catch(() => undefined);
        await fs.rm(doomed, { recursive: true, force: true });
    }
}

async function fileExists(file: string): Promise<boolean> {
    try {
        await fs.access(file);
        return true;
    } catch {
        return false;
    }
}
