import path from "node:path";
import { Router, type Request } from "express";
import { z } from "zod";
import type { AnswerResult, AnswerSource } from "../../answer/answerQuestion.js";
import { abortOnDisconnect, openEventStream } from "../eventStream.js";
import { authorize } from "../authenticate.js";
import { describeError } from "../httpErrors.js";
import type { KnowledgeBaseService } from "../../service/knowledgeBaseService.js";
import { parseBody } from "../parseBody.js";

const chatTurnSchema = z.object({ role: z.enum(["user", "assistant"]), content: z.string().max(20_000) });

const askSchema = z.object({
    question: z.string().trim().min(1, "must not be empty").max(4_000),
    kb: z.string().min(1),
    topK: z.number().int().min(1).max(100).optional(),
    mode: z.enum(["dense", "bm25", "hybrid"]).optional(),
    scoreThreshold: z.number().min(-1).max(1).optional(),
    lexicalThreshold: z.number().min(0).max(1).optional(),
    history: z.array(chatTurnSchema).max(50).optional(),
    stream: z.boolean().optional(),
});

/** Sources as the API shows them: with the file name to display. */
export function withNames(sources: readonly AnswerSource[]): (AnswerSource & { name: string })[] {
    return sources.map((source) => ({ ...source, name: path.basename(source.source) }));
}

function wantsStream(req: Request, stream: boolean | undefined): boolean {
    return stream ?? (req.get("accept") ?? "").includes("text/event-stream");
}

/** `POST /ask`: the answer as JSON, or streamed as Server-Sent Events (sources, tokens, done). */
export function askRoutes(service: KnowledgeBaseService): Router {
    const router = Router();
    router.post("/ask", async (req, res) => {
        const { kb, stream, ...request } = parseBody(askSchema, req.body);
        authorize(res, "read", kb);
        const signal = abortOnDisconnect(res);
        if (!wantsStream(req, stream)) {
            const result = await service.ask(kb, { ...request, signal });
            res.json(publicResult(result));
            return;
        }
        await service.assertExists(kb); // a missing knowledge base is a 404, before the stream starts
        const events = openEventStream(res);
        try {
            const result = await service.ask(kb, {
                ...request,
                signal,
                onSources: (sources) => events.send("sources", { sources: withNames(sources) }),
                onTextChunk: (text) => events.send("token", { text }),
            });
            const { sources: _sources, ...done } = publicResult(result);
            events.send("done", done);
        } catch (error) {
            const { code, message } = describeError(error);
            events.send("error", { error: { code, message } });
        }
        events.end();
    });
    return router;
}

function publicResult(result: AnswerResult): AnswerResult & { sources: (AnswerSource & { name: string })[] } {
    return { ...result, sources: withNames(result.sources) };
}
