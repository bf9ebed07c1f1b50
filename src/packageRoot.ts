import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The folder holding Yizhi's package.json, whether running from `src/` (tsx) or `dist/`. */
function findPackageRoot(): string {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    while (!fs.existsSync(path.join(dir, "package.json"))) {
        const parent = path.dirname(dir);
        if (parent === dir) throw new Error("Cannot find Yizhi's package.json above " + fileURLToPath(import.meta.url));
        dir = parent;
    }
    return dir;
}

export const packageRoot = findPackageRoot();

/** Yizhi's version, from its package.json. */
export const packageVersion = (JSON.parse(fs.readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
