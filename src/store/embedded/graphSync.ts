import fs from "node:fs/promises";
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { CorruptKnowledgeBaseError } from "../../errors.js";
import { assertCompleteIndexFile, IncompleteIndexFileError } from "../hnswIndexFile.js";
import { fsyncPath, temporaryPathOf } from "../durableFiles.js";
import { VectorGraph, type HnswParams } from "../vectorGraph.js";
import type { LmdbStore } from "./lmdbStore.js";

/** Points added between yields to the event loop while replaying, so a server stays responsive. */
const REPLAY_SLICE = 256;

export const graphFilePattern = /^graph-(\d+)\.hnsw$/;

/**
 * The HNSW graph of a knowledge base's vectors, kept in step with its store. The graph is saved
 * only now and then (a checkpoint); opening loads the last checkpoint and replays what the
 * commits since then added and removed, and so does every catch-up with later commits.
 */
export class SyncedGraph {
    private catchingUp: Promise<void> | undefined;

    private constructor(
        private readonly store: LmdbStore,
        private graph: VectorGraph,
        /** The store's version the graph reflects, and the labels issued then. */
        private version: number,
        private labelsIssued: number,
        private readonly options: { kb: string; dir: string; dimension: number; hnsw: HnswParams },
    ) {}

    public static async open(store: LmdbStore, options: SyncedGraph["options"]): Promise<SyncedGraph> {
        const synced = new SyncedGraph(store, VectorGraph.create(options.dimension, options.hnsw), 0, 0, options);
        await synced.reload();
        return synced;
    }

    /** The graph as of the last commit. */
    public async current(): Promise<VectorGraph> {
        this.catchingUp ??= this.catchUp().finally(() => {
            this.catchingUp = undefined;
        });
        await this.catchingUp;
        return this.graph;
    }

    /** The version the graph reflects now. */
    public get syncedVersion(): number {
        return this.version;
    }

    /** Saves the graph of the current version beside the store; returns its file name and size. */
    public async save(): Promise<{ file: string; bytes: number; version: number; labelsIssued: number; chunks: number }> {
        const graph = await this.current();
        const file = `graph-${this.version}.hnsw`;
        const target = path.join(this.options.dir, file);
        const temporary = temporaryPathOf(target);
        try {
            await graph.save(temporary);
            await fsyncPath(temporary);
            await fs.rename(temporary, target);
            await fsyncPath(this.options.dir);
        } catch (error) {
            await fs.rm(temporary, { force: true });
            throw error;
        }
        const { size } = await fs.stat(target);
        return { file, bytes: size, version: this.version, labelsIssued: this.labelsIssued, chunks: graph.size };
    }

    private async catchUp(): Promise<void> {
        const state = this.store.state();
        if (state.version === this.version) return;
        if (this.version + 1 < state.logStart) {
            await this.reload();
            return;
        }
        await this.replay(this.version, this.labelsIssued);
    }

    /** Loads the last checkpoint and replays the commits after it. */
    private async reload(): Promise<void> {
        for (let attempt = 0; ; attempt++) {
            const { checkpoint } = this.store.state();
            if (checkpoint == null) {
                this.graph = VectorGraph.create(this.options.dimension, this.options.hnsw);
                await this.replay(0, 0);
                return;
            }
            const file = path.join(this.options.dir, checkpoint.file);
            try {
                await assertSavedGraph(file, checkpoint.bytes);
                this.graph = await VectorGraph.load(file, this.options.dimension, this.options.hnsw, checkpoint.chunks);
            } catch (error) {
                const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
                // A compaction may have replaced the checkpoint since the state was read: read it again.
                if (missing && attempt < 3) continue;
                // Named by its file only: messages may reach API clients, which have no business knowing server folders.
                const problem = missing ? "is missing" : error instanceof IncompleteIndexFileError ? "is cut short" : error instanceof GraphSizeError ? error.message : "cannot be read";
                throw new CorruptKnowledgeBaseError(this.options.kb, `its vector graph ${checkpoint.file} ${problem}. Run: yizhi kb repair ${this.options.kb}`, {
                    file: checkpoint.file, cause: error,
                });
            }
            this.version = checkpoint.version;
            this.labelsIssued = checkpoint.labelsIssued;
            await this.replay(checkpoint.version, checkpoint.labelsIssued);
            return;
        }
    }

    /** Applies the commits after `fromVersion` (when `fromLabels` labels had been issued) up to the current one. */
    private async replay(fromVersion: number, fromLabels: number): Promise<void> {
        const state = this.store.state();
        for (const label of this.store.removedSince(fromVersion, state.version)) if (label < fromLabels) this.graph.delete(label);
        for (let next = fromLabels; ;) {
            // Read slice by slice, each at once: a read transaction does not outlive an event-loop turn.
            const slice = this.store.vectorsBetween(next, state.labelsIssued, REPLAY_SLICE);
            for (const [label, vector] of slice) this.graph.add(label, vector);
            if (slice.length < REPLAY_SLICE) break;
            next = slice.at(-1)![0] + 1;
            await yieldToEventLoop();
        }
        this.version = state.version;
        this.labelsIssued = state.labelsIssued;
    }
}

/** A saved graph of another size than it was recorded with. */
class GraphSizeError extends Error {
    public constructor(size: number, bytes: number) {
        super(`holds ${size} bytes, not the ${bytes} it was saved with`);
    }
}

/** Throws unless a saved graph has the size it was recorded with and is whole. */
export async function assertSavedGraph(file: string, bytes: number): Promise<void> {
    const { size } = await fs.stat(file);
    if (size !== bytes) throw new GraphSizeError(size, bytes);
    await assertCompleteIndexFile(file);
}
