import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getLlama, LlamaLogLevel, readGgufFileInfo, type Llama, type LlamaEmbeddingContext } from "node-llama-cpp";
import type { Config } from "../../config/schema.js";
import { ModelNotFoundError, YizhiError } from "../../errors.js";
import type { EmbedderIdentity } from "../models.js";
import { resolveModelPath } from "../resolveModelPath.js";
import { LlamaChatModel } from "./llamaChatModel.js";
import { LlamaEmbeddings, type LoadedEmbeddingModel } from "./llamaEmbeddings.js";
import { LlamaReranker } from "./llamaReranker.js";
import { LoadOnce } from "./loadOnce.js";

export type LocalModelsConfig = Pick<Config,
    "gpu" | "threads" | "modelsDir" | "llmModel" | "embeddingModel" | "contextSize" | "embeddingContextSize" | "embeddingContexts" |
    "parallelAnswers" | "maxAnswerTokens" | "temperature" | "maxQueuedQuestions">;

/**
 * The models that run in this process, on node-llama-cpp: owns the process's one `Llama` and the
 * models loaded on it. Each model loads on first use, so a command that never needs the LLM (ingest,
 * a refused question) never loads it, and nothing loads for a role served remotely.
 */
export class LocalModels {
    /** The embedder, identified from its GGUF header; its model loads on the first text it embeds. */
    public readonly embeddings = new LlamaEmbeddings(() => this.loadEmbeddingModel(), () => this.readEmbedderIdentity());
    private llama?: Promise<Llama>;
    private readonly chatModel = new LoadOnce(() => this.loadChatModel());
    private reranker?: LoadOnce<LlamaReranker>;

    public constructor(private readonly config: LocalModelsConfig) {}

    public getChatModel(): Promise<LlamaChatModel> {
        return this.chatModel.get();
    }

    /** The reranker of `rerankerModel`, loaded on first use. */
    public getReranker(rerankerModel: string): Promise<LlamaReranker> {
        this.reranker ??= new LoadOnce(() => this.loadReranker(rerankerModel));
        return this.reranker.get();
    }

    public async dispose(): Promise<void> {
        const llama = this.llama;
        this.llama = undefined;
        if (llama != null) await (await llama).dispose();
    }

    private getLlama(): Promise<Llama> {
        this.llama ??= getLlama({
            gpu: this.config.gpu === "cpu" ? false : this.config.gpu,
            build: "never",
            logLevel: LlamaLogLevel.error,
            progressLogs: false,
        });
        return this.llama;
    }

    private async readEmbedderIdentity(): Promise<EmbedderIdentity> {
        const modelPath = await resolveModelPath(this.config.embeddingModel, "embedding", this.config.modelsDir);
        const info = await readGgufFileInfo(modelPath, { readTensorInfo: false, sourceType: "filesystem", logWarnings: false })
            .catch((error: unknown) => {
                throw new ModelNotFoundError(`The embedding model ${modelPath} is not a readable GGUF file.`, { cause: error });
            });
        const general = info.metadata.general;
        const dimension = info.architectureMetadata.embedding_length;
        if (dimension == null) throw new ModelNotFoundError(`The embedding model ${modelPath} does not state its embedding size.`);
        // The GGUF's own name, its size and the vector size identify the weights without hashing a
        // file of gigabytes, and survive the file being renamed or moved.
        const name = general.name ?? path.basename(modelPath, ".gguf");
        return { id: `${name} (${general.architecture}, ${fs.statSync(modelPath).size} bytes)`, dimension };
    }

    private async loadEmbeddingModel(): Promise<LoadedEmbeddingModel> {
        const modelPath = await resolveModelPath(this.config.embeddingModel, "embedding", this.config.modelsDir);
        const model = await (await this.getLlama()).loadModel({ modelPath });
        const contextSize = Math.min(this.config.embeddingContextSize, model.trainContextSize);
        const contexts: LlamaEmbeddingContext[] = [];
        for (let i = 0; i < this.embeddingContextCount(); i++) contexts.push(await model.createEmbeddingContext({ contextSize, ...this.threadOptions() }));
        return { model, contexts, contextSize };
    }

    /**
     * `embeddingContexts`, or when it is 0 twice as many as the cores can run side by side at
     * `threads` each, at most 4: a context leaves its core idle between inputs, so on 2 cores with one
     * thread 4 contexts embed 1.84× as fast as one, 2 contexts 1.58× (bench/ingest, news file). With
     * `threads` 0 (node-llama-cpp takes every core) that is one.
     */
    private embeddingContextCount(): number {
        if (this.config.embeddingContexts > 0) return this.config.embeddingContexts;
        if (this.config.threads === 0) return 1;
        return Math.max(1, Math.min(4, 2 * Math.floor(os.availableParallelism() / this.config.threads)));
    }

    private async loadChatModel(): Promise<LlamaChatModel> {
        const modelPath = await resolveModelPath(this.config.llmModel, "LLM", this.config.modelsDir);
        const model = await (await this.getLlama()).loadModel({ modelPath });
        return LlamaChatModel.create(model, {
            contextSize: this.config.contextSize,
            sequences: this.config.parallelAnswers,
            maxAnswerTokens: this.config.maxAnswerTokens,
            temperature: this.config.temperature,
            maxQueued: this.config.maxQueuedQuestions,
            ...this.threadOptions(),
        });
    }

    private async loadReranker(rerankerModel: string): Promise<LlamaReranker> {
        const modelPath = await resolveModelPath(rerankerModel, "reranker", this.config.modelsDir);
        const model = await (await this.getLlama()).loadModel({ modelPath });
        if (!model.fileInsights.supportsRanking) {
            await model.dispose();
            throw new YizhiError(
                "model_cannot_rank",
                `The reranker model ${modelPath} cannot rank: it has no classification head. Set YIZHI_RERANKER_MODEL to a ` +
                "cross-encoder reranker GGUF (such as bge-reranker-v2-m3), or unset it to rank without a reranker.",
            );
        }
        const contextSize = Math.min(this.config.embeddingContextSize, model.trainContextSize);
        return new LlamaReranker(await model.createRankingContext({ contextSize, ...this.threadOptions() }));
    }

    private threadOptions(): { threads?: number } {
        return this.config.threads > 0 ? { threads: this.config.threads } : {};
    }
}
