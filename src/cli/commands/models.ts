import cliProgress from "cli-progress";
import type { Command } from "commander";
import { pullModel } from "../../models/pullModels.js";
import type { ModelRole } from "../../models/resolveModelPath.js";
import { configFromCommand, parseNumber } from "../globalOptions.js";

export function registerModelsCommand(program: Command): void {
    const models = program.command("models").description("get the configured models");
    models.command("pull")
        .description("download the configured LLM, embedding and reranker models (hf: or https URIs) into the models folder")
        .option("--stall-timeout <seconds>", "give up when no data arrives for this long", parseNumber, 30)
        .action(async (flags: { stallTimeout: number }, command: Command) => {
            const { config } = configFromCommand(command);
            const wanted: [string, ModelRole][] = [[config.llmModel, "LLM"], [config.embeddingModel, "embedding"]];
            if (config.rerankerModel != null) wanted.push([config.rerankerModel, "reranker"]);
            for (const [model, role] of wanted) {
                const bar = process.stderr.isTTY
                    ? new cliProgress.SingleBar({ format: `${role} {bar} {percentage}% | {value}/{total} MB`, stream: process.stderr }, cliProgress.Presets.shades_classic)
                    : undefined;
                let started = false;
                try {
                    const file = await pullModel(model, role, {
                        modelsDir: config.modelsDir,
                        stallTimeoutMs: flags.stallTimeout * 1000,
                        onProgress: ({ downloadedBytes, totalBytes }) => {
                            const mb = (bytes: number) => Math.round(bytes / 1e6);
                            if (!started) bar?.start(mb(totalBytes), mb(downloadedBytes));
                            else bar?.update(mb(downloadedBytes));
                            started = true;
                        },
                    });
                    bar?.stop();
                    process.stdout.write(`${role} model: ${file}\n`);
                } finally {
                    bar?.stop();
                }
            }
        });
}
