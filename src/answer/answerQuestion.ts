import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { Config } from "../config/schema.js";
import { YizhiError } from "../errors.js";
import type { ChatModel, ChatTurn, Generation, Reranker } from "../models/models.js";
import { retrievalQuery, retrieveChunks, type ChunkScores, type RetrievalMode, type RetrievedChunk } from "../retrieval/retrieveChunks.js";
import type { KnowledgeBaseReader } from "../store/storage.js";
import { buildPrompt } from "./buildPrompt.js";
import { answerLanguageFor, refusalText, type Language } from "./language.js";
import { loadPromptTemplate } from "./promptTemplates.js";

/** A chunk the answer was written from; `n` is its number in the prompt and in citations like [1]. */
export interface AnswerSource {
    n: number;
    documentId: string;
    /** The chunk's position in its document, from 0 (as `docs show` and `GET /kbs/:kb/documents/:id` number them). */
    chunkIndex: number;
    source: string;
    page?: number;
    headingPath?: string[];
    /** Set when the chunk's text was read by OCR: the recogniser's mean confidence, 0..1. */
    ocr?: { confidence: number };
    /** What the chunk was ranked by, higher is better (see `RetrievedChunk.score` for its range in each mode). */
    score: number;
    scores: ChunkScores;
    text: string;
}

export interface AnswerResult {
    answer: string;
    /** True when nothing relevant was found: `answer` is the fixed refusal and no model was asked. */
    refused: boolean;
    language: Language;
    sources: AnswerSource[];
    /** `stop` also for a refusal; `length` when the answer was cut at its token budget; `abort` when the client went away. */
    finishReason: Generation["finishReason"];
    /** The model's tokens (none for a refusal). */
    usage: Generation["usage"];
    timings: { retrievalMs: number; generationMs: number; totalMs: number };
}

/** What to retrieve for a question; each field defaults to its setting. */
export interface RetrievalRequest {
    question: string;
    /** Defaults to the configured `topK`. */
    topK?: number;
    /** Defaults to the configured `retrievalMode`. */
    mode?: RetrievalMode;
    /** Defaults to the configured `scoreThreshold` (cosine, for `dense` and `hybrid`). */
    scoreThreshold?: number;
    /** Defaults to the configured `lexicalThreshold` (BM25 relevance, for `bm25` and `hybrid`). */
    lexicalThreshold?: number;
}

/** What an answer is waiting on: retrieval, the chat model (loaded the first time), then the model's first words. */
export type AnswerStage = "retrieving" | "loadingModel" | "writing";

export interface AnswerRequest extends RetrievalRequest {
    history?: readonly ChatTurn[];
    /** Most tokens of the answer; defaults to, and is at most, the configured `maxAnswerTokens`. */
    maxTokens?: number;
    /** Defaults to the configured `temperature`. */
    temperature?: number;
    signal?: AbortSignal;
    /** Called once with the sources, and awaited, before any answer text. */
    onSources?: (sources: AnswerSource[]) => void | Promise<void>;
    onTextChunk?: (text: string) => void;
    /** Called as the answer moves from one stage to the next (a refusal ends after `retrieving`). */
    onStage?: (stage: AnswerStage) => void;
}

export interface RetrievalDependencies {
    knowledgeBase: KnowledgeBaseReader;
    embeddings: EmbeddingsInterface;
    /** The configured reranker, if any. */
    getReranker?: () => Promise<Reranker> | undefined;
    settings: Pick<Config, "topK" | "retrievalMode" | "scoreThreshold" | "lexicalThreshold" | "rerankThreshold" | "rrfK" | "retrievalCandidates" | "answerLanguage">;
}

export interface AnswerDependencies extends RetrievalDependencies {
    /** Only called when there is something to answer from. */
    getChatModel: () => Promise<ChatModel>;
}

/**
 * The chunks a question retrieves, best first: the question embedded (unless retrieval is by words
 * only), both searches, the threshold rule and the reranker, as for an answer.
 */
