import { Unzip, UnzipInflate } from "fflate";
import { limitExceeded, type ParseLimits } from "../limits.js";
import { UnreadableFileError } from "../../src/errors.js";

const CHUNK_BYTES = 64 * 1024;

/**
 * Inflates a zip-based document (DOCX, XLSX) as a stream, keeping nothing, and throws when it has
 * too many entries, inflates to too many bytes (a zip bomb: 3 MB that become 3 GiB), or nests its
 * XML too deep. Run before the format's own library, which would hold every inflated byte.
 * Whether the bytes are a valid document at all is left to that library.
 *
 * fflate's streaming `Unzip` reads local headers as the bytes arrive, so a declared size cannot
 * lie its way past the count: the bytes are counted as they are inflated.
 */
export function checkArchive(bytes: Uint8Array, limits: ParseLimits): void {
    let entries = 0;
    let inflated = 0;
    let problem: Error | undefined;
    const unzip = new Unzip((file) => {
        if (problem != null) return;
        entries++;
        if (entries > limits.maxArchiveEntries) {
            problem = limitExceeded("maxArchiveEntries", limits, "has more entries in its archive than allowed");
            return;
        }
        const depth = file.name.toLowerCase().endsWith(".xml") || file.name.toLowerCase().endsWith(".rels") ? new XmlDepth() : undefined;
        file.ondata = (error, data) => {
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
            }
        };
        try {
            file.start();
        } catch (error) {
            problem = error as Error; // an entry compressed with a method nothing here reads
        }
    });
    unzip.register(UnzipInflate);
    try {
        for (let offset = 0; offset < bytes.length && problem == null; offset += CHUNK_BYTES) {
            unzip.push(bytes.subarray(offset, offset + CHUNK_BYTES), offset + CHUNK_BYTES >= bytes.length);
        }
    } catch (error) {
        problem ??= error as Error;
    }
    // Other problems (not a zip, damaged) are left to the format's library, which names the format.
    if (problem instanceof UnreadableFileError) throw problem;
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
