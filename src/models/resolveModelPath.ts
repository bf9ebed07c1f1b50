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

/** The model's own file name (`bge-small-zh-v1.5-q8_0.gguf`): what a person saves it as when downloading it by hand. */
export function ownFileName(model: string): string {
    const name = path.posix.basename(new URL(downloadUrlOf(model)).pathname);
    return decodeURIComponent(name);
}

/**
 * Finds a configured model on disk, never downloading: a local path must exist; an `hf:` URI must
 * be in `modelsDir`, under its own file name or as `yizhi models pull` saved it. The error says how to get the file.
 */
export async function resolveModelPath(model: string, role: ModelRole, modelsDir: string): Promise<string> {
    if (!isRemoteModel(model)) {
        if (fs.existsSync(model)) return model;
        throw new ModelNotFoundError(
            `The ${role} model file ${model} does not exist. Set ${settingFor[role]} to the path of a GGUF file, ` +
            "or to an hf: URI and run: yizhi models pull",
        );
    }
    const savedByHand = path.join(modelsDir, ownFileName(model));
    if (fs.existsSync(savedByHand)) return savedByHand;
    try {
        return await resolveModelFile(model, { directory: modelsDir, download: false, cli: false });
    } catch (error) {
        throw new ModelNotFoundError(
            `The ${role} model ${model} is not in ${path.resolve(modelsDir)}. Run: yizhi models pull — ` +
            `or, without a network, download ${downloadUrlOf(model)} on another machine and save it as ${path.resolve(savedByHand)} ` +
            `(or set ${settingFor[role]} to the path of a GGUF file you have).`,
            { cause: error },
        );
    }
}
