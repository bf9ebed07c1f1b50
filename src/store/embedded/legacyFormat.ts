import fs from "node:fs/promises";
import path from "node:path";
import hnswlib from "hnswlib-node";
import { CorruptKnowledgeBaseError } from "../../errors.js";
import { termCounts } from "../../retrieval/bm25.js";
import { tokenize } from "../../retrieval/tokenize.js";
import { checksumOfData, checksumOfFile, sameChecksum, type GenerationChecksums } from "../generationChecksums.js";
import { assertCompleteIndexFile } from "../hnswIndexFile.js";
import type { ChunkRecord, DocumentRecord } from "../records.js";
import { writeFileAtomic } from "../durableFiles.js";
import type { DocumentChange } from "../pendingChanges.js";
import type { LmdbStore } from "./lmdbStore.js";

/*
 * The format of Yizhi 0.1: each commit wrote a whole generation (`index-N.hnsw`, `records-N.json`,
 * `lexical-N.json`, `checksums-N.json`) and pointed `CURRENT` at it. Such a knowledge base is
 * migrated to the store the first time it is opened; a damaged one is rolled back to its last whole
 * generation first, by `kb repair`.
 */

const CURRENT = "CURRENT";
const indexFile = (generation: number) => `index-${generation}.hnsw`;
const recordsFile = (generation: number) => `records-${generation}.json`;
const checksumsFile = (generation: number) => `checksums-${generation}.json`;
const generationFile = /^(?:index|records|lexical|checksums)-(\d+)\.(?:hnsw|json)$/;

interface LegacyRecords {
    labelsIssued: number;
    documents: DocumentRecord[];
    chunks: ChunkRecord[];
}

/** Whether `dir` holds a knowledge base in the old format (its generation files, with `CURRENT`). */
export async function isLegacy(dir: string): Promise<boolean> {
    return fs.access(path.join(dir, CURRENT)).then(() => true, () => false);
}

/**
 * Copies the current generation into the empty `store` in one commit, vectors as they were (no
 * re-embedding) and the graph file kept as the first checkpoint, then deletes the generation
 * files. A crash before the commit leaves the old format to migrate again; after it, what is left
 * of the old files is only deleted. Only the lock holder calls this.
 */
export async function migrateLegacy(kb: string, dir: string, store: LmdbStore, dimension: number): Promise<void> {
    if (!store.initialized) {
        const generation = await readCurrentGeneration(kb, dir);
        if (generation > 0) {
            const checksums = await readChecksums(kb, dir, generation);
            await verifyFiles(kb, dir, checksums, [indexFile(generation)]);
            const records = await readRecords(kb, dir, generation, checksums);
            const graphFile = path.join(dir, indexFile(generation));
            const graph = new hnswlib.HierarchicalNSW("cosine", dimension);
            await graph.readIndex(graphFile, true).catch((error: unknown) => {
                throw damaged(kb, indexFile(generation), "cannot be read", error);
            });
            const chunksOf = new Map<string, ChunkRecord[]>();
            for (const chunk of records.chunks) {
                let list = chunksOf.get(chunk.documentId);
                if (list == null) chunksOf.set(chunk.documentId, list = []);
                list.push(chunk);
            }
            const changes = new Map<string, DocumentChange>();
            for (const document of records.documents) {
                changes.set(document.id, {
                    kind: "put",
                    record: document,
                    chunks: (chunksOf.get(document.id) ?? []).map((chunk) => ({ chunk, vector: graph.getPoint(chunk.label), ...termCounts(tokenize(chunk.text)) })),
                });
            }
            // The old graph is the first checkpoint: linked under its new name before the commit names it.
            const checkpointFile = "graph-1.hnsw";
            await fs.rm(path.join(dir, checkpointFile), { force: true });
            await fs.link(graphFile, path.join(dir, checkpointFile));
            const { size } = await fs.stat(graphFile);
            store.commit(kb, 0, records.labelsIssued, changes);
            store.recordCheckpoint(kb, { file: checkpointFile, bytes: size, version: 1, labelsIssued: records.labelsIssued, chunks: records.chunks.length });
        }
    }
    await fs.rm(path.join(dir, CURRENT), { force: true });
    for (const entry of await fs.readdir(dir)) if (generationFile.test(entry)) await fs.rm(path.join(dir, entry), { force: true });
}

/** The documents and chunks of the current generation, and its number, without opening its graph. */
export async function legacyCounts(kb: string, dir: string): Promise<{ documents: number; chunks: number; generation: number }> {
    const generation = await readCurrentGeneration(kb, dir);
    if (generation === 0) return { documents: 0, chunks: 0, generation };
    const { documents, chunks } = await readRecords(kb, dir, generation, await readChecksums(kb, dir, generation));
    return { documents: documents.length, chunks: chunks.length, generation };
}

