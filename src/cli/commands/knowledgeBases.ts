import readline from "node:readline/promises";
import type { Command } from "commander";
import type { KnowledgeBaseService } from "../../service/knowledgeBaseService.js";
import { copyKnowledgeBase } from "../../store/copyKnowledgeBase.js";
import { createStorage } from "../../store/createStorage.js";
import { summarizeDocument } from "../../store/records.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand, requiredOption } from "../globalOptions.js";
import { CliExit, printJson } from "../output.js";

export function registerKnowledgeBaseCommands(program: Command): void {
    const kb = program.command("kb").description("list, repair, compact and delete knowledge bases");

    kb.command("list")
        .description("list the knowledge bases with their document and chunk counts")
        .option("--json", "print as JSON")
        .action(async (flags: { json?: boolean }, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            const summaries = await yizhi.knowledgeBases.list();
            if (flags.json === true) return printJson(summaries);
            if (summaries.length === 0) process.stdout.write(`No knowledge bases in ${yizhi.storage.location}.\n`);
            for (const summary of summaries) {
                const counts = summary.problem ?? `${summary.documents} documents\t${summary.chunks} chunks`;
                process.stdout.write(`${summary.name}\t${counts}\t${summary.embedder}\n`);
            }
        });

    kb.command("repair")
        .description("make a damaged knowledge base whole again from what it holds")
        .argument("<name>", "knowledge base")
        .action(async (name: string, _flags: object, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            const { repaired, documents } = await yizhi.knowledgeBases.repair(name);
            process.stdout.write(repaired.length === 0
                ? `Knowledge base "${name}" is whole: nothing to repair (${documents} documents).\n`
                : `Repaired knowledge base "${name}": ${repaired.join("; ")}. It holds ${documents} documents; ingest what is missing again.\n`);
        });

    kb.command("compact")
        .description("save the vector graph anew, so that opening the knowledge base replays nothing")
        .argument("<name>", "knowledge base")
        .action(async (name: string, _flags: object, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            const { chunks, bytesBefore, bytesAfter } = await yizhi.knowledgeBases.compact(name);
            const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
            process.stdout.write(`Compacted knowledge base "${name}": ${chunks} chunks, ${mb(bytesBefore)} MB → ${mb(bytesAfter)} MB.\n`);
        });

    requiredOption(kb.command("copy")
        .description("copy a knowledge base to the other storage (file or postgres), vectors and all, without embedding again")
        .argument("<name>", "knowledge base, in the configured storage"),
    "--to <storage>", "file (folders under dataDir) or postgres (the database at databaseUrl)")
        .option("--as <name>", "its name there (default: the same)")
        .action(async (name: string, flags: { to: string; as?: string }, command: Command) => {
            const { config } = configFromCommand(command);
            if (flags.to !== "file" && flags.to !== "postgres") throw new CliExit(1, `--to must be file or postgres, not "${flags.to}".`);
            const target = flags.as ?? name;
            if (flags.to === config.storage && target === name) throw new CliExit(1, `"${name}" is already in the ${config.storage} storage: name the copy with --as.`);
            const from = createStorage(config);
            const to = createStorage(config, flags.to);
            try {
                const { documents, chunks } = await copyKnowledgeBase(from, to, name, { as: target });
                process.stdout.write(`Copied knowledge base "${name}" from ${from.location} to "${target}" in ${to.location}: ${documents} documents, ${chunks} chunks.\n`);
            } finally {
                await Promise.all([from.close(), to.close()]);
            }
        });

    kb.command("delete")
        .description("delete a knowledge base and all its documents (asks first on a terminal)")
        .argument("<name>", "knowledge base")
        .option("-y, --yes", "delete without asking (needed when not run from a terminal)")
        .action(async (name: string, flags: { yes?: boolean }, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            try {
                await yizhi.knowledgeBases.assertExists(name);
                if (flags.yes !== true) {
                    const documents = await yizhi.knowledgeBases.documents(name);
                    const what = `knowledge base "${name}" and its ${documents.length} documents`;
                    if (!process.stdin.isTTY) throw new CliExit(1, `Not deleting ${what} without confirmation: add --yes.`);
                    if (!await confirm(`Delete ${what}? This cannot be undone. [y/N] `)) throw new CliExit(1, "Nothing was deleted.");
                }
                await yizhi.knowledgeBases.remove(name);
            } finally {
                await yizhi.knowledgeBases.dispose();
            }
            process.stdout.write(`Deleted knowledge base "${name}".\n`);
        });

    const docs = program.command("docs").description("list, show and delete the documents of a knowledge base");

    requiredOption(docs.command("list")
        .description("list documents: id, source, chunks, content hash"),
    "--kb <name>", "knowledge base")
        .option("--json", "print as JSON")
        .action(async (flags: { kb: string; json?: boolean }, command: Command) => {
            const rows = (await withService(command, (service) => service.documents(flags.kb))).map(summarizeDocument);
            if (flags.json === true) return printJson(rows);
            for (const row of rows) process.stdout.write(`${row.id}\t${row.chunks} chunks\t${row.source}\n`);
        });

    requiredOption(docs.command("show")
        .description("show a document's chunks")
        .argument("<document>", "its id (from docs list), a unique start of it, or its file name"),
    "--kb <name>", "knowledge base")
        .option("--json", "print as JSON")
        .action(async (given: string, flags: { kb: string; json?: boolean }, command: Command) => {
            const { document, chunks } = await withService(command, async (service) => {
                const found = await service.findDocument(flags.kb, given);
                return { document: found, chunks: await service.chunksOf(flags.kb, found) };
            });
            const ordered = chunks.map(({ index, text, page, headingPath }) => ({
                index, text, ...(page != null ? { page } : {}), ...(headingPath != null ? { headingPath } : {}),
            }));
            if (flags.json === true) return printJson({ id: document.id, source: document.source, hash: document.hash, chunks: ordered });
            process.stdout.write(`${document.source}\n`);
            for (const chunk of ordered) process.stdout.write(`\n--- chunk ${chunk.index}${chunk.page != null ? `, p. ${chunk.page}` : ""}\n${chunk.text}\n`);
        });

    requiredOption(docs.command("delete")
        .description("delete a document and its chunks")
        .argument("<document>", "its id (from docs list), a unique start of it, or its file name"),
    "--kb <name>", "knowledge base")
        .action(async (given: string, flags: { kb: string }, command: Command) => {
            const document = await withService(command, async (service) => service.deleteDocument(flags.kb, (await service.findDocument(flags.kb, given)).id));
            process.stdout.write(`Deleted ${document.source} (${document.labels.length} chunks).\n`);
        });
}

/** Runs `job` with the service of the command's configuration, and closes what it opened. */
async function withService<T>(command: Command, job: (service: KnowledgeBaseService) => Promise<T>): Promise<T> {
    const yizhi = new Yizhi(configFromCommand(command).config);
    try {
        return await job(yizhi.knowledgeBases);
    } finally {
        await yizhi.knowledgeBases.dispose();
    }
}

/** Asks a yes/no question on the terminal; only "y" or "yes" is a yes. */
async function confirm(question: string): Promise<boolean> {
    const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
        return /^y(es)?$/i.test((await prompt.question(question)).trim());
    } finally {
        prompt.close();
    }
}
