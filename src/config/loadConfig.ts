import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors.js";
import { configSchema, type Config, type ConfigKey } from "./schema.js";

/** Environment variable for each setting. */
export const envNames: Record<ConfigKey, string> = {
    storage: "YIZHI_STORAGE",
    dataDir: "YIZHI_DATA_DIR",
    databaseUrl: "YIZHI_DATABASE_URL",
    databasePoolSize: "YIZHI_DATABASE_POOL_SIZE",
    modelsDir: "YIZHI_MODELS_DIR",
    llmModel: "YIZHI_LLM_MODEL",
    embeddingModel: "YIZHI_EMBEDDING_MODEL",
    rerankerModel: "YIZHI_RERANKER_MODEL",
    embeddingProvider: "YIZHI_EMBEDDING_PROVIDER",
    embeddingBaseUrl: "YIZHI_EMBEDDING_BASE_URL",
    embeddingApiKey: "YIZHI_EMBEDDING_API_KEY",
    embeddingTimeoutSeconds: "YIZHI_EMBEDDING_TIMEOUT_SECONDS",
    embeddingRetries: "YIZHI_EMBEDDING_RETRIES",
    embeddingConcurrency: "YIZHI_EMBEDDING_CONCURRENCY",
    embeddingBatchSize: "YIZHI_EMBEDDING_BATCH_SIZE",
    embeddingBatchTokens: "YIZHI_EMBEDDING_BATCH_TOKENS",
    llmProvider: "YIZHI_LLM_PROVIDER",
    llmBaseUrl: "YIZHI_LLM_BASE_URL",
    llmApiKey: "YIZHI_LLM_API_KEY",
    llmTimeoutSeconds: "YIZHI_LLM_TIMEOUT_SECONDS",
    llmRetries: "YIZHI_LLM_RETRIES",
    rerankerProvider: "YIZHI_RERANKER_PROVIDER",
    rerankerBaseUrl: "YIZHI_RERANKER_BASE_URL",
    rerankerApiKey: "YIZHI_RERANKER_API_KEY",
    rerankerTimeoutSeconds: "YIZHI_RERANKER_TIMEOUT_SECONDS",
    rerankerRetries: "YIZHI_RERANKER_RETRIES",
    rerankerConcurrency: "YIZHI_RERANKER_CONCURRENCY",
    rerankerScores: "YIZHI_RERANKER_SCORES",
    gpu: "YIZHI_GPU",
    threads: "YIZHI_THREADS",
    contextSize: "YIZHI_CONTEXT_SIZE",
    embeddingContextSize: "YIZHI_EMBEDDING_CONTEXT_SIZE",
    embeddingContexts: "YIZHI_EMBEDDING_CONTEXTS",
    maxAnswerTokens: "YIZHI_MAX_ANSWER_TOKENS",
    temperature: "YIZHI_TEMPERATURE",
    parallelAnswers: "YIZHI_PARALLEL_ANSWERS",
    chunkSize: "YIZHI_CHUNK_SIZE",
    chunkOverlap: "YIZHI_CHUNK_OVERLAP",
    topK: "YIZHI_TOP_K",
    retrievalMode: "YIZHI_RETRIEVAL_MODE",
    scoreThreshold: "YIZHI_SCORE_THRESHOLD",
    lexicalThreshold: "YIZHI_LEXICAL_THRESHOLD",
    rerankThreshold: "YIZHI_RERANK_THRESHOLD",
    rrfK: "YIZHI_RRF_K",
    retrievalCandidates: "YIZHI_RETRIEVAL_CANDIDATES",
    answerLanguage: "YIZHI_ANSWER_LANGUAGE",
    maxQueuedQuestions: "YIZHI_MAX_QUEUED_QUESTIONS",
    host: "YIZHI_HOST",
    port: "YIZHI_PORT",
    logLevel: "YIZHI_LOG_LEVEL",
    allowedHosts: "YIZHI_ALLOWED_HOSTS",
    apiKey: "YIZHI_API_KEY",
    maxUploadBytes: "YIZHI_MAX_UPLOAD_BYTES",
    maxUploadRequestBytes: "YIZHI_MAX_UPLOAD_REQUEST_BYTES",
    questionsPerMinute: "YIZHI_QUESTIONS_PER_MINUTE",
    uploadsPerMinute: "YIZHI_UPLOADS_PER_MINUTE",
    parseProcesses: "YIZHI_PARSE_PROCESSES",
    parseTimeoutSeconds: "YIZHI_PARSE_TIMEOUT_SECONDS",
    parseMemoryMb: "YIZHI_PARSE_MEMORY_MB",
    maxInflatedBytes: "YIZHI_MAX_INFLATED_BYTES",
    maxArchiveEntries: "YIZHI_MAX_ARCHIVE_ENTRIES",
    maxArchiveNesting: "YIZHI_MAX_ARCHIVE_NESTING",
    maxNestingDepth: "YIZHI_MAX_NESTING_DEPTH",
    maxPages: "YIZHI_MAX_PAGES",
    maxPdfObjects: "YIZHI_MAX_PDF_OBJECTS",
    maxTableRows: "YIZHI_MAX_TABLE_ROWS",
    maxTableColumns: "YIZHI_MAX_TABLE_COLUMNS",
    maxCellChars: "YIZHI_MAX_CELL_CHARS",
    maxTextChars: "YIZHI_MAX_TEXT_CHARS",
    maxImagePixels: "YIZHI_MAX_IMAGE_PIXELS",
    ocr: "YIZHI_OCR",
    ocrThreads: "YIZHI_OCR_THREADS",
    ocrLanguages: "YIZHI_OCR_LANGUAGES",
    hnswM: "YIZHI_HNSW_M",
    hnswEfConstruction: "YIZHI_HNSW_EF_CONSTRUCTION",
    hnswEfSearch: "YIZHI_HNSW_EF_SEARCH",
};

