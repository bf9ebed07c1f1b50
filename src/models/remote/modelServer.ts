import { setTimeout as sleep } from "node:timers/promises";
import { envNames } from "../../config/loadConfig.js";
import type { ConfigKey } from "../../config/schema.js";
import { ModelServerError, RequestAbortedError, type ModelServerErrorCode } from "../../errors.js";
import type { ModelProviderName, ModelRoleName } from "../models.js";
import { WaitQueue } from "../waitQueue.js";

export interface ModelServerOptions {
    role: ModelRoleName;
    provider: ModelProviderName;
    /** The API root, without a trailing slash: `http://gpu-box:8000/v1`. */
    baseUrl: string;
    /** The server's name for the model, for messages. */
    model: string;
    /** Sent as `Authorization: Bearer`; none by default. */
    apiKey?: string;
    /** Longest one attempt may take before the server answers (a stream: before its headers), in ms. */
    timeoutMs: number;
    /** Attempts after the first, for failures that may pass: unreachable, timed out, 408, 429, 5xx. */
    retries: number;
    /** Requests in flight at once; more wait. */
    concurrency: number;
    /** Requests that may wait for a free place; one more is refused with `QueueFullError`. Default: no limit. */
    maxQueued?: number;
    /** What to tell the operator when the server finds an input too long for the model. */
    tooLongHint: string;
}

/** The most a response body may hold: a batch of 2,048 vectors of 4,096 dimensions as JSON is about 150 MB. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
/** The wait before the second attempt, doubling for each one after, up to `MAX_BACKOFF_MS` (±25 %). */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8000;
/** A `Retry-After` longer than this fails the request at once instead of holding it. */
const MAX_RETRY_AFTER_MS = 60_000;
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

const roleLabels: Record<ModelRoleName, string> = { embedding: "embedding", llm: "LLM", reranker: "reranker" };
const apiNames: Record<ModelProviderName, string> = { local: "", openai: "an OpenAI-compatible API", ollama: "Ollama's API", tei: "a TEI server" };
const reasons: Record<ModelServerErrorCode, (label: string) => string> = {
    model_unreachable: (label) => `The ${label} server cannot be reached.`,
    model_server_refused: (label) => `The ${label} server refuses the requests.`,
    model_server_failed: (label) => `The ${label} server fails.`,
};

/**
 * One remote model server, for one role: JSON requests with a deadline each, tried again with
 * backoff (honouring `Retry-After`) when the failure may pass, and errors that say which setting to
 * change when it will not. Plain `fetch` rather than the `openai` SDK: one client serves the
 * OpenAI, Ollama and TEI APIs alike, always asks for float vectors (the SDK asks for base64, which
 * several servers break on), and keeps these rules in one place.
 */
export class ModelServer {
    public readonly label: string;
    private readonly slots: WaitQueue<number>;

    public constructor(public readonly options: ModelServerOptions) {
        this.label = roleLabels[options.role];
        this.slots = new WaitQueue(Array.from({ length: options.concurrency }, (_, i) => i), options.maxQueued ?? Number.POSITIVE_INFINITY);
    }

    /** Runs `job` once a place among the requests in flight is free (`QueueFullError` when the line is full). */
    public async withSlot<T>(signal: AbortSignal | undefined, job: () => Promise<T>): Promise<T> {
        const slot = await this.slots.acquire(signal);
        try {
            return await job();
        } finally {
            this.slots.release(slot);
        }
    }

    /** POSTs `body` as JSON to `path` under the API root and returns the JSON answer. */
    public postJson(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
        return this.withSlot(signal, () => this.attempt(path, body, signal, async (response, attemptSignal) => {
            const text = await readBounded(response, attemptSignal);
            try {
                return JSON.parse(text) as unknown;
            } catch (error) {
                throw this.failed(`answered ${path} with something that is not JSON: ${excerpt(text)}`, { cause: error });
            }
        }));
    }

