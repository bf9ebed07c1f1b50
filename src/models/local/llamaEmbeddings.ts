import { Embeddings } from "@langchain/core/embeddings";
import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import type { Embedder, EmbedderIdentity } from "../models.js";
import { LoadOnce } from "./loadOnce.js";
import { WaitQueue } from "../waitQueue.js";

/** What the embedder needs once its model is loaded. */
export interface LoadedEmbeddingModel {
    model: LlamaModel;
    /** Contexts of the one loaded model: each evaluates one input at a time, together in parallel. */
    contexts: readonly LlamaEmbeddingContext[];
    /** Tokens per input a context holds. */
    contextSize: number;
}

/**
 * LangChain `Embeddings` over a node-llama-cpp embedding context. The model loads on the first
 * text to embed, so opening a knowledge base to read or delete never loads it. Texts longer than
 * the context are truncated to it (a chunk's head carries most of its meaning) instead of failing.
 *
 * node-llama-cpp 3.21 evaluates one input at a time per embedding context, so several contexts of
 * the model take inputs in parallel: `embedDocuments` hands each input to the next free context and
 * gives the vectors back in the order of the texts.
 */
export class LlamaEmbeddings extends Embeddings implements Embedder {
    /** Inputs cut to fit the context since this embedder was created. */
    public truncatedInputs = 0;
    private readonly loaded: LoadOnce<LoadedEmbeddingModel & { freeContexts: WaitQueue<LlamaEmbeddingContext> }>;
    private readonly identified: LoadOnce<EmbedderIdentity>;

    /**
     * @param load loads the model, on the first text to embed.
     * @param identify reads which weights the model file holds, without loading them.
     */
    public constructor(load: () => Promise<LoadedEmbeddingModel>, identify: () => Promise<EmbedderIdentity>) {
        super({});
        this.loaded = new LoadOnce(async () => {
            const loaded = await load();
            return { ...loaded, freeContexts: new WaitQueue(loaded.contexts, Number.POSITIVE_INFINITY) };
        });
        this.identified = new LoadOnce(identify);
    }

    public identity(): Promise<EmbedderIdentity> {
        return this.identified.get();
    }

    public override async embedDocuments(texts: string[]): Promise<number[][]> {
        return Promise.all(texts.map((text) => this.embed(text)));
    }

    public override async embedQuery(text: string): Promise<number[]> {
        return this.embed(text);
    }

    private async embed(text: string): Promise<number[]> {
        // An empty input gives an empty vector (or one of nothing but spacing), which no index can search with.
        if (text.trim() === "") throw new RangeError("Cannot embed an empty text.");
        const { model, contexts, contextSize, freeContexts } = await this.loaded.get();
        let tokens: Token[] = model.tokenize(text);
        if (tokens.length === 0) throw new RangeError("Cannot embed an empty text.");
        // node-llama-cpp refuses an input (with its BOS/EOS) that fills the whole context.
        const room = contextSize - 1 - (contexts[0]!.calculateInputLength(tokens) - tokens.length);
        if (tokens.length > room) {
            this.truncatedInputs++;
            tokens = tokens.slice(0, Math.max(1, room));
        }
        const context = await freeContexts.acquire();
        try {
            return Array.from((await context.getEmbeddingFor(tokens)).vector);
        } finally {
            freeContexts.release(context);
        }
    }
}
