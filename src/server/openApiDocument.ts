/** The API described for clients and tools, served at `/openapi.json`. */
const error = { $ref: "#/components/responses/Error" };
const kbParam = { name: "kb", in: "path", required: true, schema: { type: "string" } };
const json = (schema: object) => ({ content: { "application/json": { schema } } });

const source = {
    type: "object",
    required: ["n", "documentId", "chunkIndex", "source", "name", "score", "scores", "text"],
    properties: {
        n: { type: "integer", description: "number of the source in the prompt and in citations like [1]" },
        documentId: { type: "string" },
        chunkIndex: { type: "integer", description: "the chunk's position in its document, from 0, as GET /kbs/{kb}/documents/{id} lists them" },
        source: { type: "string" },
        name: { type: "string", description: "file name to show" },
        page: { type: "integer" },
        headingPath: { type: "array", items: { type: "string" } },
        ocr: { type: "object", description: "present when the chunk's text was read by OCR (a scanned page, a picture)", properties: { confidence: { type: "number", description: "the recogniser's mean confidence, 0..1" } } },
        score: { type: "number", description: "what the chunk was ranked by, higher is better: the reranker's score (0..1) when one is configured, else cosine similarity (-1..1) in dense mode, BM25 relevance (0..1) in bm25 mode, the fused reciprocal-rank score (0..1) in hybrid mode" },
        scores: {
            type: "object",
            description: "each score computed for the chunk",
            properties: {
                dense: { type: "number", description: "cosine similarity of the embeddings, -1..1" },
                lexical: { type: "number", description: "BM25 relevance, 0..1: about the share of the question's words the chunk has" },
                fused: { type: "number", description: "reciprocal-rank fusion of the two rankings, 0..1" },
                rerank: { type: "number", description: "the reranker's relevance, 0..1" },
            },
        },
        text: { type: "string" },
    },
};

const answer = {
    type: "object",
    required: ["answer", "refused", "language", "sources", "finishReason", "usage", "timings"],
    properties: {
        answer: { type: "string" },
        refused: { type: "boolean", description: "true when no chunk passed the threshold: the answer is the fixed refusal and no model was asked" },
        language: { type: "string", enum: ["zh", "en"] },
        sources: { type: "array", items: source },
        finishReason: { type: "string", enum: ["stop", "length", "abort"], description: "`length`: cut at the answer's token budget" },
        usage: { type: "object", properties: { promptTokens: { type: "integer" }, completionTokens: { type: "integer" } } },
        timings: { type: "object", properties: { retrievalMs: { type: "number" }, generationMs: { type: "number" }, totalMs: { type: "number" } } },
    },
};

const errorBody = { type: "object", required: ["error"], properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } } } };

/**
 * A Server-Sent Events response: each event is an `event: <name>` line and a `data: <JSON>` line;
 * `events` gives each name's JSON.
 */
function eventStream(description: string, events: Record<string, object>) {
    return {
        "text/event-stream": {
            schema: {
                description,
                oneOf: Object.entries(events).map(([event, data]) => ({
                    type: "object", required: ["event", "data"], properties: { event: { const: event }, data },
                })),
            },
        },
    };
}

const askEvents = eventStream("Sent in order: `sources` once, `token` for each piece of the answer, then `done` or `error`.", {
    sources: { type: "object", required: ["sources"], properties: { sources: { type: "array", items: source } } },
    token: { type: "object", required: ["text"], properties: { text: { type: "string" } } },
    done: { ...answer, required: answer.required.filter((field) => field !== "sources"), description: "the result, without the sources sent first" },
    error: errorBody,
});

const fileOutcome = {
    type: "object",
    required: ["name", "status", "chunks"],
    properties: {
        name: { type: "string" },
        status: { type: "string", enum: ["ingested", "unchanged", "skipped", "failed"], description: "`skipped`: a type Yizhi does not read" },
        chunks: { type: "integer" },
        documentId: { type: "string" },
        duplicateOf: { type: "string", description: "the stored document with the same text" },
        reason: { type: "string" },
    },
};

