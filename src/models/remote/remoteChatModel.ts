import { createParser } from "eventsource-parser";
import { ModelServerError, RequestAbortedError, YizhiError } from "../../errors.js";
import type { ChatModel, GenerateOptions, Generation } from "../models.js";
import { estimateTokens } from "./estimateTokens.js";
import { ModelServer, serverMessage } from "./modelServer.js";

export interface RemoteChatModelOptions {
    /** `openai`: streamed `POST /chat/completions` (server-sent events); `ollama`: streamed `POST /api/chat` (NDJSON). */
    protocol: "openai" | "ollama";
    /** Generation requests; its concurrency is the answers generated at once. */
    server: ModelServer;
    /** The server's root (its `/tokenize`, as llama-server and vLLM have), to count tokens exactly; none: estimated. */
    tokenizer?: ModelServer;
    /** The server's name for the model. */
    model: string;
    /** Tokens of the model's context on the server (Ollama is told it, as `num_ctx`). */
    contextSize: number;
    maxAnswerTokens: number;
    temperature: number;
    /** Longest wait for the first token, and between two tokens, in ms. */
    idleTimeoutMs: number;
}

/** One piece of a streamed answer: text, why it ends, the tokens it took, the end, or the server's error. */
type StreamEvent = { text: string } | { finish: Generation["finishReason"] } | { usage: Generation["usage"] } | { done: true } | { error: string };

/**
 * The answering model on a model server, streamed. Our client going away aborts the request, which
 * makes the server stop generating; a server that stops sending tokens, or breaks off mid-answer,
 * ends the answer with a `ModelServerError` instead of a hang.
 */
export class RemoteChatModel implements ChatModel {
    /** Whether the server counts tokens (`/tokenize`): unknown until asked. */
    private serverCounts: boolean | undefined;

    public constructor(private readonly options: RemoteChatModelOptions) {
        if (options.tokenizer == null) this.serverCounts = false;
    }

    public get contextSize(): number {
        return this.options.contextSize;
    }

    public get maxAnswerTokens(): number {
        return this.options.maxAnswerTokens;
    }

    public async countTokens(text: string): Promise<number> {
        const { tokenizer, model } = this.options;
        if (tokenizer == null || this.serverCounts === false) return estimateTokens(text);
        try {
            // llama-server reads `content`, vLLM `prompt` (and `model`); each ignores the others.
            const answer = await tokenizer.postJson("/tokenize", { model, content: text, prompt: text }) as { tokens?: unknown; count?: unknown };
            const count = typeof answer.count === "number" ? answer.count : Array.isArray(answer.tokens) ? answer.tokens.length : undefined;
            if (count == null) throw tokenizer.failed("answered /tokenize without tokens.");
            this.serverCounts = true;
            return count;
        } catch (error) {
            // A server without a working /tokenize (OpenAI itself, LM Studio) is estimated for from now on;
            // one that cannot be reached now will not generate either.
            if (error instanceof ModelServerError && error.code !== "model_unreachable") this.serverCounts = false;
            else if (this.serverCounts !== true) throw error;
            return estimateTokens(text);
        }
    }

    public generate(options: GenerateOptions): Promise<Generation> {
        return this.options.server.withSlot(options.signal, () => this.stream(options));
    }