/**
 * Points `CURRENT` back at the newest generation whose files are whole (their checksums match, the
 * records are consistent, the index is complete). Returns what it did, or nothing when the current
 * generation was whole. Only the lock holder calls this.
 */
export async function repairLegacy(kb: string, dir: string): Promise<string | undefined> {
    const current = await readCurrentGeneration(kb, dir).catch((error: unknown) => {
        if (error instanceof CorruptKnowledgeBaseError) return undefined;
        throw error;
    });
    if (current === 0) return undefined;
    const present = new Set<number>();
    for (const entry of await fs.readdir(dir)) {
        const match = generationFile.exec(entry);
        if (match != null) present.add(Number(match[1]));
    }
    const candidates = [...present].filter((generation) => current == null || generation <= current).sort((a, b) => b - a);
    for (const generation of candidates) {
        if (!await isWhole(kb, dir, generation)) continue;
        if (generation === current) return undefined;
        await writeFileAtomic(path.join(dir, CURRENT), `${generation}\n`);
        return `rolled back from generation ${current ?? "(unreadable)"} to generation ${generation}, its last whole commit`;
    }
    throw new CorruptKnowledgeBaseError(kb, "no commit of it is whole, so there is none to go back to. Delete it and ingest its documents again.");
}

async function readCurrentGeneration(kb: string, dir: string): Promise<number> {
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, CURRENT), "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
        throw error;
    }
    const generation = Number(text.trim());
    if (!Number.isInteger(generation) || generation < 1) throw new CorruptKnowledgeBaseError(kb, `${CURRENT} holds "${text.trim()}". Run: yizhi kb repair ${kb}`);
    return generation;
}

/** The checksums committed with a generation; undefined for one written before checksums were. */
async function readChecksums(kb: string, dir: string, generation: number): Promise<GenerationChecksums | undefined> {
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, checksumsFile(generation)), "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw damaged(kb, checksumsFile(generation), "cannot be read", error);
    }
    try {
        return JSON.parse(text) as GenerationChecksums;
    } catch (error) {
        throw damaged(kb, checksumsFile(generation), "is not valid JSON", error);
    }
}

/** Throws, naming the file, unless each of `files` matches its committed checksum. */
async function verifyFiles(kb: string, dir: string, checksums: GenerationChecksums | undefined, files: readonly string[]): Promise<void> {
    if (checksums == null) return;
    for (const file of files) {
        const expected = checksums[file];
        if (expected == null) throw damaged(kb, file, "has no checksum");
        const actual = await checksumOfFile(path.join(dir, file)).catch((error: unknown) => {
            throw damaged(kb, file, "cannot be read", error);
        });
        if (!sameChecksum(actual, expected)) throw damaged(kb, file, "does not match its checksum");
    }
}

async function readRecords(kb: string, dir: string, generation: number, checksums: GenerationChecksums | undefined): Promise<LegacyRecords> {
    const file = recordsFile(generation);
    let text: string;
    try {
        text = await fs.readFile(path.join(dir, file), "utf8");
    } catch (error) {
        throw damaged(kb, file, "cannot be read", error);
    }
    const expected = checksums?.[file];
    if (checksums != null && (expected == null || !sameChecksum(checksumOfData(text), expected))) throw damaged(kb, file, "does not match its checksum");
    let records: LegacyRecords;
    try {
        records = JSON.parse(text) as LegacyRecords;
    } catch (error) {
        throw damaged(kb, file, "is not valid JSON", error);
    }
    const labels = records.documents?.reduce((sum, document) => sum + document.labels.length, 0);
    if (!Array.isArray(records.chunks) || labels !== records.chunks.length) {
        throw damaged(kb, file, `lists ${labels ?? "no"} chunks in its documents but holds ${Array.isArray(records.chunks) ? records.chunks.length : "no"}`);
    }
    return records;
}

function damaged(kb: string, file: string, problem: string, cause?: unknown): CorruptKnowledgeBaseError {
    return new CorruptKnowledgeBaseError(kb, `its file ${file} ${problem}. Run: yizhi kb repair ${kb}`, { file, ...(cause != null ? { cause } : {}) });
}

/** Whether a generation's files are all there and whole: what `repairLegacy` may go back to. */
async function isWhole(kb: string, dir: string, generation: number): Promise<boolean> {
    try {
        const checksums = await readChecksums(kb, dir, generation);
        await verifyFiles(kb, dir, checksums, [indexFile(generation)]);
        await readRecords(kb, dir, generation, checksums);
        await assertCompleteIndexFile(path.join(dir, indexFile(generation)));
        return true;
    } catch {
        return false;
    }
}
