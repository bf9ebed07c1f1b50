import { InvalidArgumentError, Option, type Command } from "commander";
import { loadConfig, type LoadedConfig } from "../config/loadConfig.js";
import type { ConfigKey } from "../config/schema.js";

/** Options every command accepts; each overrides a configuration setting. */
export function addGlobalOptions(program: Command): Command {
    return program
        .option("--config <file>", "JSON config file (default: ./yizhi.config.json if present, or $YIZHI_CONFIG)")
        .option("--data-dir <dir>", "folder of the knowledge bases ($YIZHI_DATA_DIR, default ./storage)")
        .option("--models-dir <dir>", "folder that hf: models are pulled into ($YIZHI_MODELS_DIR, default ./models)")
        .option("--llm-model <path|uri>", "answering model: GGUF path or hf: URI ($YIZHI_LLM_MODEL)")
        .option("--embedding-model <path|uri>", "embedding model: GGUF path or hf: URI ($YIZHI_EMBEDDING_MODEL)")
        .option("--reranker-model <path|uri>", "optional reranker: GGUF path or hf: URI ($YIZHI_RERANKER_MODEL)")
        .option("--gpu <mode>", "auto | cuda | vulkan | metal | cpu ($YIZHI_GPU, default auto)")
        .option("--threads <n>", "CPU threads, 0 = all ($YIZHI_THREADS)", parseInteger)
        .option("--context-size <tokens>", "answering model context size ($YIZHI_CONTEXT_SIZE, default 4096)", parseInteger);
}

// Option parsers throw commander's InvalidArgumentError, which it reports as a usage error naming the option.
export function parseInteger(value: string): number {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isInteger(parsed)) throw new InvalidArgumentError("Not a whole number.");
    return parsed;
}

/** A parser for whole numbers from `min` to `max`. */
export function integerBetween(min: number, max: number): (value: string) => number {
    return (value) => {
        const parsed = parseInteger(value);
        if (parsed < min || parsed > max) throw new InvalidArgumentError(`Must be from ${min} to ${max}.`);
        return parsed;
    };
}

export function parseNumber(value: string): number {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed)) throw new InvalidArgumentError("Not a number.");
    return parsed;
}

/** The settings of the global options, each under its own name. */
const globalSettings: readonly ConfigKey[] = ["dataDir", "modelsDir", "llmModel", "embeddingModel", "rerankerModel", "gpu", "threads", "contextSize"];

/** Options declared by `requiredOption`, per command. */
const requiredOptions = new WeakMap<Command, Option[]>();

/**
 * Adds an option the command cannot run without, checked by `checkRequiredOptions` once commander
 * has checked for unknown options (its own required options are checked first, so a mistyped
 * `--kbb docs` was reported as a missing `--kb` instead of an unknown `--kbb`).
 */
export function requiredOption(command: Command, flags: string, description: string, parse?: (value: string) => unknown): Command {
    const option = new Option(flags, `${description} (required)`);
    if (parse != null) option.argParser(parse);
    requiredOptions.set(command, [...requiredOptions.get(command) ?? [], option]);
    return command.addOption(option);
}

/** A `preAction` hook: the usage error commander gives for a required option that was not given. */
export function checkRequiredOptions(_program: Command, actionCommand: Command): void {
    for (const option of requiredOptions.get(actionCommand) ?? []) {
        if (actionCommand.getOptionValue(option.attributeName()) === undefined) actionCommand.error(`error: required option '${option.flags}' not specified`);
    }
}

interface GlobalFlags {
    config?: string;
    dataDir?: string;
    modelsDir?: string;
    llmModel?: string;
    embeddingModel?: string;
    rerankerModel?: string;
    gpu?: string;
    threads?: number;
    contextSize?: number;
}

/**
 * The configuration for a command: defaults < config file < environment < flags. A setting's flag is
 * its name in kebab case (`chunkSize`: `--chunk-size`) unless `flagNames` says otherwise, so that a
 * bad value is reported by the flag it was given with.
 */
export function configFromCommand(command: Command, extraFlags: Partial<Record<ConfigKey, unknown>> = {}, flagNames: Partial<Record<ConfigKey, string>> = {}): LoadedConfig {
    const flags = command.optsWithGlobals<GlobalFlags>();
    const names = Object.fromEntries([...globalSettings, ...Object.keys(extraFlags) as ConfigKey[]]
        .map((key) => [key, flagNames[key] ?? `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`]));
    return loadConfig({
        env: process.env,
        ...(flags.config != null ? { configFile: flags.config } : {}),
        flagNames: names,
        flags: {
            dataDir: flags.dataDir,
            modelsDir: flags.modelsDir,
            llmModel: flags.llmModel,
            embeddingModel: flags.embeddingModel,
            rerankerModel: flags.rerankerModel,
            gpu: flags.gpu,
            threads: flags.threads,
            contextSize: flags.contextSize,
            ...extraFlags,
        },
    });
}
