import { ingestSources } from "../../ingest/ingestFiles.js";
import { normalizeText } from "../../ingest/normalize.js";
import type { Config } from "../config/schema.js";
import type { Reranker } from "../models/models.js";
import { retrieveChunks, type RetrievalMode, type RetrievalSettings, type RetrievedChunk } from "../retrieval/retrieveChunks.js";
import type { KnowledgeBaseReader } from "../store/storage.js";
import type { Yizhi } from "../yizhi.js";
import type { EvalQuestion, EvalSet } from "./readEvalFile.js";

/** The ranks recall is reported at (those up to the retrieval depth `k`). */
export const RECALL_RANKS = [1, 3, 5, 10] as const;

export interface EvalProgress {
    phase: "indexing" | "questions" | "answers";
    done: number;
    total: number;
}

/** The evaluation set indexed into a knowledge base, one document per passage. */
export interface EvalIndex {
    knowledgeBase: KnowledgeBaseReader;
    /** The passages each document holds (several when passages repeat word for word). */
    passagesOfDocument: Map<string, Set<string>>;
    chunks: number;
    indexingMs: number;
    /** Question embeddings, computed once and reused by every mode evaluated on this index. */
    queryVectors: Map<string, number[]>;
}

export interface EvalReport {
    format: EvalSet["format"];
    mode: RetrievalMode;
    reranked: boolean;
    k: number;
    passages: number;
    chunks: number;
    /** Answerable questions, the ones recall and MRR are computed over. */
    questions: number;
    /** Questions of the file left out (empty, or answerable without a gold answer). */
    skippedQuestions: number;
    /** Share of answerable questions with a hit within the first r chunks (r ≤ k). */
    "recall@1"?: number;
    "recall@3"?: number;
    "recall@5"?: number;
    "recall@10"?: number;
    /** Mean of 1 / (rank of the first hit), 0 when none within the first 10 (or k) chunks. */
    "mrr@10": number;
    /** SQuAD v2 questions marked impossible. */
    impossibleQuestions: number;
    /** Share of impossible questions that the configured threshold rule refuses (higher is better). */
    refusedImpossible?: number;
    /** Share of answerable questions that the configured threshold rule refuses (lower is better). */
    refusedAnswerable: number;
    /** `rgb`: share of questions with a gold answer string in one of the first 5 chunks. */
    answerInTop5?: number;
    /** With `answers`: share of answerable questions whose generated answer contains a gold answer. */
    answerContainsGold?: number;
    timings: { indexingMs: number; retrievalMsMedian: number };
}

export interface EvaluateOptions {
    mode: RetrievalMode;
    /** Chunks retrieved per question (default 10). */
    k?: number;
    /** Also generate each answer with the LLM and check it for a gold answer. */
    answers?: boolean;
    /** Settings that replace the configured ones (thresholds, RRF k, candidates), e.g. for a sweep. */
    overrides?: Partial<Omit<RetrievalSettings, "mode" | "topK">>;
    onProgress?: (progress: EvalProgress) => void;
}

/**
 * Indexes every passage through the normal ingest path (one document per passage) into the
 * knowledge base `kbName` of `yizhi`'s data directory, which should be a temporary one.
 */
