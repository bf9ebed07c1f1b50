import path from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { ModelNotFoundError } from "../../errors.js";
import { checkReachable, downloadHostOf, missingModelsMessage, pullModel, type MissingModel } from "../../models/pullModels.js";
import { downloadUrlOf, isRemoteModel, resolveModelPath, type ModelRole } from "../../models/resolveModelPath.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand, parseNumber } from "../globalOptions.js";
import { CliExit, printJson } from "../output.js";

export function registerModelsCommand(program: Command): void {
    const models = program.command("models").description("get and try the configured models");
    models.command("pull")
        .description("download the configured LLM, embedding and reranker models (hf: or https URIs) into the models folder")
        .option("--stall-timeout <seconds>", "give up when no data arrives for this long", parseNumber, 30)
        .action(async (flags: { stallTimeout: number }, command: Command) => {
            const { config } = configFromCommand(command);
            // A role served by a model server has nothing to download.
            const wanted: [string, ModelRole][] = [];
            const roles = [
                [config.llmModel, "LLM", config.llmProvider], [config.embeddingModel, "embedding", config.embeddingProvider],
                ...(config.rerankerModel != null ? [[config.rerankerModel, "reranker", config.rerankerProvider] as const] : []),
            ] as const;
            for (const [model, role, provider] of roles) {
                if (provider === "local") wanted.push([model, role]);
                else process.stdout.write(`${role} model: "${model}" on a model server (${provider}), nothing to download\n`);
            }
            const missing: MissingModel[] = [];
            const unreachable = new Map<string, string | undefined>();
            for (const [model, role] of wanted) {
                const existing = await resolveModelPath(model, role, config.modelsDir).catch(() => undefined);
                if (existing != null) {
                    process.stdout.write(`${role} model: ${existing} (already there)\n`);
                    continue;
                }
                if (!isRemoteModel(model)) {
                    missing.push({ role, model, reason: `the file ${model} does not exist` });
                    continue;
                }
                const { host, port } = downloadHostOf(model);
                const hostKey = `${host}:${port}`;
                if (!unreachable.has(hostKey)) unreachable.set(hostKey, await checkReachable({ host, port }).then(() => undefined, (error: Error) => error.message));
                const reason = unreachable.get(hostKey);
                if (reason != null) {
                    missing.push({ role, model, reason });
                    continue;
                }
                process.stderr.write(`Downloading the ${role} model ${model}\n  from ${downloadUrlOf(model)}\n  into ${path.resolve(config.modelsDir)}\n`);
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
                } catch (error) {
                    missing.push({ role, model, reason: error instanceof ModelNotFoundError && error.cause instanceof Error ? error.cause.message : (error as Error).message });
                } finally {
                    bar?.stop();
                }
            }
            if (missing.length > 0) throw new CliExit(1, missingModelsMessage(missing, config.modelsDir));
        });
    models.command("check")
        .description("try each configured model once (load a local one, send one request to a remote one) and say what works")
        .option("--json", "print the results as JSON")
        .action(async (flags: { json?: boolean }, command: Command) => {
            const { config } = configFromCommand(command);
            const yizhi = new Yizhi(config);
            try {
                const checks = await yizhi.models.check();
                if (flags.json === true) printJson(checks.map(({ role, provider, model, ok, detail }) => ({ role, provider, model, ok, detail })));
                else for (const { role, provider, model, ok, detail } of checks) process.stdout.write(`${ok ? "ok  " : "FAIL"} ${role} (${provider}: ${model}): ${detail}\n`);
                if (checks.some((check) => !check.ok)) process.exitCode = 1;
            } finally {
                await yizhi.dispose();
            }
        });
}
