import hnswlib from "hnswlib-node";
import { Document, type DocumentInterface } from "@langchain/core/documents";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { VectorStore } from "@langchain/core/vectorstores";
import { assertCompleteIndexFile } from "./hnswIndexFile.js";

/** One stored chunk. `label` is its point in the HNSW graph. */
export interface ChunkRecord {
    label: number;
    documentId: string;
    source: string;
    /** Position of the chunk in its document, from 0. */
    index: number;
    text: string;
    /** Offset of the chunk in its section's text. */
    start: number;
    page?: number;
    headingPath?: string[];
}

export type NewChunk = Omit<ChunkRecord, "label">;

export interface HnswParams {
    /** Graph degree. */
    m: number;
    efConstruction: number;
    /** Candidate list size at search time; hnswlib resets it to 10 on every load, so it is set again. */
    efSearch: number;
}

/** Metadata of the LangChain `Document`s this store returns. */
export interface ChunkMetadata {
    documentId: string;
    source: string;
    chunkIndex: number;
    page?: number;
    headingPath?: string[];
}

const INITIAL_CAPACITY = 1024;

/**
 * A LangChain `VectorStore` over an hnswlib-node graph in cosine space. Scores are cosine
 * similarities (-1..1, higher is more similar). Deleted chunks are marked deleted in the graph and
 * their slots reused by later additions; the graph doubles its capacity when full.
 */
export class HnswVectorStore extends VectorStore {
    declare FilterType: (chunk: ChunkRecord) => boolean;

    private readonly chunks = new Map<number, ChunkRecord>();

    private constructor(
        embeddings: EmbeddingsInterface,
        private readonly index: hnswlib.HierarchicalNSW,
        efSearch: number,
        chunks: Iterable<ChunkRecord>,
        private nextLabel: number,
    ) {
        super(embeddings, {});
        for (const chunk of chunks) this.chunks.set(chunk.label, chunk);
        index.setEf(efSearch);
    }

    public static create(embeddings: EmbeddingsInterface, dimension: number, params: HnswParams): HnswVectorStore {
        const index = new hnswlib.HierarchicalNSW("cosine", dimension);
        index.initIndex({ maxElements: INITIAL_CAPACITY, m: params.m, efConstruction: params.efConstruction, allowReplaceDeleted: true });
        return new HnswVectorStore(embeddings, index, params.efSearch, [], 0);
    }

    /** Opens a graph written by `save`, with the chunks that were saved beside it. */
    public static async load(
        embeddings: EmbeddingsInterface, dimension: number, params: HnswParams,
        indexFile: string, chunks: readonly ChunkRecord[], nextLabel: number,
    ): Promise<HnswVectorStore> {
        const index = new hnswlib.HierarchicalNSW("cosine", dimension);
        await index.readIndex(indexFile, true);
        return new HnswVectorStore(embeddings, index, params.efSearch, chunks, nextLabel);
    }

    public _vectorstoreType(): string {
        return "yizhi-hnsw";
    }

    /** Chunks stored, not counting deleted ones. */
    public get size(): number {
        return this.chunks.size;
    }

    /** The label the next added chunk gets; saved so labels are never handed out twice. */
    public get labelsIssued(): number {
        return this.nextLabel;
    }

    public allChunks(): IterableIterator<ChunkRecord> {
        return this.chunks.values();
    }

    public getChunk(label: number): ChunkRecord | undefined {
        return this.chunks.get(label);
    }

    /** Adds chunks with their vectors; returns their labels. */
    public addChunks(vectors: readonly number[][], chunks: readonly NewChunk[]): number[] {
        if (vectors.length !== chunks.length)
            throw new RangeError(`${vectors.length} vectors for ${chunks.length} chunks`);
        this.ensureCapacity(vectors.length);
        return chunks.map((chunk, i) => {
            const label = this.nextLabel++;
            this.index.addPoint(vectors[i]!, label, true);
            this.chunks.set(label, { ...chunk, label });
            return label;
        });
    }

    public deleteChunks(labels: Iterable<number>): void {
        for (const label of labels) {
            if (!this.chunks.delete(label)) continue;
            this.index.markDelete(label);
        }
    }

