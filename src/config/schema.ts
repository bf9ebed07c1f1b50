import { z } from "zod";
import { defaultParseLimits } from "../../ingest/limits.js";
import { defaultOcrSettings, ocrLanguages, type OcrLanguage } from "../../ingest/ocr/ocrEngine.js";

/** Recommended models for real use (see README: "Models"). Both are downloaded by `yizhi models pull`. */
export const DEFAULT_LLM_MODEL = "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf";
export const DEFAULT_EMBEDDING_MODEL = "hf:CompendiumLabs/bge-small-zh-v1.5-gguf/bge-small-zh-v1.5-q8_0.gguf";

const httpUrl = z.string().regex(/^https?:\/\/[^\s/]/i, "must be an http:// or https:// URL").transform((url) => url.replace(/\/+$/, ""));

/**
 * The one configuration object. Every field has a documented default; the README's configuration
 * reference lists the same fields with their environment variables.
 */
export const configSchema = z.object({
    /** Where knowledge bases are kept: `file` (folders under `dataDir`) or `postgres` (the database at `databaseUrl`, shared by several servers). */
    storage: z.enum(["file", "postgres"]).default("file"),
    /** Folder holding one sub-folder per knowledge base (with `storage: file`), and the API keys. */
    dataDir: z.string().min(1).default("./storage"),
    /** With `storage: postgres`: a `postgres://user:password@host:5432/database` URL of a PostgreSQL with pgvector. */
    databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
    /** With `storage: postgres`: connections each Yizhi process may hold. */
    databasePoolSize: z.number().int().min(1).max(1000).default(10),
    /** Folder that `models pull` downloads `hf:` models into, and where `hf:` URIs are resolved. */
    modelsDir: z.string().min(1).default("./models"),
    /** The instruct model that writes answers: a local GGUF path or an `hf:` URI; with a remote `llmProvider`, the server's name for it. */
    llmModel: z.string().min(1).default(DEFAULT_LLM_MODEL),
    /** The embedding model: a local GGUF path or an `hf:` URI; with a remote `embeddingProvider`, the server's name for it. */
    embeddingModel: z.string().min(1).default(DEFAULT_EMBEDDING_MODEL),
    /** Where the embedding model runs: `local` (in this process), `openai` (any OpenAI-compatible server) or `ollama` (its native API). */
    embeddingProvider: z.enum(["local", "openai", "ollama"]).default("local"),
    /** A remote embedding server's API root: `http://gpu-box:8000/v1` (openai), `http://127.0.0.1:11434` (ollama, its default). */
    embeddingBaseUrl: httpUrl.optional(),
    /** Sent as `Authorization: Bearer` to the embedding server. */
    embeddingApiKey: z.string().min(1).optional(),
    /** Longest one request to the embedding server may take, in seconds; then it is tried again or fails. */
    embeddingTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
    /** Times a failed request to the embedding server (unreachable, 429, 5xx) is tried again, with backoff. */
    embeddingRetries: z.number().int().min(0).max(10).default(3),
    /** Requests to the embedding server in flight at once. */
    embeddingConcurrency: z.number().int().min(1).max(64).default(2),
    /** Texts in one request to the embedding server (TEI accepts 32 by default). */
    embeddingBatchSize: z.number().int().min(1).max(2048).default(32),
    /** Estimated tokens of the texts in one request to the embedding server. */
    embeddingBatchTokens: z.number().int().min(64).max(1_000_000).default(8192),
    /** Where the answering model runs: `local`, `openai` or `ollama`. */
    llmProvider: z.enum(["local", "openai", "ollama"]).default("local"),
    /** A remote LLM server's API root, as for `embeddingBaseUrl`. */
    llmBaseUrl: httpUrl.optional(),
    /** Sent as `Authorization: Bearer` to the LLM server. */
    llmApiKey: z.string().min(1).optional(),
    /** Longest wait for a remote LLM's first token, and between two tokens, in seconds. */
    llmTimeoutSeconds: z.number().int().min(1).max(3600).default(120),
    /** Times a request to the LLM server that failed before its first token (unreachable, 429, 5xx) is tried again. */
    llmRetries: z.number().int().min(0).max(10).default(2),
    /** Where the reranker runs: `local`, `openai` (the Jina/Cohere `/rerank` API: llama-server, vLLM, Xinference) or `tei` (Hugging Face TEI). */
    rerankerProvider: z.enum(["local", "openai", "ollama", "tei"]).default("local"),
    /** A remote reranker's API root: `http://gpu-box:8080/v1` (openai: `/rerank` is added), `http://gpu-box:8080` (tei). */
    rerankerBaseUrl: httpUrl.optional(),
    /** Sent as `Authorization: Bearer` to the reranker server. */
    rerankerApiKey: z.string().min(1).optional(),
    /** Longest one request to the reranker server may take, in seconds. */
    rerankerTimeoutSeconds: z.number().int().min(1).max(3600).default(30),
    /** Times a failed request to the reranker server is tried again, with backoff. */
    rerankerRetries: z.number().int().min(0).max(10).default(2),
    /** Requests to the reranker server in flight at once. */
    rerankerConcurrency: z.number().int().min(1).max(64).default(2),
    /**
     * How a remote reranker's scores map to the 0..1 the threshold needs: `probability` (taken as they
     * are: vLLM, TEI, Jina, Cohere), `logit` (through the logistic function: llama-server), or `auto`
     * (logit when a response has any score outside 0..1).
     */
    rerankerScores: z.enum(["auto", "probability", "logit"]).default("auto"),
    /** `auto` uses CUDA, Vulkan or Metal when present and the CPU otherwise. */
    gpu: z.enum(["auto", "cuda", "vulkan", "metal", "cpu"]).default("auto"),
    /** Threads for evaluating tokens; 0 lets node-llama-cpp choose (all cores). */
    threads: z.number().int().min(0).default(0),
    /** Context size (tokens) of the answering model: prompt, retrieved chunks and answer together. */
    contextSize: z.number().int().min(512).default(4096),
    /** Context size (tokens) of the embedding model; longer chunks are truncated to it. */
    embeddingContextSize: z.number().int().min(32).default(512),
    /** Embedding contexts of the one loaded embedding model, embedding in parallel; 0: twice cores ÷ `threads`, at most 4 (1 when `threads` is 0). */
    embeddingContexts: z.number().int().min(0).max(16).default(0),
    /** Most tokens an answer may have. */
    maxAnswerTokens: z.number().int().min(1).default(512),
    /** Sampling temperature for answers; low keeps them close to the sources. */
    temperature: z.number().min(0).max(2).default(0.1),
    /** Questions answered at the same time (sequences of the chat context; with a remote LLM, requests in flight). */
    parallelAnswers: z.number().int().min(1).max(64).default(2),
    /** Chunk size in characters. */
    chunkSize: z.number().int().min(50).default(400),
    /** Characters shared by consecutive chunks. */
    chunkOverlap: z.number().int().min(0).default(50),
    /** Optional cross-encoder reranker (a local GGUF path or an `hf:` URI, or the server's name for it), e.g. bge-reranker-v2-m3. */
    rerankerModel: z.string().min(1).optional(),
    /** Chunks retrieved per question. */
    topK: z.number().int().min(1).max(100).default(5),
    /** `dense` (embeddings), `bm25` (words) or `hybrid` (both, fused by reciprocal rank). */
    retrievalMode: z.enum(["dense", "bm25", "hybrid"]).default("hybrid"),
    /** Lowest cosine similarity (-1..1, higher is more similar) that lets a chunk through in `dense` and `hybrid` modes. */
    scoreThreshold: z.number().min(-1).max(1).default(0.5),
    /** Lowest BM25 relevance (0..1, about the share of the question's words a chunk has) that lets a chunk through in `bm25` and `hybrid` modes. */
    lexicalThreshold: z.number().min(0).max(1).default(0.3),
    /** With a reranker: the lowest reranker score (0..1) a chunk needs; then the two thresholds above do not apply. */
    rerankThreshold: z.number().min(0).max(1).default(0.3),
    /** Reciprocal-rank fusion's k: how much the top of each ranked list outweighs the rest (smaller: more). */
    rrfK: z.number().int().min(1).default(60),
    /** Chunks each search contributes before fusion, and that the reranker re-scores. */
    retrievalCandidates: z.number().int().min(1).max(1000).default(20),
    /** Language of prompts and answers; `auto` answers in Chinese when the question has Chinese characters. */
    answerLanguage: z.enum(["auto", "zh", "en"]).default("auto"),
    /** Questions that may wait for a free sequence; more are refused with 503 until one frees. */
    maxQueuedQuestions: z.number().int().min(0).default(16),
    /** Address `yizhi serve` listens on; loopback unless you mean to expose it. */
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8080),
    /** What `serve` logs: `info` is a line per request and per error; `warn` only failed requests (4xx, 5xx) and errors; `silent` nothing. */
    logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    /**
     * Host names (comma-separated) the server answers to, against DNS rebinding. Unset: the loopback
     * names when `host` is a loopback address, any name otherwise.
     */
    allowedHosts: z.string().min(1).optional(),
    /** When set, every API request needs `Authorization: Bearer <apiKey>`. */
    apiKey: z.string().min(1).optional(),
    /** Largest file one upload may carry, in bytes. */
    maxUploadBytes: z.number().int().min(1).default(100 * 1024 * 1024),
    /** Largest total of the files of one upload request, in bytes: what one request can make the server hold. */
    maxUploadRequestBytes: z.number().int().min(1).default(256 * 1024 * 1024),
    /** Processes that read (parse) files, each one file at a time; a hostile file harms only its own. */
    parseProcesses: z.number().int().min(1).max(64).default(2),
    /** Longest one file may take to read, in seconds; then it fails. */
    parseTimeoutSeconds: z.number().int().min(1).default(120),
    /** Memory one file's reading may use, in MB (resident); then it fails. OCR of a page takes 1.1–1.3 GB. */
    parseMemoryMb: z.number().int().min(128).default(2048),
    /** Bytes the entries of a zip-based document or a .zip archive may inflate to, together. */
    maxInflatedBytes: z.number().int().min(1).default(defaultParseLimits.maxInflatedBytes),
    /** Entries a zip-based document or a .zip archive may have. */
    maxArchiveEntries: z.number().int().min(1).default(defaultParseLimits.maxArchiveEntries),
    /** How deep archives and e-mails may be inside one another. */
    maxArchiveNesting: z.number().int().min(1).max(16).default(defaultParseLimits.maxArchiveNesting),
    /** Depth of nested elements in HTML and in a document's XML. */
    maxNestingDepth: z.number().int().min(8).default(defaultParseLimits.maxNestingDepth),
    /** Pages of a PDF. */
    maxPages: z.number().int().min(1).default(defaultParseLimits.maxPages),
    /** Objects a PDF may declare. */
    maxPdfObjects: z.number().int().min(1).default(defaultParseLimits.maxPdfObjects),
    /** Rows of a CSV, TSV or spreadsheet. */
    maxTableRows: z.number().int().min(1).default(defaultParseLimits.maxTableRows),
    /** Columns of one table row. */
    maxTableColumns: z.number().int().min(1).default(defaultParseLimits.maxTableColumns),
    /** Characters of one CSV record or spreadsheet cell. */
    maxCellChars: z.number().int().min(1).default(defaultParseLimits.maxCellChars),
    /** Characters of text one document may hold. */
    maxTextChars: z.number().int().min(1).default(defaultParseLimits.maxTextChars),
    /** Pixels a picture read by OCR may have. */
    maxImagePixels: z.number().int().min(1).default(defaultParseLimits.maxImagePixels),
    /** When PDF pages are read by OCR: `auto`, pages without a usable text layer; `force`, every page; `off`, none (pictures are not read). */
    ocr: z.enum(["auto", "off", "force"]).default(defaultOcrSettings.mode),
    /** Threads OCR uses, in each parser process. */
    ocrThreads: z.number().int().min(1).max(64).default(defaultOcrSettings.threads),
    /** Languages OCR reads, comma-separated; the bundled PP-OCRv4 Chinese models read `zh` and `en`. */
    ocrLanguages: z.string().default(defaultOcrSettings.languages.join(",")).transform((list, context) => {
        const languages = list.split(",").map((language) => language.trim()).filter((language) => language !== "");
        const unknown = languages.filter((language) => !(ocrLanguages as readonly string[]).includes(language));
        if (unknown.length > 0 || languages.length === 0) {
            context.addIssue({ code: "custom", message: `OCR reads ${ocrLanguages.join(" and ")} (the bundled PP-OCRv4 Chinese models); not ${unknown.join(", ") || "an empty list"}` });
            return z.NEVER;
        }
        return languages as OcrLanguage[];
    }),
    /** Questions (`/ask`, chat completions) one client (API key, or address) may ask per minute; 0: no limit. */
    questionsPerMinute: z.number().int().min(0).default(120),
    /** Uploads one client may send per minute; 0: no limit. */
    uploadsPerMinute: z.number().int().min(0).default(30),
    /** HNSW graph degree. */
    hnswM: z.number().int().min(2).max(128).default(16),
    /** HNSW build-time candidate list size. */
    hnswEfConstruction: z.number().int().min(10).default(200),
    /**
     * HNSW search-time candidate list size (default: by the graph's size, 64 up to 100k chunks and
     * doubling for every tenfold beyond; hnswlib's own default of 10 loses recall).
     */
    hnswEfSearch: z.number().int().min(10).optional(),
}).strict().superRefine(checkRemoteModels).refine((c) => c.chunkOverlap < c.chunkSize, {
    message: "chunkOverlap must be smaller than chunkSize",
    path: ["chunkOverlap"],
}).refine((c) => c.storage !== "postgres" || c.databaseUrl != null, {
    message: "storage is postgres, so databaseUrl (YIZHI_DATABASE_URL) must name the database, e.g. postgres://yizhi:secret@db.example:5432/yizhi",
    path: ["databaseUrl"],
});

