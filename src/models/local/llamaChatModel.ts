import { LlamaChatSession, type ChatHistoryItem, type LlamaContext, type LlamaContextSequence, type LlamaModel } from "node-llama-cpp";
import type { ChatModel, ChatTurn, GenerateOptions, Generation } from "../models.js";
import { WaitQueue } from "../waitQueue.js";

export interface LlamaChatModelOptions {
    /** Tokens of context per sequence: prompt, history and answer together. */
    contextSize: number;
    /** Sequences in the context: how many answers are generated at the same time (batched together). */
    sequences: number;
    maxAnswerTokens: number;
    temperature: number;
    /** Questions that may wait for a sequence; one more is refused with `QueueFullError`. */
    maxQueued: number;
    threads?: number;
}

/**
 * The answering model: one context with several sequences, so that concurrent questions are
 * evaluated in the same batches. A question waits for a free sequence.
 */
export class LlamaChatModel implements ChatModel {
    private readonly sequences: WaitQueue<LlamaContextSequence>;

    private constructor(
        private readonly model: LlamaModel,
        private readonly context: LlamaContext,
        private readonly options: LlamaChatModelOptions,
    ) {
        this.sequences = new WaitQueue(Array.from({ length: options.sequences }, () => context.getSequence()), options.maxQueued);
    }

    public static async create(model: LlamaModel, options: LlamaChatModelOptions): Promise<LlamaChatModel> {
        const context = await model.createContext({
            contextSize: options.contextSize * options.sequences,
            sequences: options.sequences,
            ...(options.threads != null ? { threads: options.threads } : {}),
        });
        return new LlamaChatModel(model, context, options);
    }

    /** Tokens one sequence holds. */
    public get contextSize(): number {
        return this.context.contextSize / this.options.sequences;
    }

    public get maxAnswerTokens(): number {
        return this.options.maxAnswerTokens;
    }

    public countTokens(text: string): Promise<number> {
        return Promise.resolve(this.model.tokenize(text).length);
    }

    public async generate(options: GenerateOptions): Promise<Generation> {
        const sequence = await this.sequences.acquire(options.signal);
        const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
        try {
            if (options.history != null && options.history.length > 0)
                session.setChatHistory([...session.getChatHistory(), ...options.history.map(toHistoryItem)]);
            const meter = sequence.tokenMeter.getState();
            const { responseText, stopReason } = await session.promptWithMeta(options.prompt, {
                maxTokens: Math.min(options.maxTokens ?? this.options.maxAnswerTokens, this.options.maxAnswerTokens),
                temperature: options.temperature ?? this.options.temperature,
                ...(options.signal != null ? { signal: options.signal, stopOnAbortSignal: true } : {}),
                ...(options.onTextChunk != null ? { onTextChunk: options.onTextChunk } : {}),
            });
            const { usedInputTokens, usedOutputTokens } = sequence.tokenMeter.diff(meter);
            return {
                text: responseText,
                finishReason: stopReason === "maxTokens" ? "length" : stopReason === "abort" ? "abort" : "stop",
                usage: { promptTokens: usedInputTokens, completionTokens: usedOutputTokens },
            };
        } finally {
            session.dispose();
            await sequence.clearHistory();
            this.sequences.release(sequence);
        }
    }
}

function toHistoryItem(turn: ChatTurn): ChatHistoryItem {
    return turn.role === "user"
        ? { type: "user", text: turn.content }
        : { type: "model", response: [turn.content] };
}
