import fs from "node:fs";
import { resolveModelFile } from "node-llama-cpp";
import { ModelNotFoundError } from "../errors.js";
import { downloadUrlOf, isRemoteModel, type ModelRole } from "./resolveModelPath.js";

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
    const controller = new AbortController();
    let watchdog = setTimeout(() => controller.abort(), stallTimeoutMs);
    try {
        return await resolveModelFile(model, {
            directory: options.modelsDir,
            download: "auto",
            cli: false,
            signal: controller.signal,
            onProgress: ({ downloadedSize, totalSize }) => {
                clearTimeout(watchdog);
                watchdog = setTimeout(() => controller.abort(), stallTimeoutMs);
                options.onProgress?.({ model, downloadedBytes: downloadedSize, totalBytes: totalSize });
            },
        });
    } catch (error) {
        const why = controller.signal.aborted ? `no data arrived for ${Math.round(stallTimeoutMs / 1000)} s` : (error as Error).message;
        throw new ModelNotFoundError(
            `Could not download the ${role} model ${model} (${why}). Without a network, download ${downloadUrlOf(model)} ` +
            `on another machine, copy it into ${options.modelsDir}, and set ${role === "LLM" ? "YIZHI_LLM_MODEL" : "YIZHI_EMBEDDING_MODEL"} to its path.`,
            { cause: error }
        );
    } finally {
        clearTimeout(watchdog);
    }
}