/** The config file read when none is named: `yizhi.config.json` in the working directory, if present. */
export const DEFAULT_CONFIG_FILE = "yizhi.config.json";
export const CONFIG_FILE_ENV = "YIZHI_CONFIG";

type RawSettings = Partial<Record<ConfigKey, unknown>>;

export interface LoadConfigOptions {
    /** Environment to read `YIZHI_*` variables from; entry points pass `process.env`. */
    env: Readonly<Record<string, string | undefined>>;
    /** Settings given as command-line flags (highest precedence). */
    flags?: RawSettings;
    /** A config file named by `--config`; otherwise `YIZHI_CONFIG`, then `./yizhi.config.json` if it exists. */
    configFile?: string;
    /** Folder that relative paths in settings are resolved against; default the working directory. */
    cwd?: string;
    /** The command-line flag each of `flags` came from, for messages ("from --mode"); default: "the command line". */
    flagNames?: Partial<Record<ConfigKey, string>>;
}

export interface LoadedConfig {
    config: Config;
    /** Where each setting's value came from. */
    origins: Record<ConfigKey, "default" | "file" | "env" | "flag">;
    configFile?: string;
}

const numericKeys = new Set<ConfigKey>([
    "threads", "contextSize", "embeddingContextSize", "embeddingContexts", "maxAnswerTokens", "temperature", "parallelAnswers",
    "chunkSize", "chunkOverlap", "topK", "scoreThreshold", "lexicalThreshold", "rerankThreshold", "rrfK", "retrievalCandidates",
    "maxQueuedQuestions", "port", "databasePoolSize", "maxUploadBytes", "maxUploadRequestBytes", "questionsPerMinute", "uploadsPerMinute", "hnswM", "hnswEfConstruction", "hnswEfSearch",
    "parseProcesses", "parseTimeoutSeconds", "parseMemoryMb", "maxInflatedBytes", "maxArchiveEntries", "maxArchiveNesting", "maxNestingDepth",
    "maxPages", "maxPdfObjects", "maxTableRows", "maxTableColumns", "maxCellChars", "maxTextChars", "maxImagePixels", "ocrThreads",
    "embeddingTimeoutSeconds", "embeddingRetries", "embeddingConcurrency", "embeddingBatchSize", "embeddingBatchTokens",
    "llmTimeoutSeconds", "llmRetries", "rerankerTimeoutSeconds", "rerankerRetries", "rerankerConcurrency",
]);

