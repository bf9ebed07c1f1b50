import { randomUUID } from "node:crypto";
import { Router } from "express";
import { z } from "zod";
import type { AnswerResult } from "../../answer/answerQuestion.js";
import type { ChatTurn } from "../../models/models.js";
import { abortOnDisconnect, openEventStream } from "../eventStream.js";
import { can } from "../../keys/principal.js";
import { authorize, principalOf } from "../authenticate.js";
import { describeError, HttpError } from "../httpErrors.js";
import type { KnowledgeBaseService } from "../../service/knowledgeBaseService.js";
import { parseBody } from "../parseBody.js";
import { withNames } from "./askRoutes.js";

/** As `/ask` bounds them: a message as long as a history turn there, a question as long as its question. */
const MAX_MESSAGE_CHARS = 20_000;
const MAX_QUESTION_CHARS = 4_000;
const MAX_MESSAGES = 200;
/** Earlier turns passed on as the conversation's history: the most recent ones. */
const MAX_HISTORY_TURNS = 50;

const messageSchema = z.object({
    role: z.enum(["system", "developer", "user", "assistant"]),
    content: z.union([
        z.string().max(MAX_MESSAGE_CHARS),
        z.array(z.object({ type: z.string(), text: z.string().max(MAX_MESSAGE_CHARS).optional() })).max(100),
    ]).nullable(),
});

// OpenAI's other sampling fields (top_p, penalties, seed) are accepted and ignored: Yizhi's own settings decide.
const completionSchema = z.object({
    model: z.string().min(1),
    messages: z.array(messageSchema).min(1).max(MAX_MESSAGES),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
    /** At most the configured `maxAnswerTokens`. */
    max_tokens: z.number().int().min(1).nullable().optional(),
    max_completion_tokens: z.number().int().min(1).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
}).passthrough();

type Completion = z.infer<typeof completionSchema>;

/** The answer's own settings that a chat-completions request may give. */
function generationSettings(body: Completion): { maxTokens?: number; temperature?: number } {
    const maxTokens = body.max_completion_tokens ?? body.max_tokens;
    return { ...(maxTokens != null ? { maxTokens } : {}), ...(body.temperature != null ? { temperature: body.temperature } : {}) };
}

function usageOf(result: AnswerResult): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
    const { promptTokens, completionTokens } = result.usage;
    return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** OpenAI's finish reasons: an answer cut by the client's going away is not read by anyone. */
function finishReasonOf(result: AnswerResult): "stop" | "length" {
    return result.finishReason === "length" ? "length" : "stop";
}

type Message = z.infer<typeof messageSchema>;

function textOf(message: Message): string {
    if (typeof message.content === "string") return message.content;
    return (message.content ?? []).map((part) => part.text ?? "").join("");
}

/** The question is the last user message; the user and assistant messages before it (the last 50) are the history. */
function questionAndHistory(messages: readonly Message[]): { question: string; history: ChatTurn[] } {
    const lastUser = messages.findLastIndex((message) => message.role === "user");
    if (lastUser < 0) throw new HttpError("invalid_request", "messages: there is no message with role \"user\" to answer.");
    const question = textOf(messages[lastUser]!);
    if (question.trim() === "") throw new HttpError("invalid_request", "messages: the last user message is empty.");
    if (question.length > MAX_QUESTION_CHARS) {
        throw new HttpError("invalid_request", `messages: the last user message (the question) has ${question.length} characters; at most ${MAX_QUESTION_CHARS} are allowed.`);
    }
    const history = messages.slice(0, lastUser)
        .filter((message) => message.role === "user" || message.role === "assistant")
        .slice(-MAX_HISTORY_TURNS)
        .map((message): ChatTurn => ({ role: message.role === "user" ? "user" : "assistant", content: textOf(message) }));
    return { question, history };
}

/** OpenAI-compatible `GET /v1/models` and `POST /v1/chat/completions`: a model is a knowledge base. */
export function openaiRoutes(service: KnowledgeBaseService): Router {
    const router = Router();

    router.get("/v1/models", async (_req, res) => {
        const principal = principalOf(res);
        const kbs = (await service.list()).filter((kb) => can(principal, "read", kb.name));
        res.json({
            object: "list",
            data: kbs.map((kb) => ({ id: kb.name, object: "model", created: Math.floor(Date.parse(kb.createdAt) / 1000), owned_by: "yizhi" })),
        });
    });

    router.post("/v1/chat/completions", async (req, res) => {
        const body = parseBody(completionSchema, req.body);
        authorize(res, "read", body.model);
        const { question, history } = questionAndHistory(body.messages);
        await service.assertExists(body.model);
        const id = `chatcmpl-${randomUUID()}`;
        const created = Math.floor(Date.now() / 1000);
        const signal = abortOnDisconnect(res);

        const settings = generationSettings(body);
        if (body.stream !== true) {
            const result = await service.ask(body.model, { question, history, signal, ...settings });
            res.json({
                id, object: "chat.completion", created, model: body.model,
                choices: [{ index: 0, message: { role: "assistant", content: result.answer }, finish_reason: finishReasonOf(result) }],
                usage: usageOf(result),
                sources: withNames(result.sources),
                refused: result.refused,
            });
            return;
        }

        const events = openEventStream(res);
        const chunk = (delta: object, extra: object = {}, finishReason: string | null = null) =>
            events.sendData(JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, finish_reason: finishReason }], ...extra }));
        try {
            let sources: ReturnType<typeof withNames> = [];
            chunk({ role: "assistant", content: "" });
            const result = await service.ask(body.model, {
                question,
                history,
                signal,
                ...settings,
                onSources: (found) => {
                    sources = withNames(found);
                },
                onTextChunk: (text) => chunk({ content: text }),
            });
            chunk({}, { sources, refused: result.refused }, finishReasonOf(result));
            // As OpenAI sends it: one more chunk, without choices, with the usage of the whole answer.
            if (body.stream_options?.include_usage === true) {
                events.sendData(JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage: usageOf(result) }));
            }
        } catch (error) {
            const { code, message } = describeError(error);
            events.sendData(JSON.stringify({ error: { code, message } }));
        }
        events.sendData("[DONE]");
        events.end();
    });
    return router;
}