/** A remote role needs the server's address and its name for the model, not a file. */
function checkRemoteModels(config: RemoteModelSettings, context: z.RefinementCtx): void {
    const roles = [
        { role: "embedding", provider: config.embeddingProvider, baseUrl: config.embeddingBaseUrl, model: config.embeddingModel, example: "bge-m3" },
        { role: "llm", provider: config.llmProvider, baseUrl: config.llmBaseUrl, model: config.llmModel, example: "qwen2.5:7b-instruct" },
        { role: "reranker", provider: config.rerankerProvider, baseUrl: config.rerankerBaseUrl, model: config.rerankerModel, example: "bge-reranker-v2-m3" },
    ] as const;
    for (const { role, provider, baseUrl, model, example } of roles) {
        if (provider === "local") continue;
        if (role === "reranker" && provider === "ollama") {
            context.addIssue({
                code: "custom",
                path: ["rerankerProvider"],
                message: "Ollama has no rerank API: serve the reranker with llama-server --reranking, vLLM or Xinference (rerankerProvider openai) or with TEI (tei)",
            });
            continue;
        }
        if (baseUrl == null && provider !== "ollama") {
            context.addIssue({ code: "custom", path: [`${role}BaseUrl`], message: `${role}Provider is ${provider}, so ${role}BaseUrl must give the server's API root, e.g. http://gpu-box:8000/v1` });
        }
        if (model == null || /^(hf|https?):/i.test(model) || /\.gguf$/i.test(model)) {
            context.addIssue({ code: "custom", path: [`${role}Model`], message: `${role}Provider is ${provider}, so ${role}Model must be the server's name for the model (e.g. ${example}), not a file` });
        }
    }
}

interface RemoteModelSettings {
    embeddingProvider: "local" | "openai" | "ollama";
    embeddingBaseUrl?: string | undefined;
    embeddingModel: string;
    llmProvider: "local" | "openai" | "ollama";
    llmBaseUrl?: string | undefined;
    llmModel: string;
    rerankerProvider: "local" | "openai" | "ollama" | "tei";
    rerankerBaseUrl?: string | undefined;
    rerankerModel?: string | undefined;
}

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigKey = keyof Config;
