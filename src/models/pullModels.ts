import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { ModelNotFoundError } from "../errors.js";
import { downloadUrlOf, isRemoteModel, ownFileName, settingFor, type ModelRole } from "./resolveModelPath.js";

export interface PullProgress {
    model: string;
    downloadedBytes: number;
    totalBytes: number;
}

export interface PullOptions {
    modelsDir: string;
    /** Give up when no bytes arrive for this long (default 30 s): without a network, downloads hang rather than fail. */
    stallTimeoutMs?: number;
    onProgress?: (progress: PullProgress) => void;
}

/** A model that could not be had, and why. */
export interface MissingModel {
    role: ModelRole;
    model: string;
    reason: string;
}

/** Downloads a model named by an `hf:` or https URI into `modelsDir`, unless it is there already; returns its path. */
export async function pullModel(model: string, role: ModelRole, options: PullOptions): Promise<string> {
    if (!isRemoteModel(model)) {
        if (fs.existsSync(model)) return model;
        throw new ModelNotFoundError(`The ${role} model is set to the local file ${model}, which does not exist; there is nothing to download.`);
    }
    const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
    const watchdog = new StallWatchdog(stallTimeoutMs);
    const download = resolveModelFile(model, {
        directory: options.modelsDir,
        download: "auto",
        cli: false,
        signal: watchdog.signal,
        onProgress: ({ downloadedSize, totalSize }) => {
            watchdog.rearm();
            options.onProgress?.({ model, downloadedBytes: downloadedSize, totalBytes: totalSize });
        },
    });
    download.catch(() => undefined); // when the watchdog wins, the download's own failure comes later
    try {
        return await Promise.race([watchdog.stalled, download]);
    } catch (error) {
        throw new ModelNotFoundError(missingModelsMessage([{ role, model, reason: (error as Error).message }], options.modelsDir), { cause: error });
    } finally {
        watchdog.stop();
    }
}

/** The host and port a model is downloaded from. */
export function downloadHostOf(model: string): { host: string; port: number } {
    const url = new URL(downloadUrlOf(model));
    return { host: url.hostname, port: Number(url.port || (url.protocol === "http:" ? 80 : 443)) };
}

/**
 * Resolves when a TCP connection to `host:port` opens within `timeoutMs` (default 5 s), and
 * rejects with the reason otherwise: offline, a download would retry for a long while first.
 */
export function checkReachable({ host, port }: { host: string; port: number }, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host, port, timeout: timeoutMs });
        socket.once("connect", () => {
            socket.destroy();
            resolve();
        });
        socket.once("timeout", () => {
            socket.destroy();
            reject(new Error(`${host} did not answer within ${Math.round(timeoutMs / 1000)} s`));
        });
        socket.once("error", (error: NodeJS.ErrnoException) => {
            socket.destroy();
            const why = error.code === "ENOTFOUND" || error.code === "EAI_AGAIN" ? "its name does not resolve" : error.code === "ECONNREFUSED" ? "it refused the connection" : error.message;
            reject(new Error(`${host} cannot be reached: ${why}`));
        });
    });
}

/** One message for every model that could not be had: where to download each, the name to save it under, its setting. */
export function missingModelsMessage(missing: readonly MissingModel[], modelsDir: string): string {
    const folder = path.resolve(modelsDir);
    const reasons = [...new Set(missing.map((item) => item.reason))];
    const lines = [
        `Could not download ${missing.length === 1 ? `the ${missing[0]!.role} model` : `${missing.length} models`} (${reasons.join("; ")}). ` +
        `Download ${missing.length === 1 ? "it" : "each"} on a machine with a network and copy it into ${folder}:`,
    ];
    for (const { role, model } of missing) {
        lines.push(
            `  ${role} model ${model}`,
            `    from    ${downloadUrlOf(model)}`,
            `    save as ${path.join(folder, ownFileName(model))}`,
            `    or set  ${settingFor[role]} to the path where you saved it`,
        );
    }
    return lines.join("\n");
}

/**
 * Rejects `stalled` and aborts `signal` when `rearm` has not been called for `timeoutMs`.
 * node-llama-cpp keeps retrying a refused connection without honouring its signal, so the pull
 * races the download against `stalled` rather than waiting for the download to give up.
 */
class StallWatchdog {
    public readonly stalled: Promise<never>;
    private readonly controller = new AbortController();
    private timer?: NodeJS.Timeout;
    private fire: () => void = () => undefined;

    public constructor(private readonly timeoutMs: number) {
        this.stalled = new Promise<never>((_, reject) => {
            this.fire = () => {
                this.controller.abort();
                reject(new Error(`no data arrived for ${Math.round(timeoutMs / 1000)} s`));
            };
        });
        this.rearm();
    }

    public get signal(): AbortSignal {
        return this.controller.signal;
    }

    public rearm(): void {
        clearTimeout(this.timer);
        this.timer = setTimeout(this.fire, this.timeoutMs);
    }

    public stop(): void {
        clearTimeout(this.timer);
    }
}
