#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerAskCommand } from "./commands/ask.js";
import { registerConfigCommand } from "./commands/config.js";
import { registerEvalCommand } from "./commands/eval.js";
import { registerIngestCommand } from "./commands/ingest.js";
import { registerKeysCommands } from "./commands/keys.js";
import { registerKnowledgeBaseCommands } from "./commands/knowledgeBases.js";
import { registerMcpCommand } from "./commands/mcp.js";
import { registerModelsCommand } from "./commands/models.js";
import { registerServeCommand } from "./commands/serve.js";
import { addGlobalOptions, checkRequiredOptions } from "./globalOptions.js";
import { reportError } from "./output.js";
import { packageVersion } from "../packageRoot.js";

const program = addGlobalOptions(new Command("yizhi"))
    .description("Yizhi (已知): answers questions from your own documents with a local LLM, citing its sources.")
    .version(packageVersion, "-V, --version", "print Yizhi's version")
    .showHelpAfterError()
    .exitOverride()
    .hook("preAction", checkRequiredOptions);

registerIngestCommand(program);
registerAskCommand(program);
registerKnowledgeBaseCommands(program);
registerEvalCommand(program);
registerModelsCommand(program);
registerConfigCommand(program);
registerServeCommand(program);
registerKeysCommands(program);
registerMcpCommand(program);

try {
    await program.parseAsync(process.argv);
} catch (error) {
    if (error instanceof CommanderError) {
        process.exitCode = error.exitCode;
    } else {
        process.exitCode = reportError(error, process.argv.includes("--json"));
    }
}
// A library may keep retrying in the background (node-llama-cpp's downloader does, offline); the
// command's work is done, so it must not keep the process alive.
setTimeout(() => process.exit(), 500).unref();