    /**
     * POSTs `body` to `path` and returns the response once its headers say OK, for the caller to read
     * its streamed body. `signal` aborts the request and the stream (the server stops generating).
     * Call within `withSlot`.
     */
    public openStream(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
        return this.attempt(path, body, signal, (response) => Promise.resolve(response));
    }

    /**
     * The error `code` for this server, which `what` (a sentence without its subject, "closed the
     * connection") and `hint` (what to change) describe.
     */
    public error(code: ModelServerErrorCode, what: string, hint = "", options?: ErrorOptions): ModelServerError {
        const tail = `${what}${hint !== "" ? ` ${hint}` : ""}`;
        return new ModelServerError(code, `The ${this.label} server at ${this.options.baseUrl} ${tail}`, `The ${this.label} server ${tail}`, reasons[code](this.label), options);
    }

    /** The server answered what its API never does, or broke off. */
    public failed(what: string, options?: ErrorOptions): ModelServerError {
        return this.error("model_server_failed", what, "", options);
    }

    /** `config key (ENV_VARIABLE)` of a setting of this role. */
    public setting(suffix: "BaseUrl" | "ApiKey" | "Model" | "TimeoutSeconds" | "BatchSize" | "BatchTokens"): string {
        const key = `${this.options.role}${suffix}` as ConfigKey;
        return `${key} (${envNames[key]})`;
    }

    /** Tries `path` until it answers OK, then `read`s the response under the same deadline (a stream's body: without one). */
    private async attempt<T>(path: string, body: unknown, signal: AbortSignal | undefined, read: (response: Response, signal: AbortSignal) => Promise<T>): Promise<T> {
        const url = `${this.options.baseUrl}${path}`;
        const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream, application/x-ndjson" };
        if (this.options.apiKey != null) headers.authorization = `Bearer ${this.options.apiKey}`;
        const payload = JSON.stringify(body);
        for (let attempt = 0; ; attempt++) {
            if (signal?.aborted === true) throw new RequestAbortedError();
            const deadline = new AbortController();
            const timer = setTimeout(() => deadline.abort(), this.options.timeoutMs);
            const attemptSignal = signal != null ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
            let retryAfterMs: number | undefined;
            let failure: ModelServerError;
            try {
                const response = await fetch(url, { method: "POST", headers, body: payload, signal: attemptSignal });
                if (response.ok) return await read(response, attemptSignal);
                const text = await readBounded(response, attemptSignal).catch(() => "");
                const problem = this.problemOf(response.status, path, serverMessage(text));
                if (problem.code !== "model_unreachable") throw problem;
                failure = problem;
                retryAfterMs = retryAfterOf(response.headers.get("retry-after"));
            } catch (error) {
                if (aborted(signal)) throw new RequestAbortedError();
                // What the server refused, or answered wrongly, fails at once.
                if (error instanceof ModelServerError) throw error;
                failure = this.unreachable(error, deadline.signal.aborted);
            } finally {
                clearTimeout(timer);
            }
            if (attempt >= this.options.retries) throw this.withTries(failure, attempt + 1);
            if (retryAfterMs != null && retryAfterMs > MAX_RETRY_AFTER_MS) {
                throw this.error("model_unreachable", `asks to be tried again only after ${Math.round(retryAfterMs / 1000)} s, too long to wait (${failure.httpMessage}).`);
            }
            const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt) * (0.75 + Math.random() / 2);
            try {
                await sleep(retryAfterMs ?? backoff, undefined, signal != null ? { signal } : {});
            } catch {
                throw new RequestAbortedError();
            }
        }
    }

    private problemOf(status: number, path: string, message: string): ModelServerError {
        const said = `(HTTP ${status}${message !== "" ? `: ${message}` : ""})`;
        if (status === 401 || status === 403) return this.error("model_server_refused", `refused the API key ${said}.`, `Set ${this.setting("ApiKey")} to a key it accepts.`);
        if (status === 404) {
            return this.error("model_server_refused", `has no model "${this.options.model}" or no ${path} endpoint ${said}.`,
                `Set ${this.setting("Model")} to a model it serves, and ${this.setting("BaseUrl")} to its API root (for an OpenAI-compatible server, usually ending in /v1).`);
        }
        if (status === 413 || isInputTooLong(message)) return this.error("model_server_refused", `found an input too long ${said}.`, this.options.tooLongHint);
        if (RETRYABLE_STATUSES.has(status)) return this.error("model_unreachable", `failed ${said}.`);
        return this.error("model_server_refused", `refused the request ${said}.`,
            `Check that ${this.setting("BaseUrl")} is ${apiNames[this.options.provider]} and ${this.setting("Model")} one of its models.`);
    }

    private unreachable(error: unknown, timedOut: boolean): ModelServerError {
        if (timedOut) {
            return this.error("model_unreachable", `did not answer within ${this.options.timeoutMs / 1000} s;`, `raise ${this.setting("TimeoutSeconds")} if it is only slow.`, { cause: error });
        }
        const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
        const why = code === "ECONNREFUSED"
            ? "nothing listens there"
            : code === "ENOTFOUND" || code === "EAI_AGAIN"
                ? "its host name is not known"
                : code === "ECONNRESET" || code === "UND_ERR_SOCKET"
                    ? "it closed the connection"
                    : (error as Error | undefined)?.message ?? String(error);
        return this.error("model_unreachable", `cannot be reached (${why}).`, `Start it, or set ${this.setting("BaseUrl")} to where it runs.`, { cause: error });
    }

    private withTries(error: ModelServerError, tries: number): ModelServerError {
        if (tries === 1) return error;
        return new ModelServerError(error.code, `${error.message} (${tries} tries)`, `${error.httpMessage} (${tries} tries)`, error.reason, { cause: error });
    }
}

