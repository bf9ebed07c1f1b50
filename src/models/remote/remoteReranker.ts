import type { Reranker } from "../models.js";
import type { ModelServer } from "./modelServer.js";

export interface RemoteRerankerOptions {
    /**
     * `openai`: the Jina/Cohere API, `POST /rerank` with `{ model, query, documents, top_n }` answered
     * with `results[{ index, relevance_score }]` (llama-server, vLLM, Xinference); `tei`: Hugging Face
     * TEI's `POST /rerank` with `{ query, texts }` answered with `[{ index, score }]`.
     */
    protocol: "openai" | "tei";
    server: ModelServer;
    model: string;
    /** How the server's scores map to 0..1: as they are, through the logistic function, or that when any is outside 0..1. */
    scores: "auto" | "probability" | "logit";
}

/** A cross-encoder on a model server; its scores, in the order of the documents, normalised to 0..1. */
export class RemoteReranker implements Reranker {
    public constructor(private readonly options: RemoteRerankerOptions) {}

    public async rank(query: string, documents: readonly string[]): Promise<number[]> {
        if (documents.length === 0) return [];
        const { protocol, server, model } = this.options;
        const answer = protocol === "openai"
            ? await server.postJson("/rerank", { model, query, documents, top_n: documents.length })
            // TEI cuts a pair too long for the model, as the local reranker does, instead of failing; raw_scores false gives 0..1.
            : await server.postJson("/rerank", { query, texts: documents, truncate: true, raw_scores: false });
        const results = protocol === "openai" ? (answer as { results?: unknown } | undefined)?.results : answer;
        const scores = new Array<number | undefined>(documents.length).fill(undefined);
        if (Array.isArray(results)) {
            for (const result of results) {
                const { index, relevance_score: relevance, score } = result as { index?: unknown; relevance_score?: unknown; score?: unknown };
                const value = protocol === "openai" ? relevance : score;
                if (typeof index === "number" && Number.isInteger(index) && index >= 0 && index < documents.length && typeof value === "number" && Number.isFinite(value))
                    scores[index] = value;
            }
        }
        if (scores.some((value) => value === undefined)) throw server.failed(`did not return a score for each of the ${documents.length} documents sent to /rerank.`);
        return this.normalised(scores as number[]);
    }

    /** llama-server gives the model's raw logits; vLLM, TEI, Jina and Cohere give probabilities. */
    private normalised(scores: number[]): number[] {
        const asLogits = this.options.scores === "logit" || (this.options.scores === "auto" && scores.some((value) => value < 0 || value > 1));
        return asLogits ? scores.map((value) => 1 / (1 + Math.exp(-value))) : scores;
    }
}
