import fs from "node:fs";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { ModelNotFoundError } from "../errors.js";

export type ModelRole = "LLM" | "embedding" | "reranker";

/** The environment variable that configures each model. */
export const settingFor: Record<ModelRole, string> = { LLM: "YIZHI_LLM_MODEL", embedding: "YIZHI_EMBEDDING_MODEL", reranker: "YIZHI_RERANKER_MODEL" };

export function isRemoteModel(model: string): boolean {
    return /^(hf|https?):/i.test(model);
}

/** The https address a person can download an `hf:user/repo/file.gguf` model from by hand. */
export function downloadUrlOf(model: string): string {
    const hf = /^hf:([^/]+)\/([^/]+)\/(.+)$/i.exec(model);
    if (hf == null) return model;
    const [, user, repo, file] = hf;
    return `https://huggingface.co/${user}/${repo}/resolve/main/${file}`;
}

/**
 * Finds a configured model on disk, never downloading: a local path must exist; an `hf:` URI must
 * already have been pulled into `modelsDir`. The error says how to get the file.
 */
export async function resolveModelPath(model: string, role: ModelRole, modelsDir: string): Promise<string> {
    if (!isRemoteModel(model)) {
        if (fs.existsSync(model)) return model;
        throw new ModelNotFoundError(
            `The ${role} model file ${model} does not exist. Set ${settingFor[role]} to the path of a GGUF file, ` +
            "or to an hf: URI and run: yizhi models pull",
        );
    }
    try {
        return await resolveModelFile(model, { directory: modelsDir, download: false, cli: false });
    } catch (error) {
        throw new ModelNotFoundError(
            `The ${role} model ${model} has not been downloaded to ${modelsDir}. Run: yizhi models pull — ` +
            `or, without a network, download ${downloadUrlOf(model)} by hand, put it in ${path.resolve(modelsDir)}, ` +
            `and set ${settingFor[role]} to its path.`,
            { cause: error },
        );
    }
}
