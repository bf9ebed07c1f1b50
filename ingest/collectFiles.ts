import fs from "node:fs/promises";
import path from "node:path";

export interface CollectedFiles {
    /** Absolute paths of the files found, in a stable order. */
    files: string[];
    /**
     * The name to show for each file, which gives away no server folder: its path below the folder
     * that was given (starting with that folder's own name), or its file name when it was given itself.
     */
    displayNames: Map<string, string>;
    /** Each file's size in bytes when it was found: what progress is measured in. */
    sizes: Map<string, number>;
    /** Given paths that do not exist or cannot be read, with the reason. */
    missing: { path: string; reason: string }[];
}

/**
 * Expands files and folders (recursively) into absolute file paths. Hidden entries (dot-files such
 * as .git or .DS_Store) inside folders are skipped; a folder reached twice through links is read once.
 */
export async function collectFiles(paths: readonly string[]): Promise<CollectedFiles> {
    const files = new Set<string>();
    const displayNames = new Map<string, string>();
    const sizes = new Map<string, number>();
    const missing: CollectedFiles["missing"] = [];
    const visitedDirs = new Set<string>();

    async function walk(dir: string, shownFrom: string): Promise<void> {
        const real = await fs.realpath(dir);
        if (visitedDirs.has(real)) return;
        visitedDirs.add(real);
        const entries = await fs.readdir(dir, { withFileTypes: true });
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const entry of entries) {
            if (entry.name.startsWith(".")) continue;
            const full = path.join(dir, entry.name);
            const stat = await fs.stat(full).catch(() => undefined);
            if (stat?.isDirectory() === true) await walk(full, shownFrom);
            else if (stat?.isFile() === true) add(full, path.relative(shownFrom, full), stat.size);
        }
    }

    function add(file: string, displayName: string, size: number): void {
        if (files.has(file)) return;
        files.add(file);
        sizes.set(file, size);
        displayNames.set(file, displayName.split(path.sep).join("/"));
    }

    for (const given of paths) {
        const full = path.resolve(given);
        const stat = await fs.stat(full).catch((error: NodeJS.ErrnoException) => error);
        if (stat instanceof Error) {
            missing.push({ path: full, reason: stat.code === "ENOENT" ? "No such file or folder." : `Cannot read it: ${stat.message}` });
        } else if (stat.isDirectory()) {
            await walk(full, path.dirname(full));
        } else {
            add(full, path.basename(full), stat.size);
        }
    }
    return { files: [...files], displayNames, sizes, missing };
}
