import os from "node:os";
import { roleNeeded, type Permission, type Principal } from "./keys/principal.js";

/**
 * Every error code Yizhi gives, with the HTTP status it is answered with. The HTTP API and the
 * CLI's `--json` output carry the code; adding a code without a status does not type-check.
 */
export const errorStatus = {
    // The request is the client's to fix.
    bad_request: 400,
    invalid_request: 400,
    malformed_json: 400,
    invalid_question: 400,
    invalid_kb_name: 400,
    invalid_file_name: 400,
    invalid_upload: 400,
    no_files: 400,
    path_not_found: 400,
    unauthorized: 401,
    forbidden: 403,
    forbidden_host: 403,
    forbidden_origin: 403,
    not_found: 404,
    method_not_allowed: 405,
    kb_not_found: 404,
    document_not_found: 404,
    conversation_not_found: 404,
    ambiguous_document: 400,
    kb_exists: 409,
    kb_busy: 409,
    kb_lock_lost: 409,
    embedder_mismatch: 409,
    body_too_large: 413,
    file_too_large: 413,
    upload_too_large: 413,
    unreadable_file: 422,
    rate_limited: 429,
    // nginx's "client closed request": nobody reads the answer, it is only logged.
    request_aborted: 499,
    // The server's own state or setup.
    internal_error: 500,
    insufficient_storage: 507,
    invalid_config: 500,
    address_in_use: 500,
    invalid_eval_file: 500,
    invalid_key: 500,
    invalid_prompt_template: 500,
    missing_prompt_template: 500,
    kb_corrupt: 500,
    kb_closed: 500,
    model_cannot_rank: 500,
    // A remote model server refused what it was sent (a wrong key, an unknown model, an input too long) or answered nonsense.
    model_server_refused: 502,
    model_server_failed: 502,
    not_ready: 503,
    storage_unavailable: 503,
    queue_full: 503,
    model_not_found: 503,
    model_unreachable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;

/**
 * Every error Yizhi raises on purpose is a `YizhiError`: its `code` is stable (the HTTP API and the
 * CLI's `--json` output carry it) and its message tells a person what to do next.
 */
export class YizhiError extends Error {
    public readonly code: ErrorCode;
    /** What an API client is told: `message`, unless that names the server's folders or hosts, or gives command-line advice. */
    public httpMessage: string;

    public constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = new.target.name;
        this.code = code;
        this.httpMessage = message;
    }
}

/** Configuration that fails validation; the message names the setting and where it came from. */
export class ConfigError extends YizhiError {
    public constructor(message: string, options?: ErrorOptions) {
        super("invalid_config", message, options);
    }
}

/** A knowledge-base name that is not allowed, or one that does not exist. */
export class KnowledgeBaseNameError extends YizhiError {
    public constructor(message: string) {
        super("invalid_kb_name", message);
    }
}

export class KnowledgeBaseExistsError extends YizhiError {
    public constructor(public readonly kb: string) {
        super("kb_exists", `Knowledge base "${kb}" already exists.`);
    }
}

/**
 * `message` is for the person at the command line: where it looked, what exists, how to create it.
 * Over HTTP `httpMessage` is sent instead, which names no server folder and no other knowledge base.
 */
export class KnowledgeBaseNotFoundError extends YizhiError {
    public constructor(public readonly kb: string, where?: { dataDir: string; existing: readonly string[] }) {
        const suggestion = where != null ? closestName(kb, where.existing) : undefined;
        super("kb_not_found", [
            `Knowledge base "${kb}" does not exist${where != null ? ` in ${where.dataDir}` : ""}.`,
            ...(suggestion != null ? [`Did you mean "${suggestion}"?`] : []),
            ...(where != null ? [where.existing.length > 0 ? `Knowledge bases there: ${where.existing.join(", ")}.` : "There are no knowledge bases there yet."] : []),
            `Create it by ingesting into it: yizhi ingest <paths...> --kb ${kb}`,
        ].join(" "));
        this.httpMessage = `Knowledge base "${kb}" does not exist.`;
    }
}

/** The name in `names` closest to `name` (ignoring case, within an edit distance of 2), if any. */
function closestName(name: string, names: readonly string[]): string | undefined {
    let best: { name: string; distance: number } | undefined;
    for (const candidate of names) {
        const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
        if (distance <= 2 && (best == null || distance < best.distance)) best = { name: candidate, distance };
    }
    return best?.name;
}

function editDistance(a: string, b: string): number {
    const left = [...a];
    const right = [...b];
    let previous = Array.from({ length: right.length + 1 }, (_, j) => j);
    for (let i = 1; i <= left.length; i++) {
        const current = [i];
        for (let j = 1; j <= right.length; j++) current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (left[i - 1] === right[j - 1] ? 0 : 1)));
        previous = current;
    }
    return previous[right.length]!;
}

