import { Document } from "@langchain/core/documents";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { BaseRetriever } from "@langchain/core/retrievers";
import type { ChunkRecord } from "../store/records.js";
import type { KnowledgeBaseReader } from "../store/storage.js";
import type { Reranker } from "../models/models.js";
import { retrievalQuery, retrieveChunks, type ChunkScores, type RetrievalSettings } from "./retrieveChunks.js";

/** Metadata of a chunk as LangChain `Document`s carry it. */
export interface ChunkMetadata {
    documentId: string;
    source: string;
    chunkIndex: number;
    page?: number;
    headingPath?: string[];
    /** Set when the chunk's text was read by OCR: the recogniser's mean confidence, 0..1. */
    ocr?: { confidence: number };
}

/** Metadata of the documents the retriever returns: the chunk's, and its scores. */
export interface RetrievedMetadata extends ChunkMetadata {
    score: number;
    scores: ChunkScores;
}

export interface KnowledgeBaseRetrieverOptions {
    knowledgeBase: KnowledgeBaseReader;
    /** Embeds the question for `dense` and `hybrid` modes. */
    embeddings: EmbeddingsInterface;
    settings: RetrievalSettings;
    reranker?: Reranker;
}

/**
 * Yizhi's retrieval as a LangChain `BaseRetriever`, for use in a LangChain.js chain: the chunks
 * that pass the threshold rule of the configured mode, best first (none when the question should
 * be refused).
 */
export class KnowledgeBaseRetriever extends BaseRetriever<RetrievedMetadata> {
    public lc_namespace = ["yizhi", "retrievers"];

    public constructor(private readonly options: KnowledgeBaseRetrieverOptions) {
        super();
    }

    public override async _getRelevantDocuments(query: string): Promise<Document<RetrievedMetadata>[]> {
        const { knowledgeBase, embeddings, settings, reranker } = this.options;
        const retrieved = await retrieveChunks(knowledgeBase, await retrievalQuery(query, settings.mode, embeddings), settings, reranker);
        return retrieved.map(({ chunk, score, scores }) => new Document<RetrievedMetadata>({
            id: String(chunk.label),
            pageContent: chunk.text,
            metadata: { ...chunkMetadata(chunk), score, scores },
        }));
    }
}

function chunkMetadata(chunk: ChunkRecord): ChunkMetadata {
    return {
        documentId: chunk.documentId,
        source: chunk.source,
        chunkIndex: chunk.index,
        ...(chunk.page != null ? { page: chunk.page } : {}),
        ...(chunk.headingPath != null ? { headingPath: chunk.headingPath } : {}),
        ...(chunk.ocr != null ? { ocr: chunk.ocr } : {}),
    };
}
