/**
 * Closes the files this process inherited from its parent. LMDB opens a store's data file without
 * FD_CLOEXEC (on purpose: `mdb_env_get_fd` is for closing it after a fork), so every process the
 * server starts holds each store that was open at the time. A parser process lives as long as the
 * server: it would keep a deleted knowledge base's disk space in use, and its file system busy.
 *
 * Imported first by the parser's entry, before it opens any file of its own. Linux only (where
 * /proc/self/fd lists the descriptors); elsewhere it does nothing.
 */
import fs from "node:fs";

function inheritedFiles(): number[] {
    let entries: string[];
    try {
        entries = fs.readdirSync("/proc/self/fd");
    } catch {
        return [];
    }
    return entries.map(Number).filter((fd) => {
        if (!(fd > 2)) return false;
        try {
            return fs.fstatSync(fd).isFile();
        } catch {
            return false; // the descriptor readdir itself used, closed since
        }
    });
}

for (const fd of inheritedFiles()) fs.closeSync(fd);