export async function buildEvalIndex(yizhi: Yizhi, kbName: string, set: EvalSet, onProgress?: (progress: EvalProgress) => void): Promise<EvalIndex> {
    const started = performance.now();
    const writer = await yizhi.knowledgeBases.openWriter(kbName, { create: true });
    const passageOfSource = new Map<string, string>();
    let outcomes;
    try {
        outcomes = await ingestSources(set.passages.map((passage) => {
            const source = `passage-${passage.id}.txt`;
            passageOfSource.set(source, passage.id);
            return { source, fileName: source, bytes: new TextEncoder().encode(passage.text) };
        }), {
            knowledgeBase: writer,
            embeddings: yizhi.models.embeddings,
            parser: yizhi.parser,
            chunkSize: yizhi.config.chunkSize,
            chunkOverlap: yizhi.config.chunkOverlap,
            onProgress: (progress) => onProgress?.({ phase: "indexing", done: progress.filesDone, total: progress.filesTotal }),
        });
    } finally {
        await writer.close();
    }
    const passagesOfDocument = new Map<string, Set<string>>();
    for (const outcome of outcomes) {
        const documentId = outcome.documentId ?? outcome.duplicateOf;
        if (documentId == null) continue;
        const passages = passagesOfDocument.get(documentId) ?? new Set<string>();
        passages.add(passageOfSource.get(outcome.path)!);
        passagesOfDocument.set(documentId, passages);
    }
    const knowledgeBase = await yizhi.knowledgeBases.openReader(kbName);
    const chunks = outcomes.reduce((sum, outcome) => sum + (outcome.status === "ingested" ? outcome.chunks : 0), 0);
    return { knowledgeBase, passagesOfDocument, chunks, indexingMs: performance.now() - started, queryVectors: new Map() };
}

/**
 * Ranks chunks for every question in one mode and scores the ranking. Recall and MRR are measured
 * on the ranking alone (no threshold); refusals are measured with the configured threshold rule.
 */
export async function evaluateRetrieval(yizhi: Yizhi, index: EvalIndex, set: EvalSet, options: EvaluateOptions): Promise<EvalReport> {
    const k = options.k ?? 10;
    const { config } = yizhi;
    const loadedReranker = await yizhi.models.getReranker();
    const configured = { ...retrievalSettings(config, options.mode, k), ...options.overrides };
    const unfiltered: RetrievalSettings = { ...configured, scoreThreshold: -1, lexicalThreshold: 0, rerankThreshold: 0 };
    const mrrDepth = Math.min(10, k);

    const answerable = set.questions.filter((question) => !question.impossible);
    const impossible = set.questions.filter((question) => question.impossible);
    const hitsAtRank: number[] = [];
    const durations: number[] = [];
    let reciprocalRanks = 0;
    let refusedAnswerable = 0;
    let refusedImpossible = 0;
    let answerInTop5 = 0;

    for (const [i, question] of set.questions.entries()) {
        options.onProgress?.({ phase: "questions", done: i, total: set.questions.length });
        const query = { text: question.question, ...await queryVector(yizhi, index, question, options.mode) };
        // Both retrievals below rank the same candidates: the reranker scores each chunk once.
        const reranker = loadedReranker != null ? rememberScores(loadedReranker) : undefined;
        const started = performance.now();
        const ranked = await retrieveChunks(index.knowledgeBase, query, unfiltered, reranker);
        durations.push(performance.now() - started);
        const refused = (await retrieveChunks(index.knowledgeBase, query, configured, reranker)).length === 0;
        if (question.impossible) {
            if (refused) refusedImpossible++;
            continue;
        }
        if (refused) refusedAnswerable++;
        const rank = ranked.findIndex((item) => isHit(item, question, index, set.format)) + 1;
        if (rank > 0) hitsAtRank.push(rank);
        if (rank > 0 && rank <= mrrDepth) reciprocalRanks += 1 / rank;
        if (ranked.slice(0, 5).some((item) => containsAnswer(item.chunk.text, question.answers))) answerInTop5++;
    }
    options.onProgress?.({ phase: "questions", done: set.questions.length, total: set.questions.length });

    const share = (count: number, of: number) => (of === 0 ? 0 : count / of);
    const report: EvalReport = {
        format: set.format,
        mode: options.mode,
        reranked: loadedReranker != null,
        k,
        passages: set.passages.length,
        chunks: index.chunks,
        questions: answerable.length,
        skippedQuestions: set.skippedQuestions,
        "mrr@10": share(reciprocalRanks, answerable.length),
        impossibleQuestions: impossible.length,
        refusedAnswerable: share(refusedAnswerable, answerable.length),
        timings: { indexingMs: index.indexingMs, retrievalMsMedian: median(durations) },
    };
    for (const r of RECALL_RANKS) if (r <= k) report[`recall@${r}`] = share(hitsAtRank.filter((rank) => rank <= r).length, answerable.length);
    if (impossible.length > 0) report.refusedImpossible = share(refusedImpossible, impossible.length);
    if (set.format === "rgb") report.answerInTop5 = share(answerInTop5, answerable.length);
    if (options.answers === true) report.answerContainsGold = share(await countGoldAnswers(yizhi, index, answerable, options), answerable.length);
    return report;
}