/** Over HTTP `httpMessage` is sent instead of the command-line advice. */
export class DocumentNotFoundError extends YizhiError {
    public constructor(public readonly kb: string, public readonly documentId: string) {
        super("document_not_found", `Knowledge base "${kb}" has no document "${documentId}". List them with: yizhi docs list --kb ${kb}`);
        this.httpMessage = `Knowledge base "${kb}" has no document "${documentId}".`;
    }
}

export class ConversationNotFoundError extends YizhiError {
    public constructor(kb: string, id: string) {
        super("conversation_not_found", `Knowledge base "${kb}" has no conversation "${id}".`);
    }
}

/** A document named by a start of its id or a file name that several documents share; over HTTP, `httpMessage` names them by id only. */
export class AmbiguousDocumentError extends YizhiError {
    public constructor(kb: string, given: string, matches: readonly { id: string; source: string }[]) {
        super("ambiguous_document", `"${given}" names ${matches.length} documents of "${kb}": ${matches.map(({ id, source }) => `${id} (${source})`).join(", ")}. Give more of the id.`);
        this.httpMessage = `"${given}" names ${matches.length} documents of "${kb}": ${matches.map(({ id }) => id).join(", ")}. Use the id.`;
    }
}

/** Another process holds the knowledge base's write lock. */
export class KnowledgeBaseBusyError extends YizhiError {
    public constructor(public readonly kb: string, options?: ErrorOptions) {
        super("kb_busy", `Knowledge base "${kb}" is being written by another Yizhi process. Wait for it to finish and try again.`, options);
    }
}

/**
 * The knowledge base was built with another embedding model than the one configured now; with
 * `changed`, the same name now gives other vectors (a server that swapped the model behind it).
 */
export class EmbedderMismatchError extends YizhiError {
    public constructor(kb: string, stored: string, configured: string, changed?: string) {
        super(
            "embedder_mismatch",
            changed == null
                ? `Knowledge base "${kb}" was built with the embedding model ${stored}, but ${configured} is configured. ` +
                "Configure the original embedding model, or re-ingest the documents into a new knowledge base."
                : `Knowledge base "${kb}" was built with the embedding model ${stored}, but the server now gives other vectors under that name (${changed}): ` +
                    "it serves another model, or another version of it. Serve the original model again, or re-ingest the documents into a new knowledge base.",
        );
    }
}

/** Stored files that cannot be read back; nothing is written over them. */
export class CorruptKnowledgeBaseError extends YizhiError {
    /** The damaged file, relative to the knowledge base's folder, when one is known. */
    public readonly file: string | undefined;

    public constructor(kb: string, detail: string, options?: ErrorOptions & { file?: string }) {
        super("kb_corrupt", `Knowledge base "${kb}" cannot be opened: ${detail}`, options);
        this.file = options?.file;
    }
}

/** A file that cannot be turned into text; `reason` is meant for the person who owns the file. */
export class UnreadableFileError extends YizhiError {
    public constructor(public readonly reason: string, options?: ErrorOptions) {
        super("unreadable_file", reason, options);
    }
}

/** A model file that is missing, or an `hf:` URI that cannot be fetched. */
export class ModelNotFoundError extends YizhiError {
    public constructor(message: string, options?: ErrorOptions) {
        super("model_not_found", message, options);
    }
}

/**
 * Models that could not be loaded or reached when the server tried them (the code is theirs when
 * they share one, else `not_ready`): `message` (for the log)
 * has each one's own message, which names files and hosts; `reason` (for `/readyz`) names neither.
 */
export class ModelsNotReadyError extends YizhiError {
    public readonly reason: string;

    public constructor(public readonly failures: readonly { role: string; error?: unknown }[]) {
        super(sharedCode(failures.map(({ error }) => error)), failures.map(({ error }) => (error instanceof Error ? error.message : String(error))).join("\n"));
        const roles = failures.map(({ role }) => (role === "llm" ? "LLM" : role));
        const named = roles.length === 1 ? `The ${roles[0]} model is` : `The ${roles.slice(0, -1).join(", ")} and ${roles.at(-1)} models are`;
        const serverReason = failures.map(({ error }) => error).find((error): error is ModelServerError => error instanceof ModelServerError)?.reason;
        this.reason = failures.every(({ error }) => error instanceof ModelNotFoundError)
            ? `${named} not on the server: run "yizhi models pull" there (or set the model paths) and the server picks them up within seconds; its log names the files.`
            : serverReason ?? "The models could not be loaded; the server's log says why.";
    }
}

/** The failures' code when they all have the same one (`model_not_found`, `model_unreachable`), else `not_ready`. */
function sharedCode(errors: readonly unknown[]): ErrorCode {
    const codes = new Set(errors.map((error) => (error instanceof YizhiError ? error.code : "not_ready")));
    return codes.size === 1 ? [...codes][0]! : "not_ready";
}

export type ModelServerErrorCode = "model_server_refused" | "model_server_failed" | "model_unreachable";

/**
 * A remote model server that cannot be used: unreachable or timing out (`model_unreachable`),
 * refusing what it was sent (`model_server_refused`: a wrong key, an unknown model, an input too
 * long), or failing mid-answer or answering what no API returns (`model_server_failed`).
 */