export async function retrieveForQuestion(request: RetrievalRequest, dependencies: RetrievalDependencies): Promise<RetrievedChunk[]> {
    const question = request.question.trim();
    if (question === "") throw new YizhiError("invalid_question", "The question is empty.");
    const { settings, knowledgeBase } = dependencies;
    const mode = request.mode ?? settings.retrievalMode;
    const query = await retrievalQuery(question, mode, dependencies.embeddings);
    const reranker = await dependencies.getReranker?.();
    return retrieveChunks(knowledgeBase, query, {
        mode,
        topK: request.topK ?? settings.topK,
        scoreThreshold: request.scoreThreshold ?? settings.scoreThreshold,
        lexicalThreshold: request.lexicalThreshold ?? settings.lexicalThreshold,
        rerankThreshold: settings.rerankThreshold,
        rrfK: settings.rrfK,
        candidates: settings.retrievalCandidates,
    }, reranker);
}

/** Room left in the context for the chat wrapper's own tokens (role markers, BOS). */
const CHAT_FORMAT_MARGIN_TOKENS = 64;

/**
 * Where a question turns into an answer: embed the question (unless retrieval is by words only),
 * retrieve the chunks that pass the threshold, refuse at once when there are none, otherwise fill the prompt with the numbered
 * chunks that fit and let the model write the answer, streaming.
 */
export async function answerQuestion(request: AnswerRequest, dependencies: AnswerDependencies): Promise<AnswerResult> {
    const started = performance.now();
    const question = request.question.trim();
    const { settings, knowledgeBase } = dependencies;
    request.onStage?.("retrieving");
    const retrieved = await retrieveForQuestion(request, dependencies);
    const language = answerLanguageFor(question, settings.answerLanguage);
    const retrievalMs = performance.now() - started;

    if (retrieved.length === 0) {
        await request.onSources?.([]);
        const answer = refusalText[language];
        request.onTextChunk?.(answer);
        return {
            answer, refused: true, language, sources: [], finishReason: "stop", usage: { promptTokens: 0, completionTokens: 0 },
            timings: { retrievalMs, generationMs: 0, totalMs: performance.now() - started },
        };
    }

    request.onStage?.("loadingModel");
    const chatModel = await dependencies.getChatModel();
    const template = await loadPromptTemplate(language, await knowledgeBase.promptTemplate(language));
    const historyTokens = (await Promise.all((request.history ?? []).map((turn) => chatModel.countTokens(turn.content)))).reduce((sum, count) => sum + count, 0);
    const { prompt, used } = await buildPrompt({
        template,
        question,
        retrieved,
        budgetTokens: chatModel.contextSize - chatModel.maxAnswerTokens - historyTokens - CHAT_FORMAT_MARGIN_TOKENS,
        countTokens: (text) => chatModel.countTokens(text),
    });
    const sources = used.map(toSource);
    await request.onSources?.(sources);

    request.onStage?.("writing");
    const generationStarted = performance.now();
    const { text, finishReason, usage } = await chatModel.generate({
        prompt,
        ...(request.history != null ? { history: request.history } : {}),
        ...(request.maxTokens != null ? { maxTokens: request.maxTokens } : {}),
        ...(request.temperature != null ? { temperature: request.temperature } : {}),
        ...(request.signal != null ? { signal: request.signal } : {}),
        ...(request.onTextChunk != null ? { onTextChunk: request.onTextChunk } : {}),
    });
    const finished = performance.now();
    return {
        answer: text,
        refused: false,
        language,
        sources,
        finishReason,
        usage,
        timings: { retrievalMs, generationMs: finished - generationStarted, totalMs: finished - started },
    };
}

/** A retrieved chunk as an answer's source number `i + 1`. */
export function toSource(item: RetrievedChunk, i: number): AnswerSource {
    const { chunk, score, scores } = item;
    return {
        n: i + 1,
        documentId: chunk.documentId,
        chunkIndex: chunk.index,
        source: chunk.source,
        ...(chunk.page != null ? { page: chunk.page } : {}),
        ...(chunk.headingPath != null ? { headingPath: chunk.headingPath } : {}),
        ...(chunk.ocr != null ? { ocr: chunk.ocr } : {}),
        score,
        scores,
        text: chunk.text,
    };
}
