/**
 * The entry of a parser process (see `ParserPool`): reads one file at a time, as the parent asks,
 * and answers with its chunks or the reason it cannot be read. Whatever a hostile file does here —
 * use up memory, loop, crash the process — happens to this process only.
 */
import { YizhiError } from "../../src/errors.js";
import { parseFile } from "../parseFile.js";
import type { ParseJob, ParseAnswer } from "./protocol.js";

function answer(message: ParseAnswer): void {
    process.send?.(message);
}

process.on("message", (job: ParseJob) => {
    parseFile(job.request, job.settings).then(
        (parsed) => answer({ id: job.id, ok: true, parsed }),
        (error: unknown) => answer({
            id: job.id,
            ok: false,
            reason: error instanceof YizhiError ? error.message : `The file could not be parsed: ${error instanceof Error ? error.message : String(error)}`,
        })
    );
});
// The parent went away (it exited, or was killed): nothing is left to read for.
process.on("disconnect", () => process.exit(0));
