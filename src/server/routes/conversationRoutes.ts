import { Router } from "express";
import { z } from "zod";
import { authorize } from "../authenticate.js";
import { parseBody } from "../parseBody.js";
import type { KnowledgeBaseService } from "../../service/knowledgeBaseService.js";

const title = z.string().trim().min(1, "must not be empty").max(200);

const sourceSchema = z.object({
    n: z.number().int().min(1).max(1000),
    documentId: z.string().max(100),
    chunkIndex: z.number().int().min(0),
    name: z.string().max(1000),
    page: z.number().int().min(0).optional(),
    headingPath: z.array(z.string().max(500)).max(20).optional(),
    ocr: z.object({ confidence: z.number().min(0).max(1) }).strict().optional(),
    score: z.number(),
    text: z.string().max(20_000),
}).strict();

const turnSchema = z.object({
    question: z.string().max(4_000),
    answer: z.string().max(50_000),
    refused: z.boolean(),
    sources: z.array(sourceSchema).max(100),
    askedAt: z.iso.datetime(),
}).strict();

const changesSchema = z.object({ title: title.optional(), turns: z.array(turnSchema).max(500).optional() }).strict();

/**
 * A knowledge base's saved conversations, shared by every page that may read it: list, start,
 * read, rename or replace the turns (PATCH), delete. Whoever may ask the knowledge base may keep
 * conversations of it.
 */
export function conversationRoutes(service: KnowledgeBaseService): Router {
    const router = Router();
    router.get("/kbs/:kb/conversations", async (req, res) => {
        authorize(res, "read", req.params.kb);
        res.json({ conversations: await service.listConversations(req.params.kb) });
    });
    router.post("/kbs/:kb/conversations", async (req, res) => {
        authorize(res, "read", req.params.kb);
        const body = parseBody(z.object({ title }).strict(), req.body);
        res.status(201).json(await service.createConversation(req.params.kb, body.title));
    });
    router.get("/kbs/:kb/conversations/:id", async (req, res) => {
        authorize(res, "read", req.params.kb);
        res.json(await service.getConversation(req.params.kb, req.params.id));
    });
    router.patch("/kbs/:kb/conversations/:id", async (req, res) => {
        authorize(res, "read", req.params.kb);
        res.json(await service.updateConversation(req.params.kb, req.params.id, parseBody(changesSchema, req.body)));
    });
    router.delete("/kbs/:kb/conversations/:id", async (req, res) => {
        authorize(res, "read", req.params.kb);
        await service.deleteConversation(req.params.kb, req.params.id);
        res.status(204).end();
    });
    return router;
}
