/** A section of a file to split: its text and where it sits. */
export interface SplitterSection {
    text: string;
    page?: number;
    headingPath?: string[];
    /** Set when the text was read by OCR: the recogniser's mean confidence, 0..1. */
    ocr?: { confidence: number };
}

export interface TextChunk {
    text: string;
    /** Position of the chunk within its document, from 0. */
    index: number;
    /** Offset (UTF-16 code units) of the chunk's first character within its section's text. */
    start: number;
    page?: number;
    headingPath?: string[];
    /** Set when the chunk's text was read by OCR: the recogniser's mean confidence, 0..1. */
    ocr?: { confidence: number };
}

export interface SplitterOptions {
    /** Largest chunk, in characters (Unicode code points). */
    chunkSize: number;
    /** Characters of the end of one chunk repeated at the start of the next, at sentence granularity. */
    chunkOverlap: number;
}

/**
 * The separator ladder, coarsest first: blank line, line break, sentence end (。！？, and . ! ?
 * before a space), semicolon, comma, space. Each separator stays with the text before it, so a
 * sentence keeps its 。 and a clause its ，. English sentence ends share the rung of 。！？ so that
 * English text is not cut at its commas first; ASCII , and ; count only before a space, so that
 * numbers such as 1,000,000 stay whole.
 */
const separatorLadder: readonly RegExp[] = [
    /\n{2,}/g,
    /\n/g,
    /[。！？]+[”’」』）)]*|[.!?]+["')\]]*(?=\s)/g,
    /；|;(?=\s)/g,
    /[，、]|,(?=\s)/g,
    / +/g,
];

interface Piece {
    start: number;
    end: number;
    length: number;
}

/**
 * Chinese-aware recursive splitter. Text is cut at the coarsest separator that makes pieces fit,
 * then neighbouring pieces are packed into chunks of at most `chunkSize` characters. Chunks never
 * span two sections, so every chunk has one page and one heading path.
 */
export function splitSections(sections: readonly SplitterSection[], options: SplitterOptions): TextChunk[] {
    if (options.chunkOverlap >= options.chunkSize)
        throw new RangeError(`chunkOverlap (${options.chunkOverlap}) must be smaller than chunkSize (${options.chunkSize})`);

    const chunks: TextChunk[] = [];
    for (const section of sections) {
        const pieces = splitToPieces(section.text, 0, section.text.length, 0, options.chunkSize);
        let previous: TextChunk | undefined;
        for (const { start, end } of packPieces(pieces, options)) {
            const raw = section.text.slice(start, end);
            const text = raw.trim();
            if (text === "") continue;
            const chunk: TextChunk = {
                text,
                index: chunks.length,
                start: start + (raw.length - raw.trimStart().length),
                ...(section.page != null ? { page: section.page } : {}),
                ...(section.headingPath != null && section.headingPath.length > 0 ? { headingPath: section.headingPath } : {}),
                ...(section.ocr != null ? { ocr: section.ocr } : {}),
            };
            // Whitespace-only pieces (a line's trailing "\n") count towards a span's size but are trimmed
            // away, which can leave a chunk that lies wholly inside its neighbour: keep only the larger.
            if (previous != null && chunk.start + text.length <= previous.start + previous.text.length) continue;
            if (previous != null && chunk.start === previous.start) chunks.pop();
            chunk.index = chunks.length;
            chunks.push(chunk);
            previous = chunk;
        }
    }
    return chunks;
}

function splitToPieces(text: string, start: number, end: number, level: number, chunkSize: number): Piece[] {
    const length = codePointLength(text, start, end);
    if (length <= chunkSize) return [{ start, end, length }];

    const separator = separatorLadder[level];
    if (separator == null) return hardCut(text, start, end, chunkSize);

    const pieces: Piece[] = [];
    let pieceStart = start;
    const flush = (pieceEnd: number) => {
        // A loop, not push(...pieces): a long log file's lines outnumber the arguments a call can take.
        if (pieceEnd > pieceStart) for (const piece of splitToPieces(text, pieceStart, pieceEnd, level + 1, chunkSize)) pieces.push(piece);
        pieceStart = pieceEnd;
    };
    separator.lastIndex = start;
    for (let match = separator.exec(text); match != null && match.index < end; match = separator.exec(text)) {
        if (match[0] === "") {
            separator.lastIndex++;
            continue;
        }
        flush(Math.min(match.index + match[0].length, end));
    }
    flush(end);
    return pieces;
}

function hardCut(text: string, start: number, end: number, chunkSize: number): Piece[] {
    const pieces: Piece[] = [];
    let pieceStart = start;
    let count = 0;
    for (let i = start; i < end;) {
        const step = (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
        i += step;
        count++;
        if (count === chunkSize || i >= end) {
            pieces.push({ start: pieceStart, end: i, length: count });
            pieceStart = i;
            count = 0;
        }
    }
    return pieces;
}

/** Greedily packs consecutive pieces into spans of at most chunkSize, repeating up to chunkOverlap of trailing pieces. */
function packPieces(pieces: readonly Piece[], options: SplitterOptions): { start: number; end: number }[] {
    const spans: { start: number; end: number }[] = [];
    const window: Piece[] = [];
    let windowLength = 0;

    for (const piece of pieces) {
        if (window.length > 0 && windowLength + piece.length > options.chunkSize) {
            spans.push({ start: window[0]!.start, end: window[window.length - 1]!.end });
            while (window.length > 0 && (windowLength > options.chunkOverlap || windowLength + piece.length > options.chunkSize)) {
                windowLength -= window.shift()!.length;
            }
        }
        window.push(piece);
        windowLength += piece.length;
    }
    if (window.length > 0) spans.push({ start: window[0]!.start, end: window[window.length - 1]!.end });
    return spans;
}

function codePointLength(text: string, start: number, end: number): number {
    let count = 0;
    for (let i = start; i < end; i++) {
        const code = text.charCodeAt(i);
        if (code < 0xdc00 || code > 0xdfff) count++;
    }
    return count;
}
