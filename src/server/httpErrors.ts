import type { ErrorRequestHandler, Response } from "express";
import { MulterError } from "multer";
import { diskFullError, errorStatus, isDiskFull, YizhiError, type ErrorCode } from "../errors.js";

/** An error raised by the HTTP layer itself (a malformed request, a missing key); its status is its code's. */
export class HttpError extends YizhiError {
    public get status(): number {
        return errorStatus[this.code];
    }
}

export function sendError(res: Response, code: ErrorCode, message: string): void {
    const status = errorStatus[code];
    if (status === 503) res.setHeader("Retry-After", "5");
    res.status(status).json({ error: { code, message } });
}

/** Turns any error into `{ error: { code, message } }` with its status; a 500 never shows a stack. */
export function describeError(error: unknown): { status: number; code: ErrorCode; message: string } {
    if (isDiskFull(error)) return describeError(diskFullError(error));
    if (error instanceof YizhiError) return { status: errorStatus[error.code], code: error.code, message: error.httpMessage };
    if (error instanceof MulterError) {
        if (error.code === "LIMIT_FILE_SIZE") return { status: 413, code: "file_too_large", message: "A file is larger than the upload limit." };
        return { status: 400, code: "invalid_upload", message: `The upload is malformed: ${error.message}.` };
    }
    // multer passes on busboy's parse errors (e.g. a NUL byte in a part header) with this property.
    if (error instanceof Error && "storageErrors" in error) return { status: 400, code: "invalid_upload", message: `The multipart upload is malformed: ${error.message}.` };
    const bodyError = error as { type?: string; status?: number };
    if (bodyError.type === "entity.parse.failed") return { status: 400, code: "malformed_json", message: "The request body is not valid JSON." };
    if (bodyError.type === "entity.too.large") return { status: 413, code: "body_too_large", message: "The request body is too large." };
    if (bodyError.status === 400 && error instanceof Error) return { status: 400, code: "bad_request", message: error.message };
    return { status: 500, code: "internal_error", message: "Internal server error." };
}

export function errorHandler(log: (error: unknown) => void): ErrorRequestHandler {
    return (error: unknown, req, res, next) => {
        const { code, message } = describeError(error);
        if (code === "request_aborted") {
            // Nobody is there to read a reply: one line for the log, no stack.
            log(`${req.method} ${req.path}: ${message}`);
            if (!res.headersSent) res.status(errorStatus[code]).end();
            return;
        }
        if (res.headersSent) return next(error);
        if (code === "internal_error") log(error);
        sendError(res, code, message);
    };
}
