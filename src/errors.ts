/**
 * Every error Yizhi raises on purpose is a `YizhiError`: its `code` is stable (the HTTP API and the
 * CLI's `--json` output carry it) and its message tells a person what to do next.
 */
export class YizhiError extends Error {
    public readonly code: string;

    public constructor(code: string, message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = new.target.name;
        this.code = code;
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

export class KnowledgeBaseNotFoundError extends YizhiError {
    public constructor(public readonly kb: string) {
        super("kb_not_found", `Knowledge base "${kb}" does not exist. Create it by ingesting into it: yizhi ingest <paths...> --kb ${kb}`);
    }
}

export class DocumentNotFoundError extends YizhiError {
    public constructor(public readonly kb: string, public readonly documentId: string) {
        super("document_not_found", `Knowledge base "${kb}" has no document with id "${documentId}". List them with: yizhi docs list --kb ${kb}`);
    }
}

/** Another process holds the knowledge base's write lock. */
export class KnowledgeBaseBusyError extends YizhiError {
    public constructor(public readonly kb: string, options?: ErrorOptions) {
        super("kb_busy", `Knowledge base "${kb}" is being written by another Yizhi process. Wait for it to finish and try again.`, options);
    }
}

/** The knowledge base was built with another embedding model than the one configured now. */
export class EmbedderMismatchError extends YizhiError {
    public constructor(kb: string, stored: string, configured: string) {
        super(
            "embedder_mismatch",
            `Knowledge base "${kb}" was built with the embedding model ${stored}, but ${configured} is configured. ` +
            "Configure the original embedding model, or re-ingest the documents into a new knowledge base."
        );
    }
}

/** Stored files that cannot be read back; nothing is written over them. */
export class CorruptKnowledgeBaseError extends YizhiError {
    public constructor(kb: string, detail: string, options?: ErrorOptions) {
        super("kb_corrupt", `Knowledge base "${kb}" cannot be opened: ${detail}`, options);
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

/** Every answer slot is busy and the waiting line is full. */
export class QueueFullError extends YizhiError {
    public constructor(sequences: number, maxQueued: number) {
        super("queue_full", `All ${sequences} answer slots are busy and ${maxQueued} questions are already waiting. Try again shortly.`);
    }
}
