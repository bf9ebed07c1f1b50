/**
 * The HTTP API. Every request carries the API key once the server has asked for one (401): the
 * key is asked for in a dialog, kept in sessionStorage, and the request is sent again.
 */
import { requestApiKey } from "./dialogs.js";
import { t } from "./i18n.js";
import { completeEvents, readServerSentEvents } from "./sse.js";

const keyStorage = "yizhi.apiKey";

/** An error the server answered with (`{ error: { code, message } }`), or a network failure. */
export class ApiError extends Error {
    /**
     * @param {number} status 0 when the server could not be reached
     * @param {string} code
     * @param {string} message
     * @param {Array<{ role: string, ok: boolean, error?: string }>} [models] what `/readyz` says of each model
     */
    constructor(status, code, message, models) {
        super(message);
        this.status = status;
        this.code = code;
        this.models = models;
    }
}

/** @returns {Record<string, string>} */
function authHeaders() {
    const key = sessionStorage.getItem(keyStorage);
    return key == null ? {} : { Authorization: `Bearer ${key}` };
}

/**
 * Gets a key from the user after a 401; throws when they cancel.
 * @returns {Promise<void>}
 */
async function obtainApiKey() {
    const key = await requestApiKey(sessionStorage.getItem(keyStorage) != null);
    if (key == null) throw new ApiError(401, "unauthorized", t("apiKeyRequired"));
    sessionStorage.setItem(keyStorage, key);
}

/**
 * Sends a request, asking for the API key and retrying as long as the server answers 401.
 * @param {(headers: Record<string, string>) => Promise<Response>} send
 * @returns {Promise<Response>}
 */
async function withApiKey(send) {
    for (;;) {
        let response;
        try {
            response = await send(authHeaders());
        } catch (error) {
            if (error instanceof DOMException && error.name === "AbortError") throw error;
            throw new ApiError(0, "network", t("networkError"));
        }
        if (response.status !== 401) return response;
        await obtainApiKey();
    }
}

/**
 * @param {number} status
 * @param {string} bodyText
 * @returns {ApiError}
 */
function errorFromBody(status, bodyText) {
    try {
        const { error, models } = JSON.parse(bodyText);
        if (typeof error?.message === "string") return new ApiError(status, String(error.code), error.message, Array.isArray(models) ? models : undefined);
    } catch {
        // Not JSON: a proxy's error page, or a body-size limit hit before our handler ran.
    }
    return new ApiError(status, "http_" + status, `HTTP ${status}`);
}

/**
 * A JSON request; resolves to the parsed body, or undefined for 204.
 * @param {string} method
 * @param {string} path relative, so the UI also works behind a path prefix
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
    const response = await withApiKey((headers) => fetch(path, {
        method,
        headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    }));
    if (!response.ok) throw errorFromBody(response.status, await response.text());
    return response.status === 204 ? undefined : response.json();
}

/** @param {string} kb */
export function kbPath(kb) {
    return `kbs/${encodeURIComponent(kb)}`;
}

/** @typedef {{ name: string, status: "ingested" | "unchanged" | "skipped" | "failed", chunks: number, reason?: string }} UploadResult */

/**
 * @typedef {object} FileProgress what the server has got to with a file, once its bytes are sent
 * @property {"parsing" | "ocr" | "embedding"} stage
 * @property {{ done: number, total: number }} [pages] while scanned pages or pictures are read by OCR
 * @property {number} chunksEmbedded
 * @property {number} chunks 0 while parsing
 */

/**
 * Uploads one file with XMLHttpRequest, whose upload progress events fetch does not offer, and
 * follows the server's progress (Server-Sent Events, read as the response arrives).
 * @param {string} kb
 * @param {File} file
 * @param {(fraction: number) => void} onSent fraction of the bytes sent, 0..1
 * @param {(progress: FileProgress) => void} onProgress the server's progress with the file
 * @returns {Promise<UploadResult>}
 */
export async function uploadFile(kb, file, onSent, onProgress) {
    for (;;) {
        /** @type {{ result?: UploadResult, error?: { code?: string, message?: string } }} what the stream ended with */
        const end = {};
        const { status, text } = await sendFile(`${kbPath(kb)}/documents`, file, onSent, ({ event, data }) => {
            const payload = JSON.parse(data);
            if (event === "progress" && payload.active?.[0] != null) onProgress(payload.active[0]);
            else if (event === "done") end.result = payload.files?.[0];
            else if (event === "error") end.error = payload.error ?? {};
        });
        if (status === 401) {
            await obtainApiKey();
            continue;
        }
        if (status === 0) throw new ApiError(0, "network", t("networkError"));
        if (status < 200 || status >= 300) throw errorFromBody(status, text);
        if (end.error != null) throw new ApiError(500, String(end.error.code), String(end.error.message));
        if (end.result == null) throw new ApiError(status, "invalid_stream", t("invalidStream"));
        return end.result;
    }
}

/**
 * @param {string} url
 * @param {File} file
 * @param {(fraction: number) => void} onSent
 * @param {(event: { event: string, data: string }) => void} onEvent each server-sent event, as it arrives
 * @returns {Promise<{ status: number, text: string }>}
 */
function sendFile(url, file, onSent, onEvent) {
    const form = new FormData();
    form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "text/event-stream");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onSent(event.loaded / event.total);
    });
    let handled = 0;
    const readEvents = () => {
        if (!(xhr.getResponseHeader("Content-Type") ?? "").startsWith("text/event-stream")) return;
        const events = completeEvents(xhr.responseText);
        for (const event of events.slice(handled)) onEvent(event);
        handled = events.length;
    };
    xhr.addEventListener("progress", readEvents);
    return new Promise((resolve) => {
        xhr.addEventListener("loadend", () => {
            readEvents();
            resolve({ status: xhr.status, text: xhr.responseText });
        });
        xhr.send(form);
    });
}

/**
 * @typedef {object} AnswerSource
 * @property {number} n
 * @property {string} documentId
 * @property {number} chunkIndex its position among its document's chunks
 * @property {string} source
 * @property {string} [name]
 * @property {number} [page]
 * @property {string[]} [headingPath]
 * @property {{ confidence: number }} [ocr] set when the text was read by OCR
 * @property {number} score
 * @property {{ dense?: number, lexical?: number, fused?: number, rerank?: number }} [scores]
 * @property {string} text
 */

/**
 * @typedef {object} AskHandlers
 * @property {(sources: AnswerSource[]) => void} onSources
 * @property {(text: string) => void} onToken
 * @property {(done: { answer: string, refused: boolean }) => void} onDone
 */

/**
 * Asks a question and follows the answer as Server-Sent Events. EventSource cannot POST or send
 * an Authorization header, so the stream is read from fetch.
 * @param {Record<string, unknown>} request the /ask body, without `stream`
 * @param {AskHandlers} handlers
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
export async function askStreaming(request, handlers, signal) {
    const response = await withApiKey((headers) => fetch("ask", {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ ...request, stream: true }),
        signal,
    }));
    if (!response.ok) throw errorFromBody(response.status, await response.text());
    if (response.body == null) throw new ApiError(response.status, "invalid_stream", t("invalidStream"));
    for await (const { event, data } of readServerSentEvents(response.body)) {
        const payload = JSON.parse(data);
        if (event === "sources") handlers.onSources(payload.sources);
        else if (event === "token") handlers.onToken(payload.text);
        else if (event === "done") return handlers.onDone(payload);
        else if (event === "error") throw new ApiError(500, String(payload.error?.code), String(payload.error?.message));
    }
    throw new ApiError(response.status, "invalid_stream", t("invalidStream"));
}
