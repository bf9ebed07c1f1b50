import type { Request } from "express";
import type { StorageEngine } from "multer";
import { HttpError } from "./httpErrors.js";

/** Bytes received so far in one request, across its files. */
const receivedByRequest = new WeakMap<Request, number>();

/**
 * multer's memory storage with a cap on the bytes of all files of one request together (multer's
 * own limits are per file and per count: 100 files of 100 MB each would be held at once). The
 * upload fails with 413 as soon as the total passes `maxRequestBytes`, before more is held.
 */
export function boundedMemoryStorage(maxRequestBytes: number): StorageEngine {
    return {
        _handleFile(req, file, callback) {
            const chunks: Buffer[] = [];
            let failed = false;
            file.stream.on("data", (chunk: Buffer) => {
                if (failed) return;
                const received = (receivedByRequest.get(req) ?? 0) + chunk.length;
                receivedByRequest.set(req, received);
                if (received > maxRequestBytes) {
                    failed = true;
                    chunks.length = 0;
                    file.stream.resume(); // drain the rest without keeping it
                    callback(new HttpError("upload_too_large",
                        `The files of one upload may hold ${maxRequestBytes} bytes together (setting maxUploadRequestBytes); send them in several uploads.`));
                    return;
                }
                chunks.push(chunk);
            });
            file.stream.on("error", (error) => {
                if (!failed) callback(error);
                failed = true;
            });
            file.stream.on("end", () => {
                if (failed) return;
                const buffer = Buffer.concat(chunks);
                callback(null, { buffer, size: buffer.length });
            });
        },
        _removeFile(_req, file, callback) {
            file.buffer = Buffer.alloc(0);
            callback(null);
        },
    };
}
