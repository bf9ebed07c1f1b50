import { z } from "zod";
import { defaultParseLimits } from "../../ingest/limits.js";

/** Recommended models for real use (see README: "Models"). Both are downloaded by `yizhi models pull`. */
export const DEFAULT_LLM_MODEL = "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf";
export const DEFAULT_EMBEDDING_MODEL = "hf:CompendiumLabs/bge-small-zh-v1.5-gguf/bge-small-zh-v1.5-q8_0.gguf";

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
    /** The instruct model that writes answers: a local GGUF path or an `hf:` URI. */
    llmModel: z.string().min(1).default(DEFAULT_LLM_MODEL),
    /** The embedding model: a local GGUF path or an `hf:` URI. */
    embeddingModel: z.string().min(1).default(DEFAULT_EMBEDDING_MODEL),
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
    /** Questions answered at the same time (sequences of the chat context). */
    parallelAnswers: z.number().int().min(1).max(64).default(2),
    /** Chunk size in characters. */
    chunkSize: z.number().int().min(50).default(400),
    /** Characters shared by consecutive chunks. */
    chunkOverlap: z.number().int().min(0).default(50),
    /** Optional cross-encoder reranker (a local GGUF path or an `hf:` URI), e.g. bge-reranker-v2-m3. */
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
    /** Memory one file's reading may use, in MB (resident); then it fails. */
    parseMemoryMb: z.number().int().min(128).default(1024),
    /** Bytes the entries of a DOCX or XLSX may inflate to, together. */
    maxInflatedBytes: z.number().int().min(1).default(defaultParseLimits.maxInflatedBytes),
    /** Entries a DOCX or XLSX may have. */
    maxArchiveEntries: z.number().int().min(1).default(defaultParseLimits.maxArchiveEntries),
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
}).strict().refine((c) => c.chunkOverlap < c.chunkSize, {
    message: "chunkOverlap must be smaller than chunkSize",
    path: ["chunkOverlap"],
}).refine((c) => c.storage !== "postgres" || c.databaseUrl != null, {
    message: "storage is postgres, so databaseUrl (YIZHI_DATABASE_URL) must name the database, e.g. postgres://yizhi:secret@db.example:5432/yizhi",
    path: ["databaseUrl"],
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigKey = keyof Config;
