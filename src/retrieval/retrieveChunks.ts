import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { Reranker } from "../models/models.js";
import { dropNearDuplicates } from "./nearDuplicates.js";
import { reciprocalRankFusion } from "./reciprocalRankFusion.js";
import { tokenize } from "./tokenize.js";
import type { ChunkRecord } from "../store/records.js";
import type { KnowledgeBaseReader } from "../store/storage.js";

/**
 * - `dense`: nearest chunks by the embedding's cosine similarity;
 * - `bm25`: best chunks by BM25 over jieba words, no embedding needed;
 * - `hybrid`: both lists fused by reciprocal rank.
 */
export type RetrievalMode = "dense" | "bm25" | "hybrid";

export const retrievalModes: readonly RetrievalMode[] = ["dense", "bm25", "hybrid"];

/** A chunk's scores, each where it was computed; higher is better in all of them. */
export interface ChunkScores {
    /** Cosine similarity of the question's and the chunk's embeddings, -1..1. */
    dense?: number;
    /** BM25 relevance, 0..1: about the IDF-weighted share of the question's words the chunk has (see `Bm25Hit`). */
    lexical?: number;
    /** Reciprocal-rank fusion of the dense and lexical ranks, 0..1 (1: first in both). */
    fused?: number;
    /** The reranker's relevance of the chunk to the question, 0..1. */
    rerank?: number;
}

export interface RetrievedChunk {
    chunk: ChunkRecord;
    /**
     * What the chunk was ranked by: `scores.rerank` with a reranker, else the mode's own score
     * (dense: cosine -1..1; bm25: lexical 0..1; hybrid: fused 0..1).
     */
    score: number;
    scores: ChunkScores;
}

export interface RetrievalSettings {
    mode: RetrievalMode;
    topK: number;
    /** Lowest cosine similarity that lets a chunk through in `dense` and `hybrid` modes. */
    scoreThreshold: number;
    /** Lowest lexical relevance that lets a chunk through in `bm25` and `hybrid` modes. */
    lexicalThreshold: number;
    /** With a reranker: the lowest reranker score a chunk needs, in every mode; the other thresholds no longer apply. */
    rerankThreshold: number;
    /** Reciprocal-rank fusion's k; smaller favours the top of each list. */
    rrfK: number;
    /** Chunks taken from each ranked list before fusion, and handed to the reranker. */
    candidates: number;
}

export interface RetrievalQuery {
    text: string;
    /** The question's embedding; needed by `dense` and `hybrid`. */
    vector?: readonly number[];
}

/** The question as retrieval needs it in `mode`: embedded unless the mode searches words only. */
export async function retrievalQuery(text: string, mode: RetrievalMode, embeddings: EmbeddingsInterface): Promise<RetrievalQuery> {
    return mode === "bm25" ? { text } : { text, vector: await embeddings.embedQuery(text) };
}

/**
 * The question's best `topK` chunks that pass the threshold rule, best first, without near-duplicates:
 * - `dense`: cosine ≥ `scoreThreshold`;
 * - `bm25`: lexical relevance ≥ `lexicalThreshold`;
 * - `hybrid`: either of the two. Fused scores rank but cannot judge relevance (the best-ranked
 *   chunk always scores high), so each chunk is judged on its own dense and lexical scores, both
 *   computed for every candidate of either list;
 * - with a reranker, in any mode: reranker score ≥ `rerankThreshold`, over the mode's best
 *   `candidates` chunks, reordered by it.
 * When no chunk passes, the result is empty and the question is to be refused.
 */
export async function retrieveChunks(
    knowledgeBase: KnowledgeBaseReader, query: RetrievalQuery, settings: RetrievalSettings, reranker?: Reranker,
): Promise<RetrievedChunk[]> {
    const candidateCount = Math.max(settings.candidates, settings.topK);
    const ranked = await rankCandidates(knowledgeBase, query, settings, candidateCount);
    let passing: RetrievedChunk[];
    if (reranker != null) {
        const candidates = ranked.slice(0, candidateCount);
        const rerankScores = await reranker.rank(query.text, candidates.map((item) => item.chunk.text));
        passing = candidates
            .map((item, i) => ({ ...item, score: rerankScores[i]!, scores: { ...item.scores, rerank: rerankScores[i]! } }))
            .filter((item) => item.score >= settings.rerankThreshold)
            .sort((x, y) => y.score - x.score);
    } else {
        passing = ranked.filter((item) => passesThreshold(item.scores, settings));
    }
    return dropNearDuplicates(passing, (item) => item.chunk.text, settings.topK);
}

function passesThreshold(scores: ChunkScores, settings: RetrievalSettings): boolean {
    const denseOk = scores.dense != null && scores.dense >= settings.scoreThreshold;
    const lexicalOk = scores.lexical != null && scores.lexical >= settings.lexicalThreshold;
    if (settings.mode === "dense") return denseOk;
    if (settings.mode === "bm25") return lexicalOk;
    return denseOk || lexicalOk;
}

/** Every candidate of the mode, best first, with its scores. */
async function rankCandidates(knowledgeBase: KnowledgeBaseReader, query: RetrievalQuery, settings: RetrievalSettings, count: number): Promise<RetrievedChunk[]> {
    const vector = settings.mode === "bm25" ? undefined : requireVector(query);
    const terms = settings.mode === "dense" ? [] : tokenize(query.text);
    const [denseHits, lexicalHits] = await Promise.all([
        vector != null ? knowledgeBase.denseSearch(vector, count) : [],
        settings.mode === "dense" ? [] : knowledgeBase.lexicalSearch(terms, count),
    ]);
    let ranked: { label: number; score: number; scores: ChunkScores }[];
    if (settings.mode === "dense") {
        ranked = denseHits.map(({ label, score }) => ({ label, score, scores: { dense: score } }));
    } else if (settings.mode === "bm25") {
        ranked = lexicalHits.map(({ label, relevance }) => ({ label, score: relevance, scores: { lexical: relevance } }));
    } else {
        const fused = reciprocalRankFusion([denseHits.map((hit) => hit.label), lexicalHits.map((hit) => hit.label)], settings.rrfK);
        // Each list scored its own hits; the other score is computed only for chunks it did not find.
        const dense = new Map(denseHits.map((hit) => [hit.label, hit.score]));
        const relevance = new Map(lexicalHits.map((hit) => [hit.label, hit.relevance]));
        const [denseScores, lexicalScores] = await Promise.all([
            knowledgeBase.denseScores(vector!, fused.map(({ label }) => label).filter((label) => !dense.has(label))),
            knowledgeBase.lexicalScores(terms, fused.map(({ label }) => label).filter((label) => !relevance.has(label))),
        ]);
        for (const [label, score] of denseScores) dense.set(label, score);
        for (const [label, hit] of lexicalScores) relevance.set(label, hit.relevance);
        ranked = fused.map(({ label, score }) => ({ label, score, scores: { dense: dense.get(label) ?? -1, lexical: relevance.get(label) ?? 0, fused: score } }));
    }
    // A chunk removed by a commit between the searches and this read is left out.
    const chunks = await knowledgeBase.getChunks(ranked.map((item) => item.label));
    return ranked.flatMap(({ label, score, scores }) => {
        const chunk = chunks.get(label);
        return chunk != null ? [{ chunk, score, scores }] : [];
    });
}

function requireVector(query: RetrievalQuery): readonly number[] {
    if (query.vector == null) throw new TypeError("Dense and hybrid retrieval need the question's embedding.");
    return query.vector;
}