/** The retrieval settings of `config` for one mode, retrieving `k` chunks. */
export function retrievalSettings(config: Config, mode: RetrievalMode, k: number): RetrievalSettings {
    return {
        mode,
        topK: k,
        scoreThreshold: config.scoreThreshold,
        lexicalThreshold: config.lexicalThreshold,
        rerankThreshold: config.rerankThreshold,
        rrfK: config.rrfK,
        candidates: config.retrievalCandidates,
    };
}

/** A reranker that scores a (question, chunk) pair once, however often it is asked. */
function rememberScores(reranker: Reranker): Reranker {
    const scores = new Map<string, number>();
    const key = (query: string, document: string) => `${query}\u0000${document}`;
    return {
        async rank(query, documents) {
            const unscored = [...new Set(documents.filter((document) => !scores.has(key(query, document))))];
            const fresh = unscored.length > 0 ? await reranker.rank(query, unscored) : [];
            unscored.forEach((document, i) => scores.set(key(query, document), fresh[i]!));
            return documents.map((document) => scores.get(key(query, document))!);
        },
    };
}

async function queryVector(yizhi: Yizhi, index: EvalIndex, question: EvalQuestion, mode: RetrievalMode): Promise<{ vector?: number[] }> {
    if (mode === "bm25") return {};
    let vector = index.queryVectors.get(question.id);
    if (vector == null) index.queryVectors.set(question.id, vector = await yizhi.models.embeddings.embedQuery(question.question));
    return { vector };
}

/**
 * `squad`: the chunk comes from the question's paragraph and contains one of its answers (a chunk
 * of the right paragraph without the answer does not help). `rgb`: the chunk comes from one of the
 * question's positive passages.
 */
function isHit(item: RetrievedChunk, question: EvalQuestion, index: EvalIndex, format: EvalSet["format"]): boolean {
    const passages = index.passagesOfDocument.get(item.chunk.documentId);
    if (passages == null || !question.goldPassageIds.some((id) => passages.has(id))) return false;
    return format === "rgb" || containsAnswer(item.chunk.text, question.answers);
}

/** Whether `text` contains one of `answers`, all normalised as ingest normalises text, ignoring white space and case. */
export function containsAnswer(text: string, answers: readonly string[]): boolean {
    const squeeze = (value: string) => normalizeText(value).replace(/\s+/gu, "").toLowerCase();
    const haystack = squeeze(text);
    return answers.some((answer) => {
        const needle = squeeze(answer);
        return needle !== "" && haystack.includes(needle);
    });
}

async function countGoldAnswers(yizhi: Yizhi, index: EvalIndex, questions: readonly EvalQuestion[], options: EvaluateOptions): Promise<number> {
    let count = 0;
    for (const [i, question] of questions.entries()) {
        options.onProgress?.({ phase: "answers", done: i, total: questions.length });
        const result = await yizhi.knowledgeBases.answerFrom(index.knowledgeBase, { question: question.question, mode: options.mode });
        if (containsAnswer(result.answer, question.answers)) count++;
    }
    options.onProgress?.({ phase: "answers", done: questions.length, total: questions.length });
    return count;
}

function median(values: readonly number[]): number {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((x, y) => x - y);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
