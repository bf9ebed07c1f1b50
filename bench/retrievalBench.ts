/** What the retrieval benchmarks share: the data sets, the configuration, the table format. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/loadConfig.js";
import type { Config } from "../src/config/schema.js";

const sharedDir = fileURLToPath(new URL("../../shared/", import.meta.url));
const testModel = path.join(sharedDir, "models", "stories260K.gguf");

export const datasetFiles = {
    cmrc: path.join(sharedDir, "datasets", "cmrc2018", "trial.json"),
    "xquad-zh": path.join(sharedDir, "datasets", "xquad", "zh.json"),
    "xquad-en": path.join(sharedDir, "datasets", "xquad", "en.json"),
} as const;
export type DatasetName = keyof typeof datasetFiles;

/** The `--datasets` list, checked. */
export function datasetNames(list: string): DatasetName[] {
    return list.split(",").map((name) => {
        if (!(name in datasetFiles)) throw new Error(`--datasets: unknown dataset ${name}; choose from ${Object.keys(datasetFiles).join(", ")}`);
        return name as DatasetName;
    });
}

/** `YIZHI_*` variables apply; without a configured model, the test model is used. */
export function benchConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
    const env = process.env;
    return loadConfig({
        env,
        flags: {
            dataDir,
            ...(env.YIZHI_LLM_MODEL == null ? { llmModel: testModel } : {}),
            ...(env.YIZHI_EMBEDDING_MODEL == null ? { embeddingModel: testModel } : {}),
            ...(env.YIZHI_THREADS == null ? { threads: 1 } : {}),
            ...overrides,
        },
    }).config;
}

export const percent = (value: number): string => (value * 100).toFixed(1);
export const log = (message: string): void => void process.stderr.write(`${message}\n`);

/** A Markdown table. */
export function table(header: string[], rows: string[][]): string {
    return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");
}