    /** LangChain entry point: documents need `documentId`, `source` and `chunkIndex` metadata. */
    public override async addVectors(vectors: number[][], documents: DocumentInterface[]): Promise<string[]> {
        const chunks = documents.map((document): NewChunk => {
            const metadata = document.metadata as Partial<ChunkMetadata>;
            return {
                documentId: String(metadata.documentId ?? document.id ?? ""),
                source: String(metadata.source ?? ""),
                index: metadata.chunkIndex ?? 0,
                text: document.pageContent,
                start: 0,
                ...(metadata.page != null ? { page: metadata.page } : {}),
                ...(metadata.headingPath != null ? { headingPath: metadata.headingPath } : {}),
            };
        });
        return this.addChunks(vectors, chunks).map(String);
    }

    public override async addDocuments(documents: DocumentInterface[]): Promise<string[]> {
        const vectors = await this.embeddings.embedDocuments(documents.map((document) => document.pageContent));
        return this.addVectors(vectors, documents);
    }

    /** LangChain entry point: `ids` are the labels `addVectors` returned. */
    public override async delete(params: { ids: string[] }): Promise<void> {
        this.deleteChunks(params.ids.map(Number));
    }

    public override async similaritySearchVectorWithScore(
        query: number[], k: number, filter?: this["FilterType"],
    ): Promise<[Document<ChunkMetadata>, number][]> {
        return this.searchChunks(query, k, filter).map(([chunk, score]) => [toDocument(chunk), score]);
    }

    /** The k chunks most similar to `query`, best first, with their cosine similarity. */
    public searchChunks(query: readonly number[], k: number, filter?: (chunk: ChunkRecord) => boolean): [ChunkRecord, number][] {
        const wanted = Math.min(k, this.chunks.size, this.index.getMaxElements());
        if (wanted <= 0) return [];
        const accept = (label: number) => {
            const chunk = this.chunks.get(label);
            return chunk != null && (filter == null || filter(chunk));
        };
        const { neighbors, distances } = this.index.searchKnn([...query], wanted, accept);
        return neighbors.map((label, i) => [this.chunks.get(label)!, 1 - distances[i]!]);
    }

    /** Cosine similarity of `query` to a stored chunk's vector, found by other means than this graph; undefined for an unknown label. */
    public similarity(query: readonly number[], label: number): number | undefined {
        if (!this.chunks.has(label)) return undefined;
        const point = this.index.getPoint(label);
        let dot = 0;
        let queryNorm = 0;
        let pointNorm = 0;
        for (let i = 0; i < point.length; i++) {
            dot += query[i]! * point[i]!;
            queryNorm += query[i]! * query[i]!;
            pointNorm += point[i]! * point[i]!;
        }
        return queryNorm === 0 || pointNorm === 0 ? 0 : dot / Math.sqrt(queryNorm * pointNorm);
    }

    /** Writes the graph to `file`, checked to be whole; the chunks are the caller's to save. */
    public async save(file: string): Promise<void> {
        await this.index.writeIndex(file);
        await assertCompleteIndexFile(file);
    }

    private ensureCapacity(adding: number): void {
        // Additions reuse the slots of deleted points first (allowReplaceDeleted).
        const needed = Math.max(this.index.getCurrentCount(), this.chunks.size + adding);
        const capacity = this.index.getMaxElements();
        if (needed > capacity) this.index.resizeIndex(Math.max(needed, capacity * 2));
    }
}

/** A chunk's metadata as LangChain `Document`s carry it. */
export function chunkMetadata(chunk: ChunkRecord): ChunkMetadata {
    return {
        documentId: chunk.documentId,
        source: chunk.source,
        chunkIndex: chunk.index,
        ...(chunk.page != null ? { page: chunk.page } : {}),
        ...(chunk.headingPath != null ? { headingPath: chunk.headingPath } : {}),
    };
}

function toDocument(chunk: ChunkRecord): Document<ChunkMetadata> {
    return new Document<ChunkMetadata>({ id: String(chunk.label), pageContent: chunk.text, metadata: chunkMetadata(chunk) });
}
