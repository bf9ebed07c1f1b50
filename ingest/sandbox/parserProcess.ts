/**
 * The entry of a parser process (see `ParserPool`): reads one file at a time, as the parent asks,
 * and answers with its chunks or the reason it cannot be read. Whatever a hostile file does here —
 * use up memory, loop, crash the process — happens to this process only.
 */
import "./closeInheritedFiles.js";
import { Worker } from "node:worker_threads";
import { YizhiError } from "../../src/errors.js";
import { parseFile } from "../parseFile.js";
import type { ParseJob, ParseAnswer } from "./protocol.js";

function answer(message: ParseAnswer): void {
    process.send?.(message);
}

process.on("message", (job: ParseJob) => {
    parseFile(job.request, job.settings, (progress) => answer({ id: job.id, progress })).then(
        (parsed) => answer({ id: job.id, ok: true, parsed }),
        (error: unknown) => answer({
            id: job.id,
            ok: false,
            reason: error instanceof YizhiError ? error.message : `The file could not be parsed: ${error instanceof Error ? error.message : String(error)}`,
        }),
    );
});
// The parent went away (it exited, or was killed): nothing is left to read for.
process.on("disconnect", () => process.exit(0));

/**
 * The same, while this thread is stuck in a hostile file and cannot see the disconnect: a thread
 * of its own ends the process once it has been handed to another parent. (Plain JavaScript run by
 * `eval`, so that it loads the same from the built files and under tsx.)
 */
const watchdog = new Worker(`
    const { workerData } = require("node:worker_threads");
    setInterval(() => {
        if (process.ppid !== workerData.parent) process.kill(workerData.self, "SIGKILL");
    }, 500);
`, { eval: true, workerData: { parent: process.ppid, self: process.pid } });
watchdog.unref();
