import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import { isDiskFull, KnowledgeBaseBusyError, KnowledgeBaseLockLostError } from "../errors.js";
import { writeFileAtomic } from "./durableFiles.js";

/** How long a lock left by a killed process blocks the next writer. */
const STALE_MS = 5_000;
const RETRY_INTERVAL_MS = 250;
const LOCK_DIR = "write.lock";
/** Beside the lock: a token naming the holder, so a writer can tell that its lock was taken over. */
const OWNER_FILE = "write.lock.owner";

export interface WriteLock {
    /**
     * Throws `KnowledgeBaseLockLostError` unless this process still holds the lock: the lock's
     * heartbeat never failed and no other writer has taken it over since. Called right before a
     * commit's atomic switch, so a writer that lost its lock never commits.
     */
    assertHeld(): Promise<void>;
    /** Releases the lock; releasing twice, or a lock already lost, is a no-op. */
    release(): Promise<void>;
    /** Set when the lock's heartbeat failed (its folder touched by someone else, or the disk failing). */
    readonly compromised: Error | undefined;
}

/**
 * Takes the one-writer lock of a knowledge-base folder. A lock whose holder died (kill -9) goes
 * stale after a few seconds and is taken over; a live holder makes this wait `waitMs`, then fail.
 *
 * The lock is proper-lockfile's folder with an mtime heartbeat. A heartbeat can still be missed —
 * a process frozen for longer than the stale time, a clock jump — so the holder's token is also
 * written beside the lock, and `assertHeld()` checks it.
 */
export async function acquireWriteLock(kbDir: string, kbName: string, waitMs: number): Promise<WriteLock> {
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
        release = await lockfile.lock(kbDir, {
            lockfilePath: path.join(kbDir, LOCK_DIR),
            stale: STALE_MS,
            update: STALE_MS / 5,
            realpath: false,
            retries: { retries: Math.ceil(waitMs / RETRY_INTERVAL_MS), factor: 1, minTimeout: RETRY_INTERVAL_MS, maxTimeout: RETRY_INTERVAL_MS },
            onCompromised: (error) => {
                compromised = error;
            },
        });
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ELOCKED") throw new KnowledgeBaseBusyError(kbName, { cause: error });
        throw error;
    }
    const ownerFile = path.join(kbDir, OWNER_FILE);
    let token: string | undefined = `${process.pid} ${randomUUID()}`;
    try {
        await writeFileAtomic(ownerFile, token);
    } catch (error) {
        if (!isDiskFull(error)) {
            await release().catch(() => undefined);
            throw error;
        }
        // A full disk has no room for the token: the lock still holds (proper-lockfile's folder),
        // and a takeover is still caught at commit by the committed generation, so a person can
        // delete documents to make room.
        token = undefined;
    }
    let released = false;

    const currentOwner = () => fs.readFile(ownerFile, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return "";
        throw error;
    });

    return {
        async assertHeld() {
            if (released) throw new KnowledgeBaseLockLostError(kbName, "it was already released");
            if (compromised != null) throw new KnowledgeBaseLockLostError(kbName, compromised.message);
            if (token != null && await currentOwner() !== token) throw new KnowledgeBaseLockLostError(kbName, "another writer took it over");
        },
        async release() {
            if (released) return;
            released = true;
            if (compromised != null) return; // proper-lockfile has already let go of it.
            if (token == null) {
                await release();
            } else if (await currentOwner() === token) {
                await fs.rm(ownerFile, { force: true });
                await release();
            } else {
                await abandon(kbDir);
            }
        },
        get compromised() {
            return compromised;
        },
    };
}

/** A no-op `rmdir` for proper-lockfile: the folder it would remove belongs to the writer that took the lock over. */
const keepFolder = { rmdir: (_path: string, callback: (error: null) => void) => callback(null) };

/** Stops the heartbeat of a lock that another writer has taken over, leaving the lock folder to it. */
async function abandon(kbDir: string): Promise<void> {
    await lockfile.unlock(kbDir, { lockfilePath: path.join(kbDir, LOCK_DIR), realpath: false, fs: keepFolder }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOTACQUIRED") throw error;
    });
}
