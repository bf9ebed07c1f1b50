import { Unzip, UnzipInflate, UnzipPassThrough } from "fflate";
import { limitExceeded, type ParseLimits } from "../limits.js";
import { UnreadableFileError } from "../../src/errors.js";

const CHUNK_BYTES = 64 * 1024;

/** An archive's entry, inflated: its name as stored, and its bytes. */
export interface ArchiveEntry {
    name: string;
    bytes: Uint8Array;
}

/**
 * Inflates a zip-based document (DOCX, XLSX, PPTX, OpenDocument) as a stream, keeping nothing, and
 * throws when it has too many entries, inflates to too many bytes (a zip bomb: 3 MB that become
 * 3 GiB), or nests its XML too deep. Run before the format's own library, which would hold every
 * inflated byte. Whether the bytes are a valid document at all is left to that library.
 */
export function checkArchive(bytes: Uint8Array, limits: ParseLimits): void {
    const { problem } = inflate(bytes, limits, () => false);
    // Other problems (not a zip, damaged) are left to the format's library, which names the format.
    if (problem instanceof UnreadableFileError) throw problem;
}

/**
 * The entries of a zip archive whose names `keep` accepts, inflated, in the archive's order, under
 * the same limits as `checkArchive` (the count and the bytes of every entry, kept or not). Throws
 * `UnreadableFileError` when the archive is over a limit, is not a zip, or is damaged.
 */
export function readArchive(bytes: Uint8Array, limits: ParseLimits, keep: (name: string) => boolean): ArchiveEntry[] {
    const { entries, problem } = inflate(bytes, limits, keep);
    if (problem instanceof UnreadableFileError) throw problem;
    if (problem != null) throw new UnreadableFileError(`This file is not a valid zip archive, or it is damaged (${problem.message}).`, { cause: problem });
    return entries;
}

/**
 * fflate's streaming `Unzip` reads local headers as the bytes arrive, so a declared size cannot
 * lie its way past the count: the bytes are counted as they are inflated.
 */
function inflate(bytes: Uint8Array, limits: ParseLimits, keep: (name: string) => boolean): { entries: ArchiveEntry[]; problem?: Error } {
    const entries: ArchiveEntry[] = [];
    let count = 0;
    let inflated = 0;
    let problem: Error | undefined;
    const unzip = new Unzip((file) => {
        if (problem != null) return;
        count++;
        if (count > limits.maxArchiveEntries) {
            problem = limitExceeded("maxArchiveEntries", limits, "has more entries in its archive than allowed");
            return;
        }
        const lowerName = file.name.toLowerCase();
        const depth = lowerName.endsWith(".xml") || lowerName.endsWith(".rels") ? new XmlDepth() : undefined;
        const kept: Uint8Array[] | undefined = keep(file.name) ? [] : undefined;
        file.ondata = (error, data, final) => {
            if (problem != null) return;
            if (error != null) {
                problem = error;
                return;
            }
            inflated += data.length;
            if (inflated > limits.maxInflatedBytes) {
                problem = limitExceeded("maxInflatedBytes", limits, "inflates to more bytes than allowed");
                file.terminate();
                return;
            }
            if (depth != null && depth.feed(data) > limits.maxNestingDepth) {
                problem = limitExceeded("maxNestingDepth", limits, `nests the XML of ${file.name} deeper than allowed`);
                file.terminate();
                return;
            }
            kept?.push(data);
            if (final && kept != null) entries.push({ name: file.name, bytes: Buffer.concat(kept) });
        };
        try {
            file.start();
        } catch (error) {
            problem = error as Error; // an entry compressed with a method nothing here reads, or encrypted
        }
    });
    unzip.register(UnzipInflate);
    unzip.register(UnzipPassThrough);
    try {
        for (let offset = 0; offset < bytes.length && problem == null; offset += CHUNK_BYTES) {
            unzip.push(bytes.subarray(offset, offset + CHUNK_BYTES), offset + CHUNK_BYTES >= bytes.length);
        }
    } catch (error) {
        problem ??= error as Error;
    }
    return problem != null ? { entries, problem } : { entries };
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const BANG = 0x21;

/**
 * Tracks how deep XML elements nest, over bytes fed in pieces. Tags are told apart by their
 * first byte after `<` (`/` closes, `?` and `!` neither open nor close) and a `/` before `>`
 * (self-closing). A `>` inside an attribute value is allowed by XML but written by no office
 * suite; it could only make the count higher, and so the check stricter.
 */
class XmlDepth {
    private depth = 0;
    private deepest = 0;
    private inTag = false;
    private tagStart = true;
    private closing = false;
    private neutral = false;
    private previous = 0;

    /** Feeds more bytes; returns the deepest nesting seen so far. */
    public feed(data: Uint8Array): number {
        for (const byte of data) {
            if (!this.inTag) {
                if (byte === LT) {
                    this.inTag = true;
                    this.tagStart = true;
                }
                continue;
            }
            if (this.tagStart) {
                this.tagStart = false;
                this.closing = byte === SLASH;
                this.neutral = byte === QUESTION || byte === BANG;
            }
            if (byte === GT) {
                this.inTag = false;
                if (this.closing) this.depth--;
                else if (!this.neutral && this.previous !== SLASH) this.deepest = Math.max(this.deepest, ++this.depth);
            }
            this.previous = byte;
        }
        return this.deepest;
    }
}