export class ModelServerError extends YizhiError {
    declare public readonly code: ModelServerErrorCode;

    /**
     * @param message for the operator: which server, what it said, which setting to change.
     * @param httpMessage the same without the server's address, for API clients.
     * @param reason in a few words, for anyone who asks `/readyz`.
     */
    public constructor(code: ModelServerErrorCode, message: string, httpMessage: string, public readonly reason: string, options?: ErrorOptions) {
        super(code, message, options);
        this.httpMessage = httpMessage;
    }
}

/** Every answer slot is busy and the waiting line is full. */
export class QueueFullError extends YizhiError {
    public constructor(sequences: number, maxQueued: number) {
        super("queue_full", `All ${sequences} answer slots are busy and ${maxQueued} questions are already waiting. Try again shortly.`);
    }
}

/**
 * A writer that lost its write lock, or whose knowledge base was committed by another writer since
 * it opened: its changes are not committed, and what the other writer committed stays.
 */
export class KnowledgeBaseLockLostError extends YizhiError {
    public constructor(public readonly kb: string, why: string, options?: ErrorOptions) {
        super(
            "kb_lock_lost",
            `Nothing was committed to knowledge base "${kb}": this writer lost its write lock (${why}). ` +
            "Another Yizhi process may have written to it meanwhile; run the ingest or upload again.",
            options,
        );
    }
}

/** The database holding the knowledge bases cannot be used: unreachable, refusing the credentials, or without pgvector. */
export class StorageUnavailableError extends YizhiError {
    /**
     * @param message for the server's operator: which database, which user, what to do.
     * @param reason the same for anyone who asks `/readyz`, naming no host or user.
     */
    public constructor(message: string, public readonly reason: string, options?: ErrorOptions) {
        super("storage_unavailable", message, options);
    }
}

/** A knowledge base used after `close()`. */
export class KnowledgeBaseClosedError extends YizhiError {
    public constructor(kb: string) {
        super("kb_closed", `Knowledge base "${kb}" was used after it was closed.`);
    }
}

/** The disk (or quota) holding a knowledge base is full; the commit that hit it left nothing behind. */
export class InsufficientStorageError extends YizhiError {
    public constructor(kb: string, options?: ErrorOptions) {
        super("insufficient_storage", `The disk holding knowledge base "${kb}" is full: nothing was committed. Free some space and try again.`, options);
    }
}

/**
 * Whether `error` is the file system's "no space left" (or "quota exceeded"): as Node names it, or
 * as a native library gives it, the errno number (LMDB, through lmdb-js).
 */
export function isDiskFull(error: unknown): boolean {
    const code = (error as { code?: unknown } | undefined)?.code;
    return code === "ENOSPC" || code === "EDQUOT" || code === os.constants.errno.ENOSPC || code === os.constants.errno.EDQUOT;
}

/** A `YizhiError` for a write that found the disk full outside a commit (which has its own, naming the knowledge base). */
export function diskFullError(error: unknown): YizhiError {
    return new YizhiError("insufficient_storage", "The disk holding the data directory is full: nothing was changed. Free some space and try again.", { cause: error });
}

/** The client went away before its question was answered (it disconnected while waiting). */
export class RequestAbortedError extends YizhiError {
    public constructor() {
        super("request_aborted", "The client went away before the answer was ready.");
    }
}

/** A key that cannot be added or removed, or a keys file that cannot be read. */
export class KeyError extends YizhiError {
    public constructor(message: string) {
        super("invalid_key", message);
    }
}

const doing: Record<Permission, string> = {
    read: "read or ask",
    write: "upload to or delete from",
    manage: "create or delete",
};

/** A key that may not do what was asked; the message names the permission it lacks. */
export class ForbiddenError extends YizhiError {
    public constructor(principal: Principal, permission: Permission, kb?: string) {
        const what = permission === "manage" ? "create or delete knowledge bases" : `${doing[permission]} knowledge base "${kb ?? ""}"`;
        super("forbidden",
            `The key "${principal.name}" (${principal.role}) may not ${what}: that needs the ${roleNeeded(permission)} role${permission === "manage" ? "" : ` for "${kb ?? ""}"`}.`);
    }
}

/** `yizhi serve` cannot listen where it was told to. */
export class ListenError extends YizhiError {
    public constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
        super("address_in_use", cause.code === "EADDRINUSE"
            ? `Port ${port} on ${host} is in use by another program; choose another with --port (or YIZHI_PORT).`
            : `Cannot listen on ${host}:${port}: ${cause.message}. Choose another address with --host and --port.`, { cause });
    }
}

/** None of the paths given to ingest exists: nothing is created. */
export class PathsNotFoundError extends YizhiError {
    public constructor(paths: readonly string[]) {
        super("path_not_found", `Nothing to ingest: ${paths.map((given) => `"${given}"`).join(", ")} ${paths.length === 1 ? "does" : "do"} not exist. No knowledge base was created or changed.`);
    }
}
