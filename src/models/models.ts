import type { EmbeddingsInterface } from "@langchain/core/embeddings";

/** What each model is for. */
export type ModelRoleName = "embedding" | "llm" | "reranker";

/** Where a model runs: in this process (node-llama-cpp), or on a server speaking the OpenAI, Ollama or TEI API. */
export type ModelProviderName = "local" | "openai" | "ollama" | "tei";

export interface EmbedderIdentity {
    /** Names the weights; two embedders with the same id give the same vectors. */
    id: string;
    dimension: number;
    /**
     * A remote embedder's vector of `FINGERPRINT_PROBE`: stored with a knowledge base at its creation
     * and compared when it is opened, so that a server that swapped the model behind the same name is
     * caught before its vectors are mixed into the index. Local embedders, identified by their file, have none.
     */
    fingerprint?: readonly number[];
}

/** The text whose vector is an embedder's fingerprint. */
export const FINGERPRINT_PROBE = "已知 Yizhi embedding fingerprint: 知识库问答 knowledge-base question answering.";

/** LangChain's embeddings, and which weights make them. */
export interface Embedder extends EmbeddingsInterface {
    /**
     * Reads a local model's header, or asks a remote server for its fingerprint once (then
     * remembered; with `fresh`, asked again: before writing, what the server serves now is what counts).
     */
    identity(options?: { fresh?: boolean }): Promise<EmbedderIdentity>;
}

/** An earlier exchange of a conversation, oldest first. */
export interface ChatTurn {
    role: "user" | "assistant";
    content: string;
}

export interface GenerateOptions {
    prompt: string;
    history?: readonly ChatTurn[];
    /** Most tokens of this answer; default and at most the model's `maxAnswerTokens`. */
    maxTokens?: number;
    /** Sampling temperature of this answer, 0..2; default the model's configured one. */
    temperature?: number;
    /** Stops the generation; the text generated so far is returned. */
    signal?: AbortSignal;
    onTextChunk?: (text: string) => void;
}

/** An answer as generated. */
export interface Generation {
    text: string;
    /** `stop`: the model ended its answer; `length`: it was cut at the token budget; `abort`: the client went away. */
    finishReason: "stop" | "length" | "abort";
    /** Tokens the model read (the prompt with the history and its chat format) and wrote, as it counted them (or estimated, where a server does not say). */
    usage: { promptTokens: number; completionTokens: number };
}

/** The answering model. */
export interface ChatModel {
    /** Tokens of one conversation: prompt, history and answer together. */
    readonly contextSize: number;
    /** Most tokens an answer may have. */
    readonly maxAnswerTokens: number;
    /** Tokens `text` takes: by the model's own tokenizer, or a conservative estimate where a server has none to ask. */
    countTokens(text: string): Promise<number>;
    /**
     * Generates the reply to `prompt`, streaming its text to `onTextChunk`, and returns it whole.
     * Waits for a free answer slot (`QueueFullError` when the line is full); an abort while waiting
     * rejects with `RequestAbortedError`.
     */
    generate(options: GenerateOptions): Promise<Generation>;
}

/** Scores documents for relevance to a query, 0..1, higher is more relevant (a cross-encoder). */
export interface Reranker {
    rank(query: string, documents: readonly string[]): Promise<number[]>;
}

/** What trying one configured model found. */
export interface ModelCheck {
    role: ModelRoleName;
    provider: ModelProviderName;
    /** The model's file or server name. */
    model: string;
    ok: boolean;
    /** What works (the dimension, the context size) or what failed and what to change. */
    detail: string;
    /** What was thrown, when not `ok`. */
    error?: unknown;
}

/** The models Yizhi answers with, one per role, each loaded or reached on first use. */
export interface Models {
    readonly embeddings: Embedder;
    getChatModel(): Promise<ChatModel>;
    /** The configured reranker; undefined when none is configured. */
    getReranker(): Promise<Reranker> | undefined;
    /** Tries each configured model once: loads a local one, sends one small request to a remote one. */
    check(): Promise<ModelCheck[]>;
    dispose(): Promise<void>;
}
