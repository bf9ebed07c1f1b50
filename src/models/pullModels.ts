import fs from "node:fs";
import { resolveModelFile } from "node-llama-cpp";
import { ModelNotFoundError } from "../errors.js";
import { downloadUrlOf, isRemoteModel, settingFor, type ModelRole } from "./resolveModelPath.js";

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
        throw new ModelNotFoundError(
            `Could not download the ${role} model ${model} (${(error as Error).message}). Without a network, download ${downloadUrlOf(model)} ` +
            `on another machine, copy it into ${options.modelsDir}, and set ${settingFor[role]} to its path.`,
            { cause: error },
        );
    } finally {
        watchdog.stop();
    }
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
