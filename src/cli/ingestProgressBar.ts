import cliProgress from "cli-progress";
import stringWidth from "string-width";
import type { FileProgress, IngestProgress } from "../../ingest/ingestFiles.js";

/** An ETA is shown only after this long of measured work, and this much of it done: before, it is noise. */
const ETA_AFTER_MS = 5_000;
const ETA_AFTER_FRACTION = 0.02;
const BAR_WIDTH = { most: 24, least: 8 };

/**
 * A progress line on stderr that fits the terminal: a bar measured in bytes (so it moves inside a
 * large file), files done, chunks embedded, an ETA once it means something, and the file under way
 * with how far it has got.
 */
export function createIngestProgressBar(stream: NodeJS.WriteStream = process.stderr): { update: (progress: IngestProgress) => void; stop: () => void } {
    const eta = new EtaEstimate();
    let latest: IngestProgress | undefined;
    const bar = new cliProgress.SingleBar({
        format: (_options, params) => latest == null ? "" : formatProgressLine(latest, eta.text(latest), (stream.columns || 80) - 1, params.progress),
        hideCursor: true,
        stream,
    });
    let running = false;
    return {
        update(progress) {
            latest = progress;
            eta.observe(progress);
            const total = Math.max(progress.bytesTotal, 1);
            if (!running) {
                bar.start(total, progress.bytesDone);
                running = true;
            } else {
                bar.update(progress.bytesDone);
            }
        },
        stop() {
            if (running) bar.stop();
        },
    };
}

/** The time left at the rate measured since the first chunk was embedded (model loading left out). */
class EtaEstimate {
    private since: { at: number; bytesDone: number } | undefined;

    public observe(progress: IngestProgress): void {
        if (this.since == null && progress.bytesDone > 0) this.since = { at: performance.now(), bytesDone: progress.bytesDone };
    }

    public text(progress: IngestProgress): string | undefined {
        if (this.since == null || progress.bytesTotal === 0) return undefined;
        const elapsed = performance.now() - this.since.at;
        const done = progress.bytesDone - this.since.bytesDone;
        if (elapsed < ETA_AFTER_MS || done / progress.bytesTotal < ETA_AFTER_FRACTION) return undefined;
        return formatDuration((progress.bytesTotal - progress.bytesDone) * elapsed / done);
    }
}

export function formatDuration(ms: number): string {
    const seconds = Math.round(ms / 1000);
    if (seconds < 60) return `${seconds}s`;
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
    return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/**
 * The line for `progress`, at most `width` characters: the bar shrinks first, then the file name
 * loses its middle, then the least useful parts go.
 */
export function formatProgressLine(progress: IngestProgress, eta: string | undefined, width: number, fraction: number): string {
    const counts = `${progress.filesDone}/${progress.filesTotal} files`;
    const chunks = `${progress.chunksEmbedded} chunks`;
    const etaPart = eta != null ? `ETA ${eta}` : undefined;
    const current = progress.active[0];
    const stage = current != null ? stageText(current) + (progress.active.length > 1 ? ` +${progress.active.length - 1}` : "") : undefined;
    const fixedParts = [counts, chunks, etaPart].filter((part): part is string => part != null);

    const join = (bar: string, parts: readonly string[]) => [bar, ...parts].filter((part) => part !== "").join(" | ");
    const barOf = (size: number) => size === 0 ? "" : `${"█".repeat(Math.round(fraction * size))}${"░".repeat(size - Math.round(fraction * size))}`;

    const choices = [fixedParts, [counts, etaPart].filter((part): part is string => part != null), [counts]];
    const fitted = (parts: readonly string[], last?: string) => {
        const shortest = [...parts, ...(last != null ? [last] : [])];
        const spare = width - stringWidth(join(barOf(BAR_WIDTH.least), shortest));
        return spare < 0 ? undefined : join(barOf(Math.min(BAR_WIDTH.most, BAR_WIDTH.least + spare)), shortest);
    };
    if (current != null && stage != null) {
        for (const parts of choices) {
            const fileRoom = width - stringWidth(join(barOf(BAR_WIDTH.least), [...parts, ` ${stage}`]));
            if (fileRoom >= 8) return fitted(parts, `${shortenMiddle(current.file, fileRoom)} ${stage}`)!;
        }
    }
    for (const parts of choices) {
        const line = fitted(parts);
        if (line != null) return line;
    }
    return shortenMiddle(counts, Math.max(width, 1));
}

function stageText(file: FileProgress): string {
    if (file.stage === "ocr") return `OCR ${file.pages?.done ?? 0}/${file.pages?.total ?? 0} pages`;
    return file.stage === "parsing" ? "parsing" : `embedding ${file.chunksEmbedded}/${file.chunks}`;
}

/**
 * `text` in at most `columns` terminal columns (a Chinese character takes two), its middle
 * replaced by "…": the start and the file name are what tell files apart.
 */
export function shortenMiddle(text: string, columns: number): string {
    if (stringWidth(text) <= columns) return text;
    const characters = [...text];
    const tailColumns = Math.ceil((columns - 1) * 0.6);
    let tail = "";
    for (let i = characters.length - 1; i >= 0 && stringWidth(characters[i]! + tail) <= tailColumns; i--) tail = characters[i]! + tail;
    let head = "";
    for (const character of characters) {
        if (stringWidth(head + character) > columns - 1 - stringWidth(tail)) break;
        head += character;
    }
    return `${head}…${tail}`;
}
