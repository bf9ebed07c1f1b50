import path from "node:path";
import { HttpError } from "./httpErrors.js";

const MAX_NAME_LENGTH = 200;

/**
 * The name an uploaded file is stored and shown under: its last path segment (either slash),
 * without control characters, at most 200 characters with its extension kept. It only names a
 * document; no file is ever written under it.
 */
export function safeFileName(original: string): string {
    const lastSegment = original.split(/[/\\]/).pop() ?? "";
    // eslint-disable-next-line no-control-regex
    let name = lastSegment.replace(/[\u0000-\u001f\u007f]/g, "").normalize("NFC").trim();
    if ([...name].length > MAX_NAME_LENGTH) {
        const extension = path.extname(name).slice(0, 16);
        name = [...name].slice(0, MAX_NAME_LENGTH - [...extension].length).join("") + extension;
    }
    if (name === "" || name === "." || name === "..") throw new HttpError("invalid_file_name", `The file name "${original}" names no file.`);
    return name;
}
