import path from "node:path";
import type { Command } from "commander";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand, parseInteger, requiredOption } from "../globalOptions.js";
import { createIngestProgressBar } from "../ingestProgressBar.js";
import { CliExit, printJson } from "../output.js";

interface IngestFlags {
    kb: string;
    prune?: boolean;
    json?: boolean;
    chunkSize?: number;
    chunkOverlap?: number;
}

export function registerIngestCommand(program: Command): void {
    requiredOption(program.command("ingest")
        .description("add files and folders (recursively) to a knowledge base, creating it if needed")
        .argument("<paths...>", "files and folders"),
    "--kb <name>", "knowledge base")
        .option("--prune", "remove documents under the given folders whose files are gone")
        .option("--json", "print the per-file outcome as JSON")
        .option("--chunk-size <chars>", "chunk size in characters ($YIZHI_CHUNK_SIZE)", parseInteger)
        .option("--chunk-overlap <chars>", "chunk overlap in characters ($YIZHI_CHUNK_OVERLAP)", parseInteger)
        .action(async (paths: string[], flags: IngestFlags, command: Command) => {
            const { config } = configFromCommand(command, { chunkSize: flags.chunkSize, chunkOverlap: flags.chunkOverlap });
            const yizhi = new Yizhi(config);
            const bar = flags.json !== true && process.stderr.isTTY ? createIngestProgressBar() : undefined;
            try {
                const report = await yizhi.knowledgeBases.ingest(flags.kb, paths, { prune: flags.prune === true, ...(bar != null ? { onProgress: bar.update } : {}) });
                bar?.stop();
                if (flags.json === true) {
                    const files = report.files.map(({ path: file, status, chunks, reason }) => ({ path: file, status, chunks, ...(reason != null ? { reason } : {}) }));
                    printJson({ files, pruned: report.pruned });
                } else {
                    printSummary(report.files, report.pruned.length, report.timings.totalMs);
                }
                if (report.files.some((file) => file.status === "failed")) throw new CliExit(1);
            } finally {
                bar?.stop();
                await yizhi.dispose();
            }
        });
}

function printSummary(files: { path: string; status: string; chunks: number; reason?: string }[], pruned: number, totalMs: number): void {
    const cwd = process.cwd();
    const shown = (file: string) => (file.startsWith(cwd + path.sep) ? path.relative(cwd, file) : file);
    for (const file of files.filter((item) => item.status === "failed" || item.status === "skipped"))
        process.stdout.write(`${file.status.padEnd(10)} ${shown(file.path)}: ${file.reason}\n`);
    const count = (status: string) => files.filter((file) => file.status === status).length;
    const chunks = files.filter((file) => file.status === "ingested").reduce((sum, file) => sum + file.chunks, 0);
    process.stdout.write(
        `${count("ingested")} ingested (${chunks} chunks), ${count("unchanged")} unchanged, ${count("skipped")} skipped, ${count("failed")} failed` +
        `${pruned > 0 ? `, ${pruned} removed` : ""} in ${(totalMs / 1000).toFixed(1)} s\n`,
    );
}
