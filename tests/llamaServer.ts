import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { repoRoot, testModelPath } from "./helpers.js";
import { freePort } from "./testDatabases.js";

/**
 * The llama-server built from the llama.cpp source inside node-llama-cpp's npm package, by
 * scripts/build-llama-server.sh: cached outside the checkout by llama.cpp commit, built here
 * (about 9 minutes on 2 cores) when missing. `YIZHI_TEST_LLAMA_SERVER` may name a binary instead.
 */
export async function llamaServerBinary(env: NodeJS.ProcessEnv = process.env): Promise<string> {
    if (env.YIZHI_TEST_LLAMA_SERVER != null) return env.YIZHI_TEST_LLAMA_SERVER;
    const { stdout } = await promisify(execFile)("bash", [path.join(repoRoot, "scripts", "build-llama-server.sh")], { cwd: repoRoot, timeout: 40 * 60_000 });
    return stdout.trim().split("\n").at(-1)!;
}

export interface LlamaServerOptions {
    /** Sent by clients as `Authorization: Bearer`; none by default. */
    apiKey?: string;
    /** Default: a free one. */
    port?: number;
    /** Tokens of context in all, shared by the slots; default 2048. */
    contextSize?: number;
    /** Serves Prometheus counters at /metrics; default false. */
    metrics?: boolean;
    /** CPU threads; default 1. */
    threads?: number;
    /** Slots: requests served at once; default 1 (with more, llama-server gives a text in a batch a slightly other vector than alone: cosine 0.99 with the test model). */
    parallel?: number;
}

export interface LlamaServer {
    /** `http://127.0.0.1:PORT` */
    url: string;
    /** The OpenAI-compatible API root: `${url}/v1`. */
    baseUrl: string;
    port: number;
    /** Kills the process with SIGKILL, as a crash would, and waits for it to be gone. */
    kill(): Promise<void>;
    /** Starts it again on the same port with the same options. */
    restart(): Promise<void>;
    stop(): Promise<void>;
}

/**
 * Serves the test model on loopback for embeddings (`--embeddings --pooling mean`: 64-dim vectors)
 * and chat (`--chat-template llama2`), with `/tokenize` and `/health`; `/v1/rerank` answers with
 * its own error, since no ranking model exists here.
 */
export async function startLlamaServer(options: LlamaServerOptions = {}): Promise<LlamaServer> {
    const binary = await llamaServerBinary();
    const port = options.port ?? await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = [
        "-m", testModelPath, "--host", "127.0.0.1", "--port", String(port), "--embeddings", "--pooling", "mean",
        "--chat-template", "llama2", "-t", String(options.threads ?? 1), "-c", String(options.contextSize ?? 2048), "-np", String(options.parallel ?? 1), "--no-webui",
        ...(options.apiKey != null ? ["--api-key", options.apiKey] : []),
        ...(options.metrics === true ? ["--metrics"] : []),
    ];
    let child: ChildProcess | undefined;
    let log = "";
    const start = async () => {
        log = "";
        const started = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
        child = started;
        started.stdout.on("data", (data: Buffer) => log = (log + data.toString()).slice(-4000));
        started.stderr.on("data", (data: Buffer) => log = (log + data.toString()).slice(-4000));
        for (let waited = 0; ; waited += 50) {
            if (started.exitCode != null) throw new Error(`llama-server exited with ${started.exitCode}:\n${log}`);
            const healthy = await fetch(`${url}/health`).then((response) => response.ok, () => false);
            if (healthy) return;
            if (waited > 60_000) throw new Error(`llama-server did not become healthy within 60 s:\n${log}`);
            await sleep(50);
        }
    };
    const end = async (signal: NodeJS.Signals) => {
        const running = child;
        child = undefined;
        if (running == null || running.exitCode != null || running.signalCode != null) return;
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill(signal);
        await exited;
    };
    await start();
    return {
        url,
        baseUrl: `${url}/v1`,
        port,
        kill: () => end("SIGKILL"),
        restart: start,
        stop: () => end("SIGTERM"),
    };
}
