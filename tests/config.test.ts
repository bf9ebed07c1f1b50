import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "../src/errors.js";
import { CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, envNames, loadConfig } from "../src/config/loadConfig.js";
import { configSchema, DEFAULT_EMBEDDING_MODEL, DEFAULT_LLM_MODEL, type ConfigKey } from "../src/config/schema.js";
import { makeTempDir } from "./helpers.js";

/** Asserts that `fn` throws a ConfigError whose message contains every one of `parts`. */
function assertConfigError(fn: () => unknown, ...parts: string[]): void {
    assert.throws(fn, (error: unknown) => {
        assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
        assert.equal(error.code, "invalid_config");
        for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" does not mention ${part}`);
        return true;
    });
}

describe("loadConfig", () => {
    let dir: string;
    let cleanup: () => Promise<void>;

    before(async () => {
        ({ dir, cleanup } = await makeTempDir("yizhi-config-"));
    });
    after(async () => {
        await cleanup();
    });

    /** A fresh folder under the temp dir, optionally holding a config file with `settings`. */
    async function folder(name: string, settings?: unknown, fileName = DEFAULT_CONFIG_FILE): Promise<string> {
        const cwd = path.join(dir, name);
        await fs.mkdir(cwd, { recursive: true });
        if (settings !== undefined)
            await fs.writeFile(path.join(cwd, fileName), typeof settings === "string" ? settings : JSON.stringify(settings));
        return cwd;
    }

    it("gives the documented defaults, with paths made absolute against cwd", async () => {
        const cwd = await folder("defaults");
        const { config, origins, configFile } = loadConfig({ env: {}, cwd });
        assert.equal(configFile, undefined);
        assert.deepEqual(config, {
            ...configSchema.parse({}),
            dataDir: path.join(cwd, "storage"),
            modelsDir: path.join(cwd, "models"),
        });
        assert.equal(config.topK, 5);
        assert.equal(config.scoreThreshold, 0.5);
        assert.equal(config.hnswEfSearch, undefined, "unset: chosen by the graph's size");
        assert.equal(config.llmModel, DEFAULT_LLM_MODEL);
        assert.equal(config.embeddingModel, DEFAULT_EMBEDDING_MODEL);
        for (const key of Object.keys(envNames) as ConfigKey[]) assert.equal(origins[key], "default", key);
    });

    it("layers defaults < config file < env < flags on the same key, and reports each origin", async () => {
        const cwd = await folder("precedence", { topK: 7, chunkSize: 300, gpu: "cpu", temperature: 0.3 });
        const env = { YIZHI_TOP_K: "8", YIZHI_CHUNK_SIZE: "250", YIZHI_THREADS: "3" };

        const fileOnly = loadConfig({ env: {}, cwd });
        assert.equal(fileOnly.config.topK, 7);
        assert.equal(fileOnly.origins.topK, "file");
        assert.equal(fileOnly.configFile, path.join(cwd, DEFAULT_CONFIG_FILE));

        const withEnv = loadConfig({ env, cwd });
        assert.equal(withEnv.config.topK, 8);
        assert.equal(withEnv.origins.topK, "env");

        const withFlags = loadConfig({ env, cwd, flags: { topK: 9, threads: undefined } });
        const { config, origins } = withFlags;
        assert.equal(config.topK, 9);
        assert.equal(origins.topK, "flag");
        assert.equal(config.chunkSize, 250);
        assert.equal(origins.chunkSize, "env");
        assert.equal(config.threads, 3, "an undefined flag does not hide the env value");
        assert.equal(origins.threads, "env");
        assert.equal(config.gpu, "cpu");
        assert.equal(origins.gpu, "file");
        assert.equal(config.temperature, 0.3);
        assert.equal(origins.temperature, "file");
        assert.equal(config.maxAnswerTokens, 512);
        assert.equal(origins.maxAnswerTokens, "default");
    });

    it("reads every setting from its YIZHI_* variable", async () => {
        const cwd = await folder("all-env");
        const env: Record<string, string> = {
            YIZHI_DATA_DIR: "data", YIZHI_MODELS_DIR: "/opt/models", YIZHI_LLM_MODEL: "qwen2.5:7b-instruct",
            YIZHI_EMBEDDING_MODEL: "hf:someone/some-repo/embed.gguf", YIZHI_GPU: "vulkan", YIZHI_THREADS: " 4 ",
            YIZHI_CONTEXT_SIZE: "2048", YIZHI_EMBEDDING_CONTEXT_SIZE: "256", YIZHI_MAX_ANSWER_TOKENS: "100",
            YIZHI_TEMPERATURE: "0.7", YIZHI_PARALLEL_ANSWERS: "4", YIZHI_CHUNK_SIZE: "200", YIZHI_CHUNK_OVERLAP: "20",
            YIZHI_TOP_K: "10", YIZHI_SCORE_THRESHOLD: "-0.25", YIZHI_ANSWER_LANGUAGE: "en", YIZHI_HNSW_M: "32",
            YIZHI_HNSW_EF_CONSTRUCTION: "100", YIZHI_HNSW_EF_SEARCH: "128", YIZHI_MAX_QUEUED_QUESTIONS: "3",
            YIZHI_HOST: "0.0.0.0", YIZHI_PORT: "9000", YIZHI_API_KEY: "k3y", YIZHI_MAX_UPLOAD_BYTES: "1048576",
            YIZHI_RERANKER_MODEL: "bge-reranker-v2-m3", YIZHI_RETRIEVAL_MODE: "bm25", YIZHI_LEXICAL_THRESHOLD: "0.4",
            YIZHI_RERANK_THRESHOLD: "0.6", YIZHI_RRF_K: "10", YIZHI_RETRIEVAL_CANDIDATES: "50",
            YIZHI_ALLOWED_HOSTS: "yizhi.example", YIZHI_PARSE_PROCESSES: "3", YIZHI_EMBEDDING_CONTEXTS: "2", YIZHI_PARSE_TIMEOUT_SECONDS: "30",
            YIZHI_PARSE_MEMORY_MB: "512", YIZHI_MAX_INFLATED_BYTES: "1000", YIZHI_MAX_ARCHIVE_ENTRIES: "20",
            YIZHI_MAX_NESTING_DEPTH: "64", YIZHI_MAX_PAGES: "30", YIZHI_MAX_PDF_OBJECTS: "35", YIZHI_MAX_TABLE_ROWS: "40", YIZHI_MAX_TABLE_COLUMNS: "50",
            YIZHI_MAX_CELL_CHARS: "60", YIZHI_MAX_TEXT_CHARS: "70", YIZHI_MAX_UPLOAD_REQUEST_BYTES: "2097152",
            YIZHI_QUESTIONS_PER_MINUTE: "7", YIZHI_UPLOADS_PER_MINUTE: "0",
            YIZHI_STORAGE: "postgres", YIZHI_DATABASE_URL: "postgres://yizhi:secret@db.example:5432/yizhi", YIZHI_DATABASE_POOL_SIZE: "5",
            YIZHI_EMBEDDING_PROVIDER: "local", YIZHI_EMBEDDING_BASE_URL: "http://embed.example:8000/v1", YIZHI_EMBEDDING_API_KEY: "e-key",
            YIZHI_EMBEDDING_TIMEOUT_SECONDS: "11", YIZHI_EMBEDDING_RETRIES: "1", YIZHI_EMBEDDING_CONCURRENCY: "3", YIZHI_EMBEDDING_BATCH_SIZE: "16",
            YIZHI_EMBEDDING_BATCH_TOKENS: "2000", YIZHI_LLM_PROVIDER: "openai", YIZHI_LLM_BASE_URL: "http://gpu-box:8000/v1/", YIZHI_LLM_API_KEY: "l-key",
            YIZHI_LLM_TIMEOUT_SECONDS: "12", YIZHI_LLM_RETRIES: "4", YIZHI_RERANKER_PROVIDER: "tei", YIZHI_RERANKER_BASE_URL: "https://tei.example",
            YIZHI_RERANKER_API_KEY: "r-key", YIZHI_RERANKER_TIMEOUT_SECONDS: "13", YIZHI_RERANKER_RETRIES: "0", YIZHI_RERANKER_CONCURRENCY: "5",
            YIZHI_RERANKER_SCORES: "logit", YIZHI_LOG_LEVEL: "warn",
            YIZHI_MAX_ARCHIVE_NESTING: "2", YIZHI_MAX_IMAGE_PIXELS: "1000000", YIZHI_OCR: "force", YIZHI_OCR_THREADS: "2", YIZHI_OCR_LANGUAGES: "zh",
        };
        assert.deepEqual(Object.keys(env).sort(), Object.values(envNames).sort());
        const { config, origins } = loadConfig({ env, cwd });
        assert.deepEqual(config, {
            dataDir: path.join(cwd, "data"), modelsDir: "/opt/models", llmModel: "qwen2.5:7b-instruct",
            embeddingModel: "hf:someone/some-repo/embed.gguf", gpu: "vulkan", threads: 4, contextSize: 2048,
            embeddingContextSize: 256, maxAnswerTokens: 100, temperature: 0.7, parallelAnswers: 4, chunkSize: 200,
            chunkOverlap: 20, topK: 10, scoreThreshold: -0.25, answerLanguage: "en", hnswM: 32, hnswEfConstruction: 100,
            hnswEfSearch: 128, maxQueuedQuestions: 3, host: "0.0.0.0", port: 9000, apiKey: "k3y", maxUploadBytes: 1048576,
            rerankerModel: "bge-reranker-v2-m3", retrievalMode: "bm25", lexicalThreshold: 0.4, rerankThreshold: 0.6,
            rrfK: 10, retrievalCandidates: 50, allowedHosts: "yizhi.example", parseProcesses: 3, embeddingContexts: 2, parseTimeoutSeconds: 30,
            parseMemoryMb: 512, maxInflatedBytes: 1000, maxArchiveEntries: 20, maxNestingDepth: 64, maxPages: 30, maxPdfObjects: 35,
            maxTableRows: 40, maxTableColumns: 50, maxCellChars: 60, maxTextChars: 70, maxUploadRequestBytes: 2097152, questionsPerMinute: 7, uploadsPerMinute: 0,
            storage: "postgres", databaseUrl: "postgres://yizhi:secret@db.example:5432/yizhi", databasePoolSize: 5,
            embeddingProvider: "local", embeddingBaseUrl: "http://embed.example:8000/v1", embeddingApiKey: "e-key", embeddingTimeoutSeconds: 11,
            embeddingRetries: 1, embeddingConcurrency: 3, embeddingBatchSize: 16, embeddingBatchTokens: 2000, llmProvider: "openai",
            llmBaseUrl: "http://gpu-box:8000/v1", llmApiKey: "l-key", llmTimeoutSeconds: 12, llmRetries: 4, rerankerProvider: "tei",
            rerankerBaseUrl: "https://tei.example", rerankerApiKey: "r-key", rerankerTimeoutSeconds: 13, rerankerRetries: 0, rerankerConcurrency: 5,
            rerankerScores: "logit", logLevel: "warn",
            maxArchiveNesting: 2, maxImagePixels: 1000000, ocr: "force", ocrThreads: 2, ocrLanguages: ["zh"],
        });
        for (const key of Object.keys(envNames) as ConfigKey[]) assert.equal(origins[key], "env", key);
    });

    it("ignores empty environment variables", async () => {
        const cwd = await folder("empty-env");
        const { config, origins } = loadConfig({ env: { YIZHI_TOP_K: "", YIZHI_GPU: "  " }, cwd });
        assert.equal(config.topK, 5);
        assert.equal(config.gpu, "auto");
        assert.equal(origins.topK, "default");
    });

    it("resolves relative paths against cwd and leaves hf: and http(s): URIs alone", async () => {
        const cwd = await folder("paths", {
            dataDir: "kb-data", modelsDir: "../shared-models", llmModel: "models/chat.gguf",
            embeddingModel: "hf:CompendiumLabs/bge-small-zh-v1.5-gguf/bge-small-zh-v1.5-q8_0.gguf",
        });
        const { config } = loadConfig({ env: {}, cwd });
        assert.equal(config.dataDir, path.join(cwd, "kb-data"));
        assert.equal(config.modelsDir, path.join(dir, "shared-models"));
        assert.equal(config.llmModel, path.join(cwd, "models", "chat.gguf"));
        assert.equal(config.embeddingModel, "hf:CompendiumLabs/bge-small-zh-v1.5-gguf/bge-small-zh-v1.5-q8_0.gguf");

        const flagged = loadConfig({ env: {}, cwd, flags: { llmModel: "https://example.com/m.gguf", dataDir: "/abs/data" } });
        assert.equal(flagged.config.llmModel, "https://example.com/m.gguf");
        assert.equal(flagged.config.dataDir, "/abs/data");
    });

    it("reads a config file named by the option or by YIZHI_CONFIG, relative to cwd", async () => {
        const cwd = await folder("named", { topK: 11 }, "custom.json");
        await fs.writeFile(path.join(cwd, DEFAULT_CONFIG_FILE), JSON.stringify({ topK: 2 }));
        assert.equal(loadConfig({ env: {}, cwd }).config.topK, 2);

        const byOption = loadConfig({ env: { [CONFIG_FILE_ENV]: "missing.json" }, cwd, configFile: "custom.json" });
        assert.equal(byOption.config.topK, 11);
        assert.equal(byOption.configFile, path.join(cwd, "custom.json"));

        const byEnv = loadConfig({ env: { [CONFIG_FILE_ENV]: "custom.json" }, cwd });
        assert.equal(byEnv.config.topK, 11);
        assert.equal(byEnv.origins.topK, "file");
    });

    it("fails with a ConfigError naming a config file that does not exist", async () => {
        const cwd = await folder("missing");
        assertConfigError(() => loadConfig({ env: {}, cwd, configFile: "nope.json" }), path.join(cwd, "nope.json"));
    });

    it("rejects an invalid env value, naming the variable", async () => {
        const cwd = await folder("bad-env");
        assertConfigError(() => loadConfig({ env: { YIZHI_TOP_K: "abc" }, cwd }), "YIZHI_TOP_K", "abc");
        assertConfigError(() => loadConfig({ env: { YIZHI_SCORE_THRESHOLD: "2" }, cwd }), "YIZHI_SCORE_THRESHOLD", "scoreThreshold");
        assertConfigError(() => loadConfig({ env: { YIZHI_GPU: "tpu" }, cwd }), "YIZHI_GPU", "gpu");
        assertConfigError(() => loadConfig({ env: { YIZHI_TOP_K: "2.5" }, cwd }), "YIZHI_TOP_K");
        assertConfigError(() => loadConfig({ env: { YIZHI_THREADS: "-1" }, cwd }), "YIZHI_THREADS");
        assertConfigError(() => loadConfig({ env: { YIZHI_HNSW_EF_SEARCH: "Infinity" }, cwd }), "YIZHI_HNSW_EF_SEARCH");
        assertConfigError(() => loadConfig({ env: { YIZHI_OCR: "always" }, cwd }), "YIZHI_OCR", "ocr");
        assertConfigError(() => loadConfig({ env: { YIZHI_OCR_LANGUAGES: "zh,ja" }, cwd }), "YIZHI_OCR_LANGUAGES", "not ja");
    });

    it("rejects an invalid config file value, naming the file", async () => {
        const cwd = await folder("bad-file", { topK: 0, answerLanguage: "fr" });
        const file = path.join(cwd, DEFAULT_CONFIG_FILE);
        assertConfigError(() => loadConfig({ env: {}, cwd }), "topK", "answerLanguage", file);
        const stringNumber = await folder("string-number", { topK: "5" });
        assertConfigError(() => loadConfig({ env: {}, cwd: stringNumber }), "topK", path.join(stringNumber, DEFAULT_CONFIG_FILE));
    });

    it("names the flag when a flag value is invalid", async () => {
        const cwd = await folder("bad-flag");
        assertConfigError(() => loadConfig({ env: {}, cwd, flags: { topK: 500 } }), "topK", "command line");
    });

    it("rejects a config file that is not valid JSON, naming the file", async () => {
        const cwd = await folder("malformed", "{ \"topK\": 5, }");
        assertConfigError(() => loadConfig({ env: {}, cwd }), path.join(cwd, DEFAULT_CONFIG_FILE), "not valid JSON");
        const array = await folder("array", "[1, 2]");
        assertConfigError(() => loadConfig({ env: {}, cwd: array }), path.join(array, DEFAULT_CONFIG_FILE));
    });

    it("rejects an unknown key in the config file, naming the key and the file", async () => {
        const cwd = await folder("unknown-key", { topK: 3, topk: 4 });
        assertConfigError(() => loadConfig({ env: {}, cwd }), "topk", path.join(cwd, DEFAULT_CONFIG_FILE));
    });

    it("rejects chunkOverlap >= chunkSize, across layers", async () => {
        const cwd = await folder("overlap", { chunkSize: 100 });
        assertConfigError(() => loadConfig({ env: { YIZHI_CHUNK_OVERLAP: "100" }, cwd }), "chunkOverlap", "YIZHI_CHUNK_OVERLAP");
        assertConfigError(() => loadConfig({ env: {}, cwd, flags: { chunkOverlap: 150 } }), "chunkOverlap");
        const defaults = await folder("overlap-default");
        assertConfigError(() => loadConfig({ env: {}, cwd: defaults, flags: { chunkSize: 50 } }), "chunkOverlap");
        assert.equal(loadConfig({ env: { YIZHI_CHUNK_OVERLAP: "99" }, cwd }).config.chunkOverlap, 99);
    });

    it("with storage postgres, needs a postgres:// databaseUrl", async () => {
        const cwd = await folder("postgres");
        assertConfigError(() => loadConfig({ env: { YIZHI_STORAGE: "postgres" }, cwd }), "databaseUrl", "must name the database");
        assertConfigError(() => loadConfig({ env: { YIZHI_STORAGE: "postgres", YIZHI_DATABASE_URL: "mysql://db/yizhi" }, cwd }), "databaseUrl", "YIZHI_DATABASE_URL");
        assertConfigError(() => loadConfig({ env: { YIZHI_STORAGE: "sqlite" }, cwd }), "storage", "YIZHI_STORAGE");
        assert.equal(loadConfig({ env: { YIZHI_STORAGE: "postgres", YIZHI_DATABASE_URL: "postgresql://db/yizhi" }, cwd }).config.storage, "postgres");
    });

    it("with a remote provider, needs the server's address and its name for the model, not a file", async () => {
        const cwd = await folder("remote");
        assertConfigError(() => loadConfig({ env: { YIZHI_LLM_PROVIDER: "openai", YIZHI_LLM_MODEL: "qwen" }, cwd }), "llmBaseUrl", "API root");
        assertConfigError(() => loadConfig({ env: { YIZHI_LLM_PROVIDER: "openai", YIZHI_LLM_BASE_URL: "http://gpu:8000/v1" }, cwd }), "llmModel", "server's name");
        assertConfigError(() => loadConfig({ env: { YIZHI_EMBEDDING_PROVIDER: "ollama", YIZHI_EMBEDDING_MODEL: "models/bge.gguf" }, cwd }), "embeddingModel", "not a file");
        assertConfigError(() => loadConfig({ env: { YIZHI_EMBEDDING_PROVIDER: "openai", YIZHI_EMBEDDING_MODEL: "bge-m3", YIZHI_EMBEDDING_BASE_URL: "gpu:8000" }, cwd }), "embeddingBaseUrl", "http://");
        assertConfigError(() => loadConfig({ env: { YIZHI_RERANKER_PROVIDER: "ollama", YIZHI_RERANKER_MODEL: "bge-reranker" }, cwd }), "rerankerProvider", "no rerank API");
        assertConfigError(() => loadConfig({ env: { YIZHI_LLM_PROVIDER: "vllm" }, cwd }), "llmProvider", "YIZHI_LLM_PROVIDER");
        // Ollama has a usual address; the model names a server's model, never resolved as a path.
        const { config } = loadConfig({ env: { YIZHI_EMBEDDING_PROVIDER: "ollama", YIZHI_EMBEDDING_MODEL: "bge-m3" }, cwd });
        assert.equal(config.embeddingModel, "bge-m3");
        assert.equal(config.embeddingBaseUrl, undefined);
    });
});

describe("configSchema", () => {
    it("is strict and checks ranges on its own", () => {
        assert.equal(configSchema.safeParse({ unknown: 1 }).success, false);
        assert.equal(configSchema.safeParse({ chunkSize: 400, chunkOverlap: 400 }).success, false);
        assert.equal(configSchema.safeParse({ chunkSize: 400, chunkOverlap: 399 }).success, true);
        assert.equal(configSchema.safeParse({ scoreThreshold: -1 }).success, true);
        assert.equal(configSchema.safeParse({ scoreThreshold: 1.01 }).success, false);
        assert.equal(configSchema.safeParse({ hnswEfSearch: 9 }).success, false);
        assert.equal(configSchema.safeParse({ gpu: "cuda" }).success, true);
    });
});