/**
 * Builds the configuration from, lowest precedence first: defaults, the config file, `YIZHI_*`
 * environment variables, then command-line flags. Paths come back absolute.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
    const cwd = options.cwd ?? process.cwd();
    const fileName = options.configFile ?? options.env[CONFIG_FILE_ENV];
    const configFile = fileName != null ? path.resolve(cwd, fileName) : findDefaultConfigFile(cwd);
    const fromFile = configFile != null ? readConfigFile(configFile) : {};
    const fromEnv = readEnv(options.env);
    const fromFlags = dropUndefined(options.flags ?? {});

    const merged: RawSettings = { ...fromFile, ...fromEnv, ...fromFlags };
    const parsed = configSchema.safeParse(merged);
    if (!parsed.success) {
        const origins = originsOf(fromFile, fromEnv, fromFlags);
        const problems = parsed.error.issues.map((issue) => {
            const key = issue.path[0] as ConfigKey | undefined;
            // Unknown keys can only come from the config file (flags and env are read by known name).
            const where = key != null
                ? describeOrigin(key, origins[key], configFile, options.flagNames?.[key])
                : issue.code === "unrecognized_keys" && configFile != null && issue.keys.every((unknown) => unknown in fromFile)
                    ? ` (from ${configFile})`
                    : "";
            return `${key ?? "config"}${where}: ${issue.message}`;
        });
        throw new ConfigError(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    }

    const config = parsed.data;
    config.dataDir = path.resolve(cwd, config.dataDir);
    config.modelsDir = path.resolve(cwd, config.modelsDir);
    // A remote role's model is the server's name for it, not a file.
    if (config.llmProvider === "local") config.llmModel = resolveModelSetting(cwd, config.llmModel);
    if (config.embeddingProvider === "local") config.embeddingModel = resolveModelSetting(cwd, config.embeddingModel);
    if (config.rerankerModel != null && config.rerankerProvider === "local") config.rerankerModel = resolveModelSetting(cwd, config.rerankerModel);
    return { config, origins: originsOf(fromFile, fromEnv, fromFlags), ...(configFile != null ? { configFile } : {}) };
}

function resolveModelSetting(cwd: string, value: string): string {
    return /^(hf|https?):/i.test(value) ? value : path.resolve(cwd, value);
}

function findDefaultConfigFile(cwd: string): string | undefined {
    const candidate = path.join(cwd, DEFAULT_CONFIG_FILE);
    return fs.existsSync(candidate) ? candidate : undefined;
}

function readConfigFile(file: string): RawSettings {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (error) {
        throw new ConfigError(`Cannot read the config file ${file}: ${(error as Error).message}`, { cause: error });
    }
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        throw new ConfigError(`The config file ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (value == null || typeof value !== "object" || Array.isArray(value))
        throw new ConfigError(`The config file ${file} must hold a JSON object of settings.`);
    return value as RawSettings;
}

function readEnv(env: Readonly<Record<string, string | undefined>>): RawSettings {
    const settings: RawSettings = {};
    for (const [key, name] of Object.entries(envNames) as [ConfigKey, string][]) {
        const raw = env[name];
        if (raw == null || raw.trim() === "") continue;
        settings[key] = numericKeys.has(key) ? parseNumber(raw.trim(), name) : raw.trim();
    }
    return settings;
}

function parseNumber(raw: string, name: string): number {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new ConfigError(`${name}=${raw} is not a number.`);
    return value;
}

function dropUndefined(settings: RawSettings): RawSettings {
    return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
}

function originsOf(file: RawSettings, env: RawSettings, flags: RawSettings): LoadedConfig["origins"] {
    const origins = {} as LoadedConfig["origins"];
    for (const key of Object.keys(envNames) as ConfigKey[])
        origins[key] = key in flags ? "flag" : key in env ? "env" : key in file ? "file" : "default";
    return origins;
}

function describeOrigin(key: ConfigKey, origin: LoadedConfig["origins"][ConfigKey], configFile?: string, flag?: string): string {
    switch (origin) {
        case "env": return ` (from ${envNames[key]})`;
        case "file": return ` (from ${configFile})`;
        case "flag": return ` (from ${flag ?? "the command line"})`;
        default: return "";
    }
}
