import type { Config } from "../config/schema.js";
import { LocalModels } from "./local/localModels.js";
import type { ChatModel, Embedder, ModelCheck, ModelProviderName, ModelRoleName, Models, Reranker } from "./models.js";
import { ModelServer, type ModelServerOptions } from "./remote/modelServer.js";
import { RemoteChatModel } from "./remote/remoteChatModel.js";
import { RemoteEmbeddings } from "./remote/remoteEmbeddings.js";
import { RemoteReranker } from "./remote/remoteReranker.js";

/** Where Ollama listens unless told otherwise. */
const OLLAMA_BASE_URL = "http://127.0.0.1:11434";

/**
 * The models of `config`, each role from its provider: `local` ones share one node-llama-cpp
 * runtime (loaded only when a role needs it), remote ones are reached through a `ModelServer` each.
 */
export function createModels(config: Config): Models {
    return new ConfiguredModels(config);
}

class ConfiguredModels implements Models {
    public readonly embeddings: Embedder;
    private localModels?: LocalModels;
    private chatModel?: Promise<ChatModel>;
    private reranker?: Promise<Reranker>;

    public constructor(private readonly config: Config) {
        this.embeddings = config.embeddingProvider === "local"
            ? this.local().embeddings
            : new RemoteEmbeddings({
                    protocol: config.embeddingProvider,
                    server: new ModelServer({
                        ...serverOptions(config, "embedding"),
                        concurrency: config.embeddingConcurrency,
                        tooLongHint: "Lower chunkSize (YIZHI_CHUNK_SIZE) and ingest again, or raise the server's limit " +
                            "(llama-server --batch-size and --ubatch-size, vLLM --max-model-len, Ollama's num_ctx).",
                    }),
                    model: config.embeddingModel,
                    batchSize: config.embeddingBatchSize,
                    batchTokens: config.embeddingBatchTokens,
                });
    }

    public getChatModel(): Promise<ChatModel> {
        if (this.config.llmProvider === "local") return this.local().getChatModel();
        this.chatModel ??= Promise.resolve(this.remoteChatModel());
        return this.chatModel;
    }

    public getReranker(): Promise<Reranker> | undefined {
        const { rerankerModel, rerankerProvider } = this.config;
        if (rerankerModel == null) return undefined;
        if (rerankerProvider === "local") return this.local().getReranker(rerankerModel);
        this.reranker ??= Promise.resolve(new RemoteReranker({
            protocol: rerankerProvider === "tei" ? "tei" : "openai",
            server: new ModelServer({
                ...serverOptions(this.config, "reranker"),
                concurrency: this.config.rerankerConcurrency,
                tooLongHint: "Lower chunkSize (YIZHI_CHUNK_SIZE), or raise the server's limit on an input's tokens.",
            }),
            model: rerankerModel,
            scores: this.config.rerankerScores,
        }));
        return this.reranker;
    }

    public async check(): Promise<ModelCheck[]> {
        const { config } = this;
        const checks: ModelCheck[] = [
            await checkRole("embedding", config.embeddingProvider, config.embeddingModel, async () => {
                const { dimension } = await this.embeddings.identity();
                await this.embeddings.embedQuery("知识库");
                return `embeds, ${dimension}-dim vectors`;
            }),
            await checkRole("llm", config.llmProvider, config.llmModel, async () => {
                const chatModel = await this.getChatModel();
                const { text } = await chatModel.generate({ prompt: "Say OK.", maxTokens: 4 });
                return `answers (${JSON.stringify(text.slice(0, 40))}), context ${chatModel.contextSize} tokens`;
            }),
        ];
        const reranker = this.getReranker();
        if (reranker != null && config.rerankerModel != null) {
            checks.push(await checkRole("reranker", config.rerankerProvider, config.rerankerModel, async () => {
                const [score] = await (await reranker).rank("年假有几天？", ["员工每年有十天带薪年假。"]);
                return `ranks (a relevant pair scores ${score!.toFixed(3)})`;
            }));
        }
        return checks;
    }

    public async dispose(): Promise<void> {
        await this.localModels?.dispose();
    }

    private local(): LocalModels {
        this.localModels ??= new LocalModels(this.config);
        return this.localModels;
    }

    private remoteChatModel(): ChatModel {
        const { config } = this;
        const options = serverOptions(config, "llm");
        const protocol = config.llmProvider === "ollama" ? "ollama" : "openai";
        return new RemoteChatModel({
            protocol,
            server: new ModelServer({
                ...options,
                concurrency: config.parallelAnswers,
                maxQueued: config.maxQueuedQuestions,
                tooLongHint: "Set contextSize (YIZHI_CONTEXT_SIZE) to the context the server gives one request " +
                    "(llama-server: --ctx-size divided by --parallel; vLLM: --max-model-len).",
            }),
            // llama-server and vLLM count tokens at their root's /tokenize; Ollama has no such API.
            ...(protocol === "openai"
                ? {
                        tokenizer: new ModelServer({
                            ...options, baseUrl: options.baseUrl.replace(/\/v1$/, ""), retries: 0, concurrency: 4, tooLongHint: "Lower chunkSize (YIZHI_CHUNK_SIZE).",
                        }),
                    }
                : {}),
            model: config.llmModel,
            contextSize: config.contextSize,
            maxAnswerTokens: config.maxAnswerTokens,
            temperature: config.temperature,
            idleTimeoutMs: config.llmTimeoutSeconds * 1000,
        });
    }
}

/** What every role's server takes from the settings of `role`. */
function serverOptions(config: Config, role: ModelRoleName): Omit<ModelServerOptions, "concurrency" | "maxQueued" | "tooLongHint"> {
    const provider = config[`${role}Provider`];
    return {
        role,
        provider,
        baseUrl: config[`${role}BaseUrl`] ?? OLLAMA_BASE_URL,
        model: config[`${role}Model`] ?? "",
        ...(config[`${role}ApiKey`] != null ? { apiKey: config[`${role}ApiKey`] } : {}),
        timeoutMs: config[`${role}TimeoutSeconds`] * 1000,
        retries: config[`${role}Retries`],
    };
}

async function checkRole(role: ModelRoleName, provider: ModelProviderName, model: string, run: () => Promise<string>): Promise<ModelCheck> {
    try {
        return { role, provider, model, ok: true, detail: await run() };
    } catch (error) {
        return { role, provider, model, ok: false, detail: (error as Error).message, error };
    }
}
