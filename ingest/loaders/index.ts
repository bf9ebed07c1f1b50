import path from "node:path";
import { UnreadableFileError } from "../../src/errors.js";
import { loadCsv } from "./csv.js";
import { loadDocx } from "./docx.js";
import { loadHtml } from "./html.js";
import { loadMarkdown } from "./markdown.js";
import { loadPdf } from "./pdf.js";
import { loadText } from "./text.js";
import type { Loader } from "./types.js";
import { loadXlsx } from "./xlsx.js";

/** A file with no bytes, or with no text once read, is reported as empty whatever its format. */
function rejectingEmpty(load: Loader): Loader {
    return async (bytes, fileName, limits) => {
        if (bytes.length > 0) {
            const loaded = await load(bytes, fileName, limits);
            if (loaded.sections.some((section) => section.text.trim() !== "")) {
                return loaded;
            }
        }
        throw new UnreadableFileError("The file is empty.");
    };
}

const loaders: ReadonlyMap<string, Loader> = new Map(
    Object.entries({
        ".txt": loadText,
        ".text": loadText,
        ".md": loadMarkdown,
        ".markdown": loadMarkdown,
        ".pdf": loadPdf,
        ".docx": loadDocx,
        ".html": loadHtml,
        ".htm": loadHtml,
        ".xhtml": loadHtml,
        ".csv": loadCsv,
        ".tsv": loadCsv,
        ".xlsx": loadXlsx,
    }).map(([extension, load]) => [extension, rejectingEmpty(load)]),
);

/** File extensions (lower-case, with the dot) that have a loader. */
export const supportedExtensions: readonly string[] = [...loaders.keys()];

/** The loader for a file, chosen by its extension (case-insensitive); undefined when none reads it. */
export function loaderFor(fileName: string): Loader | undefined {
    return loaders.get(path.extname(fileName).toLowerCase());
}
