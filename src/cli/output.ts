import { diskFullError, isDiskFull, YizhiError } from "../errors.js";

export function printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Thrown by a command to end with a message and a non-zero exit code, printed once by main. */
export class CliExit extends Error {
    public constructor(public readonly exitCode: number, message = "") {
        super(message);
    }
}

/** Prints an error for a person (and as JSON with --json) and returns the exit code. */
export function reportError(thrown: unknown, json: boolean): number {
    const error = isDiskFull(thrown) ? diskFullError(thrown) : thrown;
    if (error instanceof CliExit) {
        if (error.message !== "") process.stderr.write(`yizhi: ${error.message}\n`);
        return error.exitCode;
    }
    const code = error instanceof YizhiError ? error.code : "internal_error";
    const message = error instanceof Error ? error.message : String(error);
    if (json) printJson({ error: { code, message } });
    process.stderr.write(`yizhi: ${message}\n`);
    if (!(error instanceof YizhiError) && error instanceof Error && error.stack != null) process.stderr.write(`${error.stack}\n`);
    return 1;
}
