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

/** Writes a file that is either entirely the new content or not there at all, even across a crash. */
export async function writeFileAtomic(filePath: string, data: string | Uint8Array): Promise<void> {
    const temporary = `${filePath}.${process.pid}.tmp`;
    const handle = await fs.open(temporary, "w");
    try {
        await handle.writeFile(data);
        await handle.sync();
    } finally {
        await handle.close();
    }
    await fs.rename(temporary, filePath);
    await fsyncPath(path.dirname(filePath));
}