    private async stream(options: GenerateOptions): Promise<Generation> {
        const { protocol, server, model, contextSize, idleTimeoutMs } = this.options;
        const maxAnswerTokens = Math.min(options.maxTokens ?? this.options.maxAnswerTokens, this.options.maxAnswerTokens);
        const temperature = options.temperature ?? this.options.temperature;
        const messages = [...(options.history ?? []), { role: "user", content: options.prompt }];
        const body = protocol === "openai"
            ? { model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: maxAnswerTokens, temperature }
            : { model, messages, stream: true, options: { num_ctx: contextSize, num_predict: maxAnswerTokens, temperature } };

        const upstream = new AbortController();
        const stopUpstream = () => upstream.abort();
        options.signal?.addEventListener("abort", stopUpstream, { once: true });
        let idle = false;
        let timer: NodeJS.Timeout | undefined;
        const watch = () => {
            clearTimeout(timer);
            timer = setTimeout(() => {
                idle = true;
                upstream.abort();
            }, idleTimeoutMs);
        };
        let answer = "";
        let finishReason: Generation["finishReason"] | undefined;
        let usage: Generation["usage"] | undefined;
        // A server that does not say what the answer took is estimated for.
        const generation = (reason: Generation["finishReason"]): Generation => ({
            text: answer,
            finishReason: reason,
            usage: usage ?? { promptTokens: messages.reduce((sum, message) => sum + estimateTokens(message.content), 0), completionTokens: estimateTokens(answer) },
        });
        try {
            watch();
            const response = await server.openStream(protocol === "openai" ? "/chat/completions" : "/api/chat", body, upstream.signal);
            if (response.body == null) throw server.failed("answered without a body.");
            const decoder = new TextDecoder();
            const events = protocol === "openai" ? openAiEvents() : ndjsonEvents();
            for await (const bytes of response.body) {
                watch();
                for (const event of events.feed(decoder.decode(bytes as Uint8Array, { stream: true }))) {
                    if ("error" in event) throw server.failed(`reported an error mid-answer: ${event.error}`);
                    if ("done" in event) return generation(finishReason ?? "stop");
                    if ("finish" in event) finishReason = event.finish;
                    if ("usage" in event) usage = event.usage;
                    if (!("text" in event) || event.text === "") continue;
                    answer += event.text;
                    options.onTextChunk?.(event.text);
                    // What is already read of the stream is not streamed on once the client has gone.
                    if (options.signal?.aborted === true) return generation("abort");
                }
            }
            // Some servers close after the finish reason without `[DONE]`.
            if (finishReason != null) return generation(finishReason);
            throw server.failed(`closed the connection mid-answer, after ${answer.length} characters.`);
        } catch (error) {
            // Our client went away: like a local answer, what was generated so far is the answer.
            if (options.signal?.aborted === true) {
                if (answer === "") throw new RequestAbortedError();
                return generation("abort");
            }
            if (idle) {
                throw server.error("model_unreachable", `sent no token for ${idleTimeoutMs / 1000} s${answer === "" ? "" : `, after ${answer.length} characters`};`,
                    `raise ${server.setting("TimeoutSeconds")} if it is only slow.`, { cause: error });
            }
            if (error instanceof YizhiError) throw error;
            throw server.failed(`closed the connection mid-answer, after ${answer.length} characters (${(error as Error).message}).`, { cause: error });
        } finally {
            clearTimeout(timer);
            options.signal?.removeEventListener("abort", stopUpstream);
            upstream.abort();
        }
    }
}

interface EventReader {
    /** The events completed by `text`, the next piece of the stream. */
    feed(text: string): StreamEvent[];
}

/** OpenAI's stream: server-sent events of `chat.completion.chunk`s, ending with `[DONE]`. */
function openAiEvents(): EventReader {
    let pending: StreamEvent[] = [];
    const parser = createParser({
        onEvent: ({ data }) => {
            if (data === "[DONE]") return void pending.push({ done: true });
            let chunk: {
                error?: unknown;
                choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[];
                usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
            };
            try {
                chunk = JSON.parse(data) as typeof chunk;
            } catch {
                return void pending.push({ error: `an event that is not JSON: ${data.slice(0, 200)}` });
            }
            if (chunk.error != null) return void pending.push({ error: serverMessage(JSON.stringify(chunk)) });
            const choice = chunk.choices?.[0];
            const text = choice?.delta?.content;
            if (typeof text === "string") pending.push({ text });
            if (choice?.finish_reason != null) pending.push({ finish: choice.finish_reason === "length" ? "length" : "stop" });
            const { prompt_tokens: promptTokens, completion_tokens: completionTokens } = chunk.usage ?? {};
            if (typeof promptTokens === "number" && typeof completionTokens === "number") pending.push({ usage: { promptTokens, completionTokens } });
        },
    });
    return {
        feed(text) {
            parser.feed(text);
            const events = pending;
            pending = [];
            return events;
        },
    };
}

/** Ollama's stream: one JSON object a line, the last with `done: true`. */
function ndjsonEvents(): EventReader {
    let buffer = "";
    return {
        feed(text) {
            buffer += text;
            const lines = buffer.split("\n");
            buffer = lines.pop() ?? "";
            const events: StreamEvent[] = [];
            for (const line of lines) {
                if (line.trim() === "") continue;
                let chunk: { error?: unknown; done?: unknown; done_reason?: unknown; message?: { content?: unknown }; prompt_eval_count?: unknown; eval_count?: unknown };
                try {
                    chunk = JSON.parse(line) as typeof chunk;
                } catch {
                    events.push({ error: `a line that is not JSON: ${line.slice(0, 200)}` });
                    continue;
                }
                if (chunk.error != null) events.push({ error: typeof chunk.error === "string" ? chunk.error : JSON.stringify(chunk.error) });
                else {
                    if (typeof chunk.message?.content === "string") events.push({ text: chunk.message.content });
                    if (chunk.done === true) {
                        const { prompt_eval_count: promptTokens, eval_count: completionTokens } = chunk;
                        if (typeof promptTokens === "number" && typeof completionTokens === "number") events.push({ usage: { promptTokens, completionTokens } });
                        events.push({ finish: chunk.done_reason === "length" ? "length" : "stop" }, { done: true });
                    }
                }
            }
            return events;
        },
    };
}
