/**
 * Hostile documents against `yizhi serve` run as its own process, as an attacker would send them:
 * for each, the upload's status and outcome, how long it took, how /healthz answered meanwhile
 * (probed every 20 ms from here), and the peak resident memory of the server and of its parser
 * processes. Prints a Markdown table. Needs the built CLI (`npm run build`).
 *
 *   npm run bench:hostile
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { hostileCases } from "../tests/hostileFiles.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const modelPath = path.join(root, "..", "shared", "models", "stories260K.gguf");
const PROBE_INTERVAL_MS = 20;

interface Row {
    row: string;
    name: string;
    bytes: number;
    status: number;
    outcome: string;
    uploadMs: number;
    probes: number;
    probeP50Ms: number;
    probeMaxMs: number;
    serverPeakMb: number;
    parserPeakMb: number;
}

async function residentMb(pid: number): Promise<number> {
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

async function childrenOf(pid: number): Promise<number[]> {
    const tasks = await fs.readdir(`/proc/${pid}/task`).catch(() => []);
    const children = await Promise.all(tasks.map((task) => fs.readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "")));
    return children.join(" ").split(/\s+/).filter((id) => id !== "").map(Number);
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-bench-hostile-"));
    const port = 18_000 + Math.floor(Math.random() * 1000);
    const server = spawn(process.execPath, [path.join(root, "dist", "src", "cli", "main.js"), "serve", "--port", String(port)], {
        env: {
            PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", YIZHI_DATA_DIR: dataDir,
            YIZHI_LLM_MODEL: modelPath, YIZHI_EMBEDDING_MODEL: modelPath, YIZHI_THREADS: "1", YIZHI_CONTEXT_SIZE: "1024", YIZHI_EMBEDDING_CONTEXT_SIZE: "64",
            YIZHI_PARSE_TIMEOUT_SECONDS: "10", YIZHI_PARSE_MEMORY_MB: "700", YIZHI_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
        },
        stdio: ["ignore", "ignore", "pipe"],
    });
    const url = `http://127.0.0.1:${port}`;
    try {
        for (let ready = false; !ready; await sleep(200)) ready = (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;
        await fetch(`${url}/kbs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "bench" }) });

        const rows: Row[] = [];
        for (const hostile of hostileCases) {
            const content = await hostile.make();
            const form = new FormData();
            form.append("files", new Blob([content]), hostile.name);
            let uploading = true;
            const probes: number[] = [];
            let serverPeak = 0;
            let parserPeak = 0;
            const watching = (async () => {
                while (uploading) {
                    const started = performance.now();
                    await (await fetch(`${url}/healthz`)).arrayBuffer();
                    probes.push(performance.now() - started);
                    serverPeak = Math.max(serverPeak, await residentMb(server.pid!));
                    for (const child of await childrenOf(server.pid!)) parserPeak = Math.max(parserPeak, await residentMb(child));
                    await sleep(PROBE_INTERVAL_MS);
                }
            })();
            const started = performance.now();
            const response = await fetch(`${url}/kbs/bench/documents`, { method: "POST", body: form });
            const uploadMs = performance.now() - started;
            uploading = false;
            await watching;
            const body = await response.json() as { files?: { status: string; reason?: string }[]; error?: { code: string } };
            const file = body.files?.[0];
            rows.push({
                row: hostile.row, name: hostile.name, bytes: typeof content === "string" ? Buffer.byteLength(content) : content.length,
                status: response.status, outcome: file != null ? `${file.status}: ${file.reason ?? ""}` : String(body.error?.code),
                uploadMs, probes: probes.length, probeP50Ms: median(probes), probeMaxMs: Math.max(0, ...probes), serverPeakMb: serverPeak, parserPeakMb: parserPeak,
            });
        }

        const mb = (value: number) => value.toFixed(0);
        console.log("| row | file | size | HTTP | outcome | upload | /healthz probes: n, p50, max | server peak RSS | parser peak RSS |");
        console.log("|---|---|---|---|---|---|---|---|---|");
        for (const row of rows) {
            console.log(`| ${row.row} | ${row.name} | ${(row.bytes / 1e6).toFixed(1)} MB | ${row.status} | ${row.outcome.replace(/\|/g, "\\|")} | ${(row.uploadMs / 1000).toFixed(1)} s | ${row.probes}, ${row.probeP50Ms.toFixed(1)} ms, ${row.probeMaxMs.toFixed(1)} ms | ${mb(row.serverPeakMb)} MB | ${mb(row.parserPeakMb)} MB |`);
        }
        console.log(`\n- machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "CPU"}, node ${process.version}; limits: parseTimeoutSeconds 10, parseMemoryMb 700, other limits at their defaults`);
    } finally {
        server.kill("SIGTERM");
        await new Promise((resolve) => server.once("exit", resolve));
        await fs.rm(dataDir, { recursive: true, force: true });
    }
}

await main();
