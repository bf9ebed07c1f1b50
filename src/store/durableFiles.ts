import fs from "node:fs/promises";
import path from "node:path";

/** Flushes a file's (or folder's) contents to the disk, so that a crash after this returns cannot lose them. */
export async function fsyncPath(filePath: string): Promise<void> {
    const handle = await fs.open(filePath, "r");
    try {
        await handle.sync();
    } finally {
        await handle.close();
    }
}

/** Writes a file and flushes it to the disk (but not its folder's entry: see `writeFileAtomic`). `mode` applies to a new file (default 0o666 less the umask). */
export async function writeFileDurable(filePath: string, data: string | Uint8Array, mode?: number): Promise<void> {
    const handle = await fs.open(filePath, "w", mode);
    try {
        await handle.writeFile(data);
        await handle.sync();
    } finally {
        await handle.close();
    }
}

/** The bytes an unprivileged process may still write on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
    const { bavail, bsize } = await fs.statfs(dir);
    return bavail * bsize;
}

/** The name a file is written under before it is renamed into place: `temporaryFilePattern` matches it. */
export function temporaryPathOf(filePath: string): string {
    return `${filePath}.${process.pid}.tmp`;
}

export const temporaryFilePattern = /\.\d+\.tmp$/;

/** Writes a file that is either entirely the new content or not there at all, even across a crash. */
export async function writeFileAtomic(filePath: string, data: string | Uint8Array, mode?: number): Promise<void> {
    const temporary = temporaryPathOf(filePath);
    if (mode != null) await fs.rm(temporary, { force: true }); // a leftover would keep its own mode
    try {
        await writeFileDurable(temporary, data, mode);
    } catch (error) {
        await fs.rm(temporary, { force: true });
        throw error;
    }
    await fs.rename(temporary, filePath);
    await fsyncPath(path.dirname(filePath));
}
