import path from "node:path";
import cliProgress from "cli-progress";
import type { IngestProgress } from "../../ingest/ingestFiles.js";

/** A progress bar on stderr: files done, chunks embedded, chunks per second, ETA, current file. */
export function createIngestProgressBar(): { update: (progress: IngestProgress) => void; stop: () => void } {
    const bar = new cliProgress.SingleBar({
        format: "{bar} {value}/{total} files | {chunks} chunks | {rate} chunks/s | ETA {eta_formatted} | {file}",
        hideCursor: true,
        etaBuffer: 20,
        stream: process.stderr,
    }, cliProgress.Presets.shades_classic);
    const started = performance.now();
    let running = false;
    return {
        update(progress) {
            const seconds = (performance.now() - started) / 1000;
            const payload = {
                chunks: progress.chunksEmbedded,
                rate: seconds > 0 ? (progress.chunksEmbedded / seconds).toFixed(1) : "0",
                file: progress.file === "" ? "" : path.basename(progress.file),
            };
            if (!running) {
                bar.start(progress.filesTotal, progress.filesDone, payload);
                running = true;
            } else {
                bar.update(progress.filesDone, payload);
            }
        },
        stop() {
            if (running) bar.stop();
        },
    };
}