const uploadEvents = eventStream("Sent with Accept: text/event-stream: `progress` (at most 4 a second) while the files are parsed and embedded, then `done` or `error`.", {
    progress: {
        type: "object",
        properties: {
            filesDone: { type: "integer" }, filesTotal: { type: "integer" }, chunksEmbedded: { type: "integer" },
            bytesDone: { type: "integer", description: "bytes of the files done, and of those under way in proportion to their chunks embedded" },
            bytesTotal: { type: "integer" },
            active: {
                type: "array",
                items: {
                    type: "object",
                    properties: {
                        file: { type: "string" },
                        stage: { enum: ["parsing", "ocr", "embedding"] },
                        pages: { type: "object", description: "while stage is ocr: scanned pages or pictures read so far, of how many", properties: { done: { type: "integer" }, total: { type: "integer" } } },
                        chunksEmbedded: { type: "integer" },
                        chunks: { type: "integer", description: "0 while parsing" },
                    },
                },
            },
        },
    },
    done: { type: "object", required: ["files"], properties: { files: { type: "array", items: fileOutcome } } },
    error: errorBody,
});

const chatMessage = { type: "object", required: ["role", "content"], properties: { role: { enum: ["system", "user", "assistant"] }, content: { type: "string" } } };
const usage = { type: "object", properties: { prompt_tokens: { type: "integer" }, completion_tokens: { type: "integer" }, total_tokens: { type: "integer" } } };
const chatCompletion = {
    type: "object",
    required: ["id", "object", "created", "model", "choices"],
    properties: {
        id: { type: "string" },
        object: { const: "chat.completion" },
        created: { type: "integer" },
        model: { type: "string", description: "the knowledge base" },
        choices: {
            type: "array",
            items: {
                type: "object",
                properties: { index: { type: "integer" }, message: chatMessage, finish_reason: { enum: ["stop", "length"] } },
            },
        },
        usage,
        sources: { type: "array", items: source, description: "Yizhi's own: the chunks the answer was written from" },
        refused: { type: "boolean", description: "Yizhi's own: nothing relevant was found" },
    },
};
const chatCompletionEvents = {
    "text/event-stream": {
        schema: {
            description: "Unnamed `data: <JSON>` lines of chat.completion.chunk objects, as OpenAI sends them, ending with `data: [DONE]`. " +
                "The last chunk with choices carries `finish_reason`, `sources` and `refused`; with stream_options.include_usage a chunk with `usage` and no choices follows.",
            type: "object",
            properties: {
                id: { type: "string" },
                object: { const: "chat.completion.chunk" },
                created: { type: "integer" },
                model: { type: "string" },
                choices: {
                    type: "array",
                    items: { type: "object", properties: { index: { type: "integer" }, delta: { type: "object", properties: { role: { const: "assistant" }, content: { type: "string" } } }, finish_reason: { enum: ["stop", "length", null] } } },
                },
                usage,
                sources: { type: "array", items: source },
                refused: { type: "boolean" },
            },
        },
    },
};

