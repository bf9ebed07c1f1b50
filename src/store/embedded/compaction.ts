import fs from "node:fs/promises";
import path from "node:path";
import { temporaryFilePattern } from "../durableFiles.js";
import type { WriteLock } from "../writeLock.js";
import { graphFilePattern, SyncedGraph } from "./graphSync.js";
import type { LmdbStore, StoreState } from "./lmdbStore.js";
import type { EmbeddedOptions } from "./embeddedKnowledgeBase.js";

/** Below this many changed chunks, replaying them at open costs less than saving the graph. */
const MIN_CHANGES = 1_000;
/** Above this share of the chunks changed, the graph is saved whatever their number. */
const MAX_SHARE = 0.25;

/**
 * Whether saving the vector graph pays: when opening would replay many chunks, or more than a
 * quarter of the knowledge base. Saving writes the whole graph, so doing it at every commit would
 * make each commit cost the size of the knowledge base; this keeps it to a bounded multiple of the
 * bytes the commits themselves wrote.
 */
export function compactionIsWorthwhile(state: StoreState): boolean {
    if (state.sinceCheckpoint === 0) return false;
    return state.sinceCheckpoint >= MIN_CHANGES || state.sinceCheckpoint >= MAX_SHARE * state.chunks;
}

/**
 * Merges the postings blocks commits left small, then saves the graph of the last commit as the
 * checkpoint that readers open from, and deletes the graphs before it and any temporary file a
 * crash left. The writer's lock must be held: a crash at any moment leaves either the old
 * checkpoint or the new one recorded, each whole, and postings merged or not, never half.
 */
export async function compactGraph(store: LmdbStore, lock: WriteLock, options: EmbeddedOptions): Promise<StoreState> {
    await lock.assertHeld();
    await store.mergePostings();
    const synced = await SyncedGraph.open(store, options);
    const checkpoint = await synced.save();
    let state: StoreState;
    try {
        await lock.assertHeld();
        state = store.recordCheckpoint(options.kb, checkpoint);
    } catch (error) {
        await fs.rm(path.join(options.dir, checkpoint.file), { force: true });
        throw error;
    }
    await removeUnusedGraphs(options.dir, checkpoint.file);
    return state;
}

/** Deletes saved graphs other than `keep`, and temporary files. Only the lock holder calls this. */
export async function removeUnusedGraphs(dir: string, keep: string | undefined): Promise<void> {
    for (const entry of await fs.readdir(dir)) {
        if ((graphFilePattern.test(entry) && entry !== keep) || temporaryFilePattern.test(entry)) await fs.rm(path.join(dir, entry), { force: true });
    }
}
