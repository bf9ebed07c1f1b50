import { Router, type RequestHandler } from "express";
import multer from "multer";
import { z } from "zod";
import { can } from "../../keys/principal.js";
import { authorize, principalOf } from "../authenticate.js";
import { HttpError } from "../httpErrors.js";
import { summarizeDocument } from "../../store/records.js";
import type { KnowledgeBaseService, UploadedFile } from "../../service/knowledgeBaseService.js";
import { parseBody } from "../parseBody.js";
import { safeFileName } from "../safeFileName.js";
import { boundedMemoryStorage } from "../boundedMemoryStorage.js";

const MAX_FILES_PER_UPLOAD = 100;

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
    router.post("/kbs/:kb/documents", mayWrite, upload.array("files", MAX_FILES_PER_UPLOAD), async (req, res) => {
        const received = (req.files ?? []) as Express.Multer.File[];
        if (received.length === 0) throw new HttpError("no_files", "Send the documents as multipart/form-data in the field \"files\".");
        // A file of a type Yizhi does not read comes back `skipped`, the others are stored all the same.
        const files: UploadedFile[] = received.map((file) => ({ name: safeFileName(file.originalname), bytes: file.buffer }));
        res.json({ files: await service.upload(String(req.params.kb), files) });
    });

    router.delete("/kbs/:kb/documents/:id", async (req, res) => {
        authorize(res, "write", req.params.kb);
        await service.deleteDocument(req.params.kb, req.params.id);
        res.status(204).end();
    });
    return router;
}