export const openApiDocument = {
    openapi: "3.1.0",
    info: { title: "Yizhi (已知)", version: "0.1.0", description: "Questions answered from your own documents by a local LLM, with sources." },
    components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "needed when the server has an API key (YIZHI_API_KEY)" } },
        responses: {
            Error: {
                description: "An error: 400 invalid input (the message names the field), 401 missing or wrong API key, 403 the key lacks the role, 404, 409, 413 too large, 429 rate limited, 502 a model server refused the request or failed mid-answer, 503 busy, models not loaded or a model server unreachable, 507 disk full",
                ...json(errorBody),
            },
        },
    },
    security: [{ bearer: [] }],
    paths: {
        "/healthz": { get: { summary: "the process is up", security: [], responses: { 200: { description: "ok" } } } },
        "/readyz": {
            get: {
                summary: "the storage is ready and each model answered its last try",
                description: "Both answers list `models`: each role (`embedding`, `llm`, `reranker`) with its provider and whether its last try worked; a part that failed is tried again every 5 s.",
                security: [],
                responses: { 200: { description: "ready" }, 503: error },
            },
        },
        "/ask": {
            post: {
                summary: "answer a question from a knowledge base",
                description: "With \"stream\": true (or Accept: text/event-stream) the answer comes as Server-Sent Events: `sources` ({ sources }), then `token` ({ text }) events, then `done` (the result without sources), or `error` ({ error }). A client that disconnects stops the generation.",
                requestBody: json({
                    type: "object",
                    required: ["question", "kb"],
                    properties: {
                        question: { type: "string", maxLength: 4000 },
                        kb: { type: "string" },
                        topK: { type: "integer", minimum: 1, maximum: 100 },
                        mode: { type: "string", enum: ["dense", "bm25", "hybrid"], description: "retrieval mode; default the configured one" },
                        scoreThreshold: { type: "number", minimum: -1, maximum: 1, description: "lowest cosine similarity, for dense and hybrid modes" },
                        lexicalThreshold: { type: "number", minimum: 0, maximum: 1, description: "lowest BM25 relevance, for bm25 and hybrid modes" },
                        history: { type: "array", items: { type: "object", properties: { role: { enum: ["user", "assistant"] }, content: { type: "string" } } } },
                        stream: { type: "boolean" },
                    },
                }),
                responses: { 200: { description: "the answer, as JSON or streamed", content: { ...json(answer).content, ...askEvents } }, 400: error, 401: error, 404: error, 503: error },
            },
        },
        "/kbs": {
            get: { summary: "list knowledge bases", responses: { 200: { description: "{ kbs: [{ name, documents, chunks, createdAt }] }" }, 401: error } },
            post: { summary: "create a knowledge base", requestBody: json({ type: "object", required: ["name"], properties: { name: { type: "string" } } }), responses: { 201: { description: "created" }, 400: error, 409: error } },
        },
        "/kbs/{kb}": { delete: { summary: "delete a knowledge base", parameters: [kbParam], responses: { 204: { description: "deleted" }, 404: error } } },
        "/kbs/{kb}/documents": {
            get: { summary: "list documents", parameters: [kbParam], responses: { 200: { description: "{ documents: [{ id, source, name, chunks, hash, format, sizeBytes, ingestedAt }] }" }, 404: error } },
            post: {
                summary: "upload documents (multipart field `files`, several files); with Accept: text/event-stream, their progress as they are read",
                parameters: [kbParam],
                requestBody: { content: { "multipart/form-data": { schema: { type: "object", properties: { files: { type: "array", items: { type: "string", format: "binary" } } } } } } },
                responses: {
                    200: { description: "each file's outcome", content: { ...json({ type: "object", required: ["files"], properties: { files: { type: "array", items: fileOutcome } } }).content, ...uploadEvents } },
                    400: error, 403: error, 404: error, 413: error, 429: error,
                },
            },
        },
        "/kbs/{kb}/documents/{id}": {
            get: {
                summary: "a document and its chunks in order, as `yizhi docs show` prints them",
                description: "`id` is the document's id, a unique start of it, or its file name.",
                parameters: [kbParam, { name: "id", in: "path", required: true, schema: { type: "string" } }],
                responses: {
                    200: {
                        description: "{ document: { id, source, name, chunks, hash, format, sizeBytes, ingestedAt }, chunks: [{ index, text, page?, headingPath? }] }",
                    },
                    404: error,
                    400: { description: "the name is shared by several documents (ambiguous_document): use the id", ...json(errorBody) },
                },
            },
            delete: { summary: "delete a document (named as for GET)", parameters: [kbParam, { name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { 204: { description: "deleted" }, 404: error } },
        },
        "/kbs/{kb}/conversations": {
            get: { summary: "the knowledge base's saved conversations, the last changed first", parameters: [kbParam], responses: { 200: { description: "{ conversations: [{ id, title, createdAt, updatedAt, turns }] } (turns: how many)" }, 404: error } },
            post: {
                summary: "start a conversation (anyone who may ask the knowledge base may keep conversations of it)",
                parameters: [kbParam],
                requestBody: json({ type: "object", required: ["title"], properties: { title: { type: "string", maxLength: 200 } } }),
                responses: { 201: { description: "the conversation: { id, title, createdAt, updatedAt, turns: [] }" }, 400: error, 404: error },
            },
        },
        "/kbs/{kb}/conversations/{id}": {
            get: { summary: "a conversation with its turns", parameters: [kbParam, { name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { 200: { description: "{ id, title, createdAt, updatedAt, turns: [{ question, answer, refused, sources, askedAt }] }" }, 404: error } },
            patch: {
                summary: "rename a conversation and/or replace its turns",
                parameters: [kbParam, { name: "id", in: "path", required: true, schema: { type: "string" } }],
                requestBody: json({
                    type: "object",
                    properties: {
                        title: { type: "string", maxLength: 200 },
                        turns: {
                            type: "array", maxItems: 500,
                            items: { type: "object", required: ["question", "answer", "refused", "sources", "askedAt"], properties: { question: { type: "string" }, answer: { type: "string" }, refused: { type: "boolean" }, sources: { type: "array", items: { type: "object" } }, askedAt: { type: "string", format: "date-time" } } },
                        },
                    },
                }),
                responses: { 200: { description: "the conversation as saved" }, 400: error, 404: error },
            },
            delete: { summary: "delete a conversation", parameters: [kbParam, { name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { 204: { description: "deleted" }, 404: error } },
        },
        "/v1/models": { get: { summary: "OpenAI-compatible: the knowledge bases, as models", responses: { 200: { description: "{ object: list, data: [{ id, object: model }] }" } } } },
        "/mcp": {
            post: {
                summary: "the MCP tools (list_knowledge_bases, search, ask) over MCP's streamable HTTP, stateless: one JSON-RPC message a POST",
                description: "For MCP clients (Claude Desktop, Cursor, the MCP SDK's own). The key decides which knowledge bases the tools may read; GET and DELETE answer 405.",
                responses: { 200: { description: "a JSON-RPC response" }, 401: error, 405: error, 429: error },
            },
        },
        "/v1/chat/completions": {
            post: {
                summary: "OpenAI-compatible chat: `model` names the knowledge base, the last user message is the question, earlier messages are history",
                description: "The response (or the last stream chunk with choices) carries the extra fields `sources` and `refused`. `max_tokens` (or `max_completion_tokens`, " +
                    "at most the server's maxAnswerTokens) and `temperature` apply to this answer; `finish_reason` is `length` when the answer was cut at its budget. " +
                    "`usage` counts the model's tokens (0 for a refusal); with `stream_options.include_usage` a stream ends with a chunk of `usage` and no choices.",
                requestBody: json({
                    type: "object",
                    required: ["model", "messages"],
                    properties: {
                        model: { type: "string" },
                        messages: { type: "array", items: chatMessage },
                        stream: { type: "boolean" },
                        stream_options: { type: "object", properties: { include_usage: { type: "boolean" } } },
                        max_tokens: { type: "integer", minimum: 1 },
                        max_completion_tokens: { type: "integer", minimum: 1 },
                        temperature: { type: "number", minimum: 0, maximum: 2 },
                    },
                }),
                responses: { 200: { description: "a chat.completion, or a stream of chat.completion.chunk", content: { ...json(chatCompletion).content, ...chatCompletionEvents } }, 400: error, 404: error },
            },
        },
    },
} as const;
