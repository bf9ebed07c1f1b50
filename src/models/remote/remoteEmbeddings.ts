import { Embeddings } from "@langchain/core/embeddings";
import { FINGERPRINT_PROBE, type Embedder, type EmbedderIdentity } from "../models.js";
import { estimateTokens } from "./estimateTokens.js";
import type { ModelServer } from "./modelServer.js";

export interface RemoteEmbeddingsOptions {
    /** `openai`: `POST /embeddings`; `ollama`: its native `POST /api/embed`. */
    protocol: "openai" | "ollama";
    server: ModelServer;
    /** The server's name for the model. */
    model: string;
    /** Texts in one request. */
    batchSize: number;
    /** Estimated tokens of the texts in one request; a longer text goes alone. */
    batchTokens: number;
}

/**
 * LangChain `Embeddings` from a model server: texts are sent in batches (several in flight, as the
 * server's concurrency allows) and their vectors put back in the order of the texts. The identity
 * is the provider, the model's name, its dimension and its fingerprint, found by embedding a probe
 * text once.
 */
export class RemoteEmbeddings extends Embeddings implements Embedder {
    private identified?: Promise<EmbedderIdentity>;

    public constructor(private readonly options: RemoteEmbeddingsOptions) {
        super({});
    }

    public identity(options: { fresh?: boolean } = {}): Promise<EmbedderIdentity> {
        if (options.fresh === true) this.identified = undefined;
        this.identified ??= this.request([FINGERPRINT_PROBE]).then(([vector]) => {
            const { protocol, model } = this.options;
            return { id: `${protocol}:${model}`, dimension: vector!.length, fingerprint: vector! };
        });
        // A server that is down now may be up on the next try.
        this.identified.catch(() => this.identified = undefined);
        return this.identified;
    }

    public override async embedDocuments(texts: string[]): Promise<number[][]> {
        if (texts.some((text) => text.trim() === "")) throw new RangeError("Cannot embed an empty text.");
        const { dimension } = await this.identity();
        const batches = this.batchesOf(texts);
        const vectors = (await Promise.all(batches.map((batch) => this.request(batch)))).flat();
        const wrong = vectors.find((vector) => vector.length !== dimension);
        if (wrong != null) {
            const { server, model } = this.options;
            throw server.error("model_server_failed", `returned a ${wrong.length}-dim vector from "${model}", which gave ${dimension}-dim vectors before: ` +
                "it serves another model under that name now, or mixes models.", `Check that ${server.setting("Model")} names one model on it.`);
        }
        return vectors;
    }

    public override async embedQuery(text: string): Promise<number[]> {
        const [vector] = await this.embedDocuments([text]);
        return vector!;
    }

    private batchesOf(texts: readonly string[]): string[][] {
        const { batchSize, batchTokens } = this.options;
        const batches: string[][] = [];
        let batch: string[] = [];
        let tokens = 0;
        for (const text of texts) {
            const cost = estimateTokens(text);
            if (batch.length > 0 && (batch.length >= batchSize || tokens + cost > batchTokens)) {
                batches.push(batch);
                batch = [];
                tokens = 0;
            }
            batch.push(text);
            tokens += cost;
        }
        if (batch.length > 0) batches.push(batch);
        return batches;
    }

    private async request(texts: readonly string[]): Promise<number[][]> {
        const { protocol, server, model } = this.options;
        // Always floats: the `openai` SDK asks for base64, which several servers break on. Ollama
        // truncates an input too long unless told not to, which would store a vector of part of a chunk.
        const answer = protocol === "openai"
            ? await server.postJson("/embeddings", { model, input: texts, encoding_format: "float" })
            : await server.postJson("/api/embed", { model, input: texts, truncate: false });
        const vectors = protocol === "openai" ? this.inIndexOrder(answer, texts.length) : (answer as { embeddings?: unknown }).embeddings;
        if (!Array.isArray(vectors) || vectors.length !== texts.length || !vectors.every(isVector)) {
            throw server.failed(`did not return one vector of numbers for each of the ${texts.length} texts sent.`);
        }
        return vectors;
    }

    /** The vectors of an OpenAI answer put in the order of the inputs by their `index`. */
    private inIndexOrder(answer: unknown, count: number): unknown[] | undefined {
        const data = (answer as { data?: unknown } | undefined)?.data;
        if (!Array.isArray(data) || data.length !== count) return undefined;
        const ordered: unknown[] = new Array<unknown>(count);
        for (const [position, item] of data.entries()) {
            const { index, embedding } = item as { index?: unknown; embedding?: unknown };
            // A server may leave `index` out; then the answer's order is the inputs'.
            const at = index ?? position;
            if (typeof at !== "number" || !Number.isInteger(at) || at < 0 || at >= count || ordered[at] !== undefined) return undefined;
            ordered[at] = embedding;
        }
        return ordered;
    }
}

function isVector(value: unknown): value is number[] {
    return Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === "number" && Number.isFinite(x));
}
