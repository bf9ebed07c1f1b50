import fs from "node:fs/promises";

/** hnswlib 0.8's header: six size_t, an int, an unsigned int, three size_t, a double, a size_t. */
const HEADER_BYTES = 96;
const ELEMENT_COUNT_AT = 16;
const BYTES_PER_ELEMENT_AT = 24;

/**
 * Throws unless `file` is an hnswlib index written to its end. hnswlib's `saveIndex` does not check
 * its writes: on a full disk it leaves a truncated file and reports success. The file's length is
 * fixed by its content — the header, the level-0 block (`count × bytesPerElement`), then for each
 * element a 4-byte length and its upper-level links — so walking the lengths tells a whole file
 * from a cut one without loading the graph.
 */
export async function assertCompleteIndexFile(file: string): Promise<void> {
    const handle = await fs.open(file, "r");
    try {
        const { size } = await handle.stat();
        const incomplete = () => new IncompleteIndexFileError(file, size);
        if (size < HEADER_BYTES) throw incomplete();
        const header = Buffer.alloc(HEADER_BYTES);
        await handle.read(header, 0, HEADER_BYTES, 0);
        const count = Number(header.readBigUInt64LE(ELEMENT_COUNT_AT));
        const linksStart = HEADER_BYTES + count * Number(header.readBigUInt64LE(BYTES_PER_ELEMENT_AT));
        if (linksStart + 4 * count > size) throw incomplete();
        // The upper-level links are a small part of the file (one element in M has any): read them whole.
        const links = Buffer.alloc(size - linksStart);
        await handle.read(links, 0, links.length, linksStart);
        let offset = 0;
        for (let i = 0; i < count; i++) {
            if (offset + 4 > links.length) throw incomplete();
            offset += 4 + links.readUInt32LE(offset);
        }
        if (offset !== links.length) throw incomplete();
    } finally {
        await handle.close();
    }
}

/** An index file cut short; `code` is ENOSPC because a full disk is what cuts hnswlib's writes. */
export class IncompleteIndexFileError extends Error {
    public readonly code = "ENOSPC";

    public constructor(file: string, size: number) {
        super(`The vector index ${file} was written incompletely (${size} bytes): the disk is probably full.`);
    }
}
