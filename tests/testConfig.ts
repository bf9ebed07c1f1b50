import path from "node:path";
import { loadConfig } from "../src/config/loadConfig.js";
import type { Config, ConfigInput } from "../src/config/schema.js";
import { repoRoot, testModelPath } from "./helpers.js";

/**
 * Settings every test runs with: the real tiny test model for both roles, one thread (about 1000×
 * faster than the default with this model), and a small embedding context, since the model's
 * byte-level tokenizer spends ~3 tokens on each Chinese character.
 */
export const testSettings = {
    llmModel: testModelPath,
    embeddingModel: testModelPath,
    threads: 1,
    contextSize: 1024,
    embeddingContextSize: 64,
    maxAnswerTokens: 48,
    parallelAnswers: 1,
} satisfies ConfigInput;

/** A validated configuration for tests, storing knowledge bases under `dataDir`. */
export function testConfig(dataDir: string, overrides: ConfigInput = {}): Config {
    return loadConfig({ env: {}, cwd: repoRoot, flags: { ...testSettings, dataDir, ...overrides } }).config;
}

/** The same settings as `YIZHI_*` variables, for running the CLI as a separate process. */
export function testEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        YIZHI_DATA_DIR: dataDir,
        YIZHI_LLM_MODEL: testSettings.llmModel,
        YIZHI_EMBEDDING_MODEL: testSettings.embeddingModel,
        YIZHI_THREADS: String(testSettings.threads),
        YIZHI_CONTEXT_SIZE: String(testSettings.contextSize),
        YIZHI_EMBEDDING_CONTEXT_SIZE: String(testSettings.embeddingContextSize),
        YIZHI_MAX_ANSWER_TOKENS: String(testSettings.maxAnswerTokens),
        YIZHI_MODELS_DIR: path.join(dataDir, "..", "models"),
        ...extra,
    };
}
