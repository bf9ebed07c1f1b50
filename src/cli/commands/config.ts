import type { Command } from "commander";
import { envNames } from "../../config/loadConfig.js";
import type { ConfigKey } from "../../config/schema.js";
import { redactUrl } from "../../store/postgres/database.js";
import { configFromCommand } from "../globalOptions.js";
import { printJson } from "../output.js";

export function registerConfigCommand(program: Command): void {
    program.command("config")
        .description("print the effective configuration and where each value came from")
        .option("--json", "print as JSON")
        .action((flags: { json?: boolean }, command: Command) => {
            const loaded = configFromCommand(command);
            const { origins, configFile } = loaded;
            // Secrets: show that a key is set, never the key itself, and the database URL without its password.
            const { databaseUrl } = loaded.config;
            const config = { ...loaded.config, ...(databaseUrl != null ? { databaseUrl: redactUrl(databaseUrl) } : {}) };
            for (const key of ["apiKey", "embeddingApiKey", "llmApiKey", "rerankerApiKey"] as const)
                if (config[key] != null) config[key] = "(set)";
            if (flags.json === true) return printJson({ config, origins, configFile: configFile ?? null });
            if (configFile != null) process.stdout.write(`# config file: ${configFile}\n`);
            for (const key of Object.keys(config) as ConfigKey[])
                process.stdout.write(`${key} = ${JSON.stringify(config[key])}\t# ${origins[key]}, ${envNames[key]}\n`);
        });
}
