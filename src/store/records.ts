import path from "node:path";

/** One stored chunk. `label` identifies it within its knowledge base, and never changes. */
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
    /** Set when the chunk's text was read by OCR: the recogniser's mean confidence, 0..1. */
    ocr?: { confidence: number };
}

/** A chunk as ingest hands it to a writer: its document's id, source and its label are the writer's to fill in. */
export type NewChunk = Omit<ChunkRecord, "label" | "documentId" | "source">;

/** A stored document: one file's chunks. */
export interface DocumentRecord {
    /** Stable id derived from `source`. */
    id: string;
    /** Where the document came from: an absolute file path, or an uploaded file's name. */
    source: string;
    /**
     * The name shown to people who use the knowledge base, which gives away no server folder: the
     * path below the folder that was ingested (with that folder's name), or the file name. Missing in
     * documents stored before it was recorded; the file name stands in.
     */
    displayName?: string;
    /** SHA-256 of the normalised text: decides whether two files hold the same document. */
    hash: string;
    /** SHA-256 of the file's bytes: lets an unchanged file be skipped without parsing it again. */
    fileHash: string;
    /** File format, by extension (pdf, docx, txt, ...). */
    format: string;
    encoding?: string;
    sizeBytes: number;
    ingestedAt: string;
    /** Labels of the document's chunks, in document order. */
    labels: number[];
}

/** What a writer may change of a stored document without replacing its chunks. */
export type DocumentChanges = Partial<Pick<DocumentRecord, "fileHash" | "format" | "sizeBytes" | "displayName">>;

/** A document as listings show it. */
export interface DocumentSummary {
    id: string;
    source: string;
    /** The file name to show. */
    name: string;
    chunks: number;
    hash: string;
    format: string;
    sizeBytes: number;
    ingestedAt: string;
}

export function summarizeDocument(document: DocumentRecord): DocumentSummary {
    const { id, source, hash, format, sizeBytes, ingestedAt } = document;
    return { id, source, name: displayNameOf(document), chunks: document.labels.length, hash, format, sizeBytes, ingestedAt };
}

/** The name to show for a document (see `DocumentRecord.displayName`). */
export function displayNameOf(document: Pick<DocumentRecord, "source" | "displayName">): string {
    return document.displayName ?? path.basename(document.source);
}