/** A function, so that the compiler does not take `signal.aborted` as fixed across an `await`. */
function aborted(signal: AbortSignal | undefined): boolean {
    return signal?.aborted === true;
}

/** Reads a response body of at most `MAX_RESPONSE_BYTES` as text. */
async function readBounded(response: Response, signal: AbortSignal): Promise<string> {
    if (response.body == null) return "";
    const decoder = new TextDecoder();
    let text = "";
    let bytes = 0;
    for await (const chunk of response.body) {
        if (signal.aborted) throw signal.reason;
        bytes += (chunk as Uint8Array).byteLength;
        if (bytes > MAX_RESPONSE_BYTES) throw new Error(`the response is larger than ${MAX_RESPONSE_BYTES} bytes`);
        text += decoder.decode(chunk as Uint8Array, { stream: true });
    }
    return text + decoder.decode();
}

/** The message of an error body in the shapes the servers use: OpenAI and llama-server, Ollama and TEI, vLLM. */
export function serverMessage(text: string): string {
    try {
        const body = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown };
        const error = body.error;
        const message = typeof error === "string"
            ? error
            : typeof (error as { message?: unknown } | undefined)?.message === "string"
                ? (error as { message: string }).message
                : typeof body.message === "string"
                    ? body.message
                    : typeof body.detail === "string" ? body.detail : text;
        return excerpt(message);
    } catch {
        return excerpt(text);
    }
}

function excerpt(text: string): string {
    const line = text.replace(/\s+/g, " ").trim();
    return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** What llama-server ("input is too large"), vLLM ("maximum context length", max_model_len) and Ollama ("exceeds the context length") say of an input too long. */
function isInputTooLong(message: string): boolean {
    return /too large|too long|exceeds? the (maximum )?context|maximum context length|max_model_len|context length/i.test(message);
}

/** `Retry-After` as seconds or an HTTP date, in ms. */
function retryAfterOf(header: string | null): number | undefined {
    if (header == null) return undefined;
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(header);
    return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
