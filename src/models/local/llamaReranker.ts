import type { LlamaRankingContext, Token } from "node-llama-cpp";
import type { Reranker } from "../models.js";

/**
 * A cross-encoder reranker over a node-llama-cpp ranking context: scores each (question, chunk)
 * pair together, 0..1. A chunk too long for the context is cut to fit, like an embedding input.
 */
export class LlamaReranker implements Reranker {
    public constructor(private readonly context: LlamaRankingContext) {}

    public async rank(query: string, documents: readonly string[]): Promise<number[]> {
        const { model, contextSize } = this.context;
        // The question keeps at most half the context, so every chunk gets the other half or more.
        const queryTokens = model.tokenize(query).slice(0, Math.floor(contextSize / 2));
        const room = contextSize - 1 - this.context.calculateInputLength(queryTokens, []);
        const documentTokens: Token[][] = documents.map((document) => model.tokenize(document).slice(0, Math.max(1, room)));
        return this.context.rankAll(queryTokens, documentTokens);
    }
}
