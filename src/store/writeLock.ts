import path from "node:path";
import lockfile from "proper-lockfile";
import { KnowledgeBaseBusyError } from "../errors.js";

/** How long a lock left by a killed process blocks the next writer. */
const STALE_MS = 5_000;
const RETRY_INTERVAL_MS = 250;

export interface WriteLock {
    release(): Promise<void>;
    /** Set when the lock was lost (its file touched by someone else, or the disk failing). */
    readonly compromised: Error | undefined;
}

/**
 * Takes the one-writer lock of a knowledge-base folder. A lock whose holder died (kill -9) goes
 * stale after a few seconds and is taken over; a live holder makes this wait `waitMs`, then fail.
 */
export async function acquireWriteLock(kbDir: string, kbName: string, waitMs: number): Promise<WriteLock> {
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
        release = await lockfile.lock(kbDir, {
            lockfilePath: path.join(kbDir, "write.lock"),
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
    return {
        release: () => release(),
        get compromised() {
            return compromised;
        },
    };
}
