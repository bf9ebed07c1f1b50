import path from "node:path";
import { UnreadableFileError } from "../../src/errors.js";
import { loadCsv } from "./csv.js";
import { loadDoc } from "./doc.js";
import { loadDocx } from "./docx.js";
import { loadEml } from "./eml.js";
import { loadEpub } from "./epub.js";
import { loadHtml } from "./html.js";
import { loadImage } from "./image.js";
import { loadMarkdown } from "./markdown.js";
import { officeLoader } from "./office.js";
import { loadPdf } from "./pdf.js";
import { loadText } from "./text.js";
import type { Loader } from "./types.js";
import { loadXlsx } from "./xlsx.js";
import { loadZip } from "./zip.js";
import { imageExtensions } from "../ocr/images.js";

/**
 * A file with no bytes, or with neither text nor files inside once read, is reported as empty
 * whatever its format.
 */
function rejectingEmpty(load: Loader): Loader {
    return async (bytes, fileName, limits, context) => {
        if (bytes.length > 0) {
            const loaded = await load(bytes, fileName, limits, context);
            if (loaded.sections.some((section) => section.text.trim() !== "") || (loaded.contained?.length ?? 0) > 0) {
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
        ".doc": loadDoc,
        ".rtf": officeLoader("rtf"),
        ".odt": officeLoader("odt"),
        ".pptx": officeLoader("pptx"),
        ".odp": officeLoader("odp"),
        ".epub": loadEpub,
        ".eml": loadEml,
        ".html": loadHtml,
        ".htm": loadHtml,
        ".xhtml": loadHtml,
        ".csv": loadCsv,
        ".tsv": loadCsv,
        ".xlsx": loadXlsx,
        ".ods": officeLoader("ods"),
        ".zip": loadZip,
        ...Object.fromEntries(Object.keys(imageExtensions).map((extension) => [extension, loadImage])),
    }).map(([extension, load]) => [extension, rejectingEmpty(load)]),
);

/** File extensions (lower-case, with the dot) that have a loader. */
export const supportedExtensions: readonly string[] = [...loaders.keys()];

/** Formats whose files hold other files (an archive, an e-mail with attachments), each read as a document of its own. */
const containers = new Set([".zip", ".eml"]);

/** Whether a file's format may hold other files (see `LoadedFile.contained`). */
export function mayContainFiles(fileName: string): boolean {
    return containers.has(path.extname(fileName).toLowerCase());
}

/** The loader for a file, chosen by its extension (case-insensitive); undefined when none reads it. */
export function loaderFor(fileName: string): Loader | undefined {
    return loaders.get(path.extname(fileName).toLowerCase());
}
