import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** A file's size and SHA-256, as recorded when its generation was committed. */
export interface FileChecksum {
    bytes: number;
    sha256: string;
}

/** The checksums of a generation's files, by file name. */
export type GenerationChecksums = Record<string, FileChecksum>;

export function checksumOfData(data: string | Uint8Array): FileChecksum {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    return { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** The checksum of a file, read as a stream (an index can be larger than memory should hold twice). */
export async function checksumOfFile(file: string): Promise<FileChecksum> {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of createReadStream(file)) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
    }
    return { bytes, sha256: hash.digest("hex") };
}

export function sameChecksum(a: FileChecksum, b: FileChecksum): boolean {
    return a.bytes === b.bytes && a.sha256 === b.sha256;
}
