import { Router, type RequestHandler } from "express";
import multer from "multer";
import { z } from "zod";
import { can } from "../../keys/principal.js";
import { authorize, principalOf } from "../authenticate.js";
import type { IngestProgress } from "../../../ingest/ingestFiles.js";
import { openEventStream } from "../eventStream.js";
import { describeError, HttpError } from "../httpErrors.js";
import { summarizeDocument } from "../../store/records.js";
import type { KnowledgeBaseService, UploadedFile } from "../../service/knowledgeBaseService.js";
import { parseBody } from "../parseBody.js";
import { safeFileName } from "../safeFileName.js";
import { boundedMemoryStorage } from "../boundedMemoryStorage.js";

const MAX_FILES_PER_UPLOAD = 100;
/** A streamed upload's progress events come at most this often. */
const PROGRESS_EVERY_MS = 250;

export interface KnowledgeBaseRoutesOptions {
    /** Largest file of an upload. */
    maxUploadBytes: number;
    /** Largest total of the files of one upload. */
    maxUploadRequestBytes: number;
}

/** Knowledge bases and their documents: list, create, delete, upload. */
export function knowledgeBaseRoutes(service: KnowledgeBaseService, options: KnowledgeBaseRoutesOptions): Router {
    const router = Router();
    // Uploads stay in memory: bytes are parsed from there and never written under a client's name.
    const upload = multer({
        storage: boundedMemoryStorage(options.maxUploadRequestBytes),
        limits: { fileSize: options.maxUploadBytes, files: MAX_FILES_PER_UPLOAD, fields: 10 },
        defParamCharset: "utf8",
    });

    router.get("/kbs", async (_req, res) => {
        const principal = principalOf(res);
        const kbs = (await service.list()).filter((kb) => can(principal, "read", kb.name));
        res.json({ kbs: kbs.map(({ name, documents, chunks, createdAt, problem }) => ({ name, documents, chunks, createdAt, ...(problem != null ? { problem } : {}) })) });
    });

    router.post("/kbs", async (req, res) => {
        authorize(res, "manage");
        const { name } = parseBody(z.object({ name: z.string().min(1) }), req.body);
        await service.create(name);
        res.status(201).json({ name });
    });

    router.delete("/kbs/:kb", async (req, res) => {
        authorize(res, "manage");
        await service.remove(req.params.kb);
        res.status(204).end();
    });

    router.get("/kbs/:kb/documents", async (req, res) => {
        authorize(res, "read", req.params.kb);
        // Each document's `source` is its name to show: a client never sees the server's folders.
        const documents = (await service.documents(req.params.kb)).map(summarizeDocument);
        res.json({ documents: documents.map((summary) => ({ ...summary, source: summary.name })) });
    });

    // Checked before the upload is read: a key that may not write makes the server hold nothing.
    const mayWrite: RequestHandler = (req, res, next) => {
        authorize(res, "write", String(req.params.kb));
        next();
    };
    router.get("/kbs/:kb/documents/:id", async (req, res) => {
        authorize(res, "read", req.params.kb);
        const document = await service.findDocument(req.params.kb, req.params.id);
        const chunks = await service.chunksOf(req.params.kb, document);
        const summary = summarizeDocument(document);
        res.json({
            document: { ...summary, source: summary.name },
            chunks: chunks.map(({ index, text, page, headingPath, ocr }) => ({
                index, text, ...(page != null ? { page } : {}), ...(headingPath != null ? { headingPath } : {}), ...(ocr != null ? { ocr } : {}),
            })),
        });
    });

    router.post("/kbs/:kb/documents", mayWrite, upload.array("files", MAX_FILES_PER_UPLOAD), async (req, res) => {
        const received = (req.files ?? []) as Express.Multer.File[];
        if (received.length === 0) throw new HttpError("no_files", "Send the documents as multipart/form-data in the field \"files\".");
        // A file of a type Yizhi does not read comes back `skipped`, the others are stored all the same.
        const files: UploadedFile[] = received.map((file) => ({ name: safeFileName(file.originalname), bytes: file.buffer }));
        const kb = String(req.params.kb);
        if (!(req.get("accept") ?? "").includes("text/event-stream")) {
            res.json({ files: await service.upload(kb, files) });
            return;
        }
        // Streamed: what each file under way has got to, then the outcomes (or the error).
        await service.assertExists(kb);
        const events = openEventStream(res);
        const progress = throttled(PROGRESS_EVERY_MS, (update: IngestProgress) => events.send("progress", update));
        try {
            const outcomes = await service.upload(kb, files, { onProgress: progress.call });
            progress.flush();
            events.send("done", { files: outcomes });
        } catch (error) {
            const { code, message } = describeError(error);
            events.send("error", { error: { code, message } });
        }
        events.end();
    });

    router.delete("/kbs/:kb/documents/:id", async (req, res) => {
        authorize(res, "write", req.params.kb);
        // Named as for GET: its id, a unique start of it, or its file name.
        const document = await service.findDocument(req.params.kb, req.params.id);
        await service.deleteDocument(req.params.kb, document.id);
        res.status(204).end();
    });
    return router;
}

/** `call` passes a value on at most every `intervalMs`, keeping the latest; `flush` passes on the one held back. */
function throttled<T>(intervalMs: number, send: (value: T) => void): { call: (value: T) => void; flush: () => void } {
    let last = 0;
    let pending: { value: T } | undefined;
    return {
        call(value) {
            const now = performance.now();
            if (now - last >= intervalMs) {
                last = now;
                pending = undefined;
                send(value);
            } else {
                pending = { value };
            }
        },
        flush() {
            if (pending != null) send(pending.value);
            pending = undefined;
        },
    };
}
