import path from "node:path";
import readline from "node:readline/promises";
import type { Command } from "commander";
import { DocumentNotFoundError } from "../../errors.js";
import { displayNameOf, KnowledgeBase, summarizeDocument, type DocumentRecord } from "../../store/knowledgeBase.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand } from "../globalOptions.js";
import { CliExit, printJson } from "../output.js";

export function registerKnowledgeBaseCommands(program: Command): void {
    const kb = program.command("kb").description("list, repair and delete knowledge bases");

    kb.command("list")
        .description("list the knowledge bases with their document and chunk counts")
        .option("--json", "print as JSON")
        .action(async (flags: { json?: boolean }, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            const summaries = await yizhi.knowledgeBases.list();
            if (flags.json === true) return printJson(summaries);
            if (summaries.length === 0) process.stdout.write(`No knowledge bases in ${yizhi.config.dataDir}.\n`);
            for (const summary of summaries) {
                const counts = summary.problem ?? `${summary.documents} documents\t${summary.chunks} chunks`;
                process.stdout.write(`${summary.name}\t${counts}\t${summary.embedder}\n`);
            }
        });

    kb.command("repair")
        .description("roll a damaged knowledge base back to its last whole commit")
        .argument("<name>", "knowledge base")
        .action(async (name: string, _flags: object, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            const { from, to } = await yizhi.knowledgeBases.repair(name);
            const { documents } = await KnowledgeBase.readCommitted(name, yizhi.knowledgeBases.dirOf(name));
            process.stdout.write(from === to
                ? `Knowledge base "${name}" is whole: nothing to repair (${documents.length} documents).\n`
                : `Rolled knowledge base "${name}" back to its last whole commit (generation ${to}${from != null ? `, from ${from}` : ""}): ${documents.length} documents. Ingest what was added since then again.\n`);
        });

    kb.command("delete")
        .description("delete a knowledge base and all its documents (asks first on a terminal)")
        .argument("<name>", "knowledge base")
        .option("-y, --yes", "delete without asking (needed when not run from a terminal)")
        .action(async (name: string, flags: { yes?: boolean }, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            await yizhi.knowledgeBases.assertExists(name);
            if (flags.yes !== true) {
                const { documents } = await KnowledgeBase.readCommitted(name, yizhi.knowledgeBases.dirOf(name));
                const what = `knowledge base "${name}" and its ${documents.length} documents`;
                if (!process.stdin.isTTY) throw new CliExit(1, `Not deleting ${what} without confirmation: add --yes.`);
                if (!await confirm(`Delete ${what}? This cannot be undone. [y/N] `)) throw new CliExit(1, "Nothing was deleted.");
            }
            await yizhi.knowledgeBases.delete(name);
            process.stdout.write(`Deleted knowledge base "${name}".\n`);
        });

    const docs = program.command("docs").description("list, show and delete the documents of a knowledge base");

    docs.command("list")
        .description("list documents: id, source, chunks, content hash")
        .requiredOption("--kb <name>", "knowledge base")
        .option("--json", "print as JSON")
        .action(async (flags: { kb: string; json?: boolean }, command: Command) => {
            const { documents } = await readCommitted(command, flags.kb);
            const rows = documents.map(summarizeDocument);
            if (flags.json === true) return printJson(rows);
            for (const row of rows) process.stdout.write(`${row.id}\t${row.chunks} chunks\t${row.source}\n`);
        });

    docs.command("show")
        .description("show a document's chunks")
        .argument("<document>", "its id (from docs list), a unique start of it, or its file name")
        .requiredOption("--kb <name>", "knowledge base")
        .option("--json", "print as JSON")
        .action(async (given: string, flags: { kb: string; json?: boolean }, command: Command) => {
            const { documents, chunks } = await readCommitted(command, flags.kb);
            const document = findDocument(flags.kb, documents, given);
            const byLabel = new Map(chunks.map((chunk) => [chunk.label, chunk]));
            const ordered = document.labels.map((label) => byLabel.get(label)).filter((chunk) => chunk != null)
                .map(({ index, text, page, headingPath }) => ({ index, text, ...(page != null ? { page } : {}), ...(headingPath != null ? { headingPath } : {}) }));
            if (flags.json === true) return printJson({ id: document.id, source: document.source, hash: document.hash, chunks: ordered });
            process.stdout.write(`${document.source}\n`);
            for (const chunk of ordered) process.stdout.write(`\n--- chunk ${chunk.index}${chunk.page != null ? `, p. ${chunk.page}` : ""}\n${chunk.text}\n`);
        });

    docs.command("delete")
        .description("delete a document and its chunks")
        .argument("<document>", "its id (from docs list), a unique start of it, or its file name")
        .requiredOption("--kb <name>", "knowledge base")
        .action(async (given: string, flags: { kb: string }, command: Command) => {
            const yizhi = new Yizhi(configFromCommand(command).config);
            const knowledgeBase = await yizhi.openKnowledgeBase(flags.kb, "write");
            try {
                const document = findDocument(flags.kb, knowledgeBase.documents(), given);
                knowledgeBase.removeDocument(document.id);
                await knowledgeBase.commit();
                process.stdout.write(`Deleted ${document.source} (${document.labels.length} chunks).\n`);
            } finally {
                await knowledgeBase.close();
            }
        });
}

/**
 * The one document `given` names: its id, a unique start of its id, or its file name (the name it
 * is shown by, or the last part of its source). Throws when none does, or when several do.
 */
function findDocument(kb: string, documents: readonly DocumentRecord[], given: string): DocumentRecord {
    const exact = documents.find((document) => document.id === given);
    if (exact != null) return exact;
    const byPrefix = /^[0-9a-f]+$/.test(given) ? documents.filter((document) => document.id.startsWith(given)) : [];
    const byName = documents.filter((document) => displayNameOf(document) === given || path.basename(document.source) === given);
    const matches = byPrefix.length > 0 ? byPrefix : byName;
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw new DocumentNotFoundError(kb, given);
    throw new CliExit(1, `"${given}" names ${matches.length} documents of "${kb}": ${matches.map((document) => `${document.id} (${document.source})`).join(", ")}. Give more of the id.`);
}

async function readCommitted(command: Command, kbName: string): ReturnType<typeof KnowledgeBase.readCommitted> {
    const yizhi = new Yizhi(configFromCommand(command).config);
    const { knowledgeBases } = yizhi;
    await knowledgeBases.assertExists(kbName);
    return KnowledgeBase.readCommitted(kbName, knowledgeBases.dirOf(kbName));
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
