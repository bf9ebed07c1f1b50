import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { ingestPaths, ingestSources, type FileOutcome, type IngestOptions, type IngestReport } from "../../ingest/ingestFiles.js";
import type { DocumentParser } from "../../ingest/sandbox/parserPool.js";
import { answerQuestion, retrieveForQuestion, toSource, type AnswerRequest, type AnswerResult, type AnswerSource, type RetrievalRequest } from "../answer/answerQuestion.js";
import type { Config } from "../config/schema.js";
import { AmbiguousDocumentError, ConversationNotFoundError, DocumentNotFoundError, PathsNotFoundError } from "../errors.js";
import type { Models } from "../models/models.js";
import type { Conversation, ConversationSummary, ConversationTurn } from "../store/conversations.js";
import { validateKbName } from "../store/knowledgeBaseName.js";
import { displayNameOf, type ChunkRecord, type DocumentRecord } from "../store/records.js";
import type { CompactReport, KnowledgeBaseReader, KnowledgeBaseSummary, KnowledgeBaseWriter, LockWaitOptions, RepairReport, Storage } from "../store/storage.js";

export interface UploadedFile {
    /** A file name already made safe (no folders, no control characters). */
    name: string;
    bytes: Uint8Array;
}

export interface UploadOutcome extends Omit<FileOutcome, "path"> {
    name: string;
}

export type IngestRunOptions = Pick<IngestOptions, "prune" | "onProgress" | "commitIntervalMs">;

export interface KnowledgeBaseServiceOptions {
    storage: Storage;
    models: Models;
    /** Reads each file into chunks. */
    parser: DocumentParser;
    config: Config;
}

/**
 * What people do with knowledge bases, for the CLI and the HTTP server alike. Writes to one
 * knowledge base run one at a time, in order; questions are answered meanwhile from the last
 * committed state, by readers kept open and caught up with every commit (by this process or another).
 */
export class KnowledgeBaseService {
    private readonly readers = new Map<string, Promise<KnowledgeBaseReader>>();
    private readonly writeQueues = new Map<string, Promise<unknown>>();

    public constructor(private readonly options: KnowledgeBaseServiceOptions) {}

    public get storage(): Storage {
        return this.options.storage;
    }

    public list(): Promise<KnowledgeBaseSummary[]> {
        return this.storage.list();
    }

    /** Throws `KnowledgeBaseNotFoundError` unless the knowledge base exists. */
    public assertExists(name: string): Promise<void> {
        return this.storage.assertExists(name);
    }

    public async create(name: string): Promise<void> {
        validateKbName(name);
        const embedder = await this.options.models.embeddings.identity({ fresh: true });
        await this.write(name, () => this.storage.create(name, embedder));
    }

    public async remove(name: string, options: LockWaitOptions = {}): Promise<void> {
        await this.write(name, async () => {
            await this.dropReader(name);
            await this.storage.delete(name, options);
        });
    }

    public async documents(name: string): Promise<DocumentRecord[]> {
        return (await this.reader(name)).documents();
    }

    /**
     * The one document `given` names: its id, a unique start of its id, or its file name (the name
     * it is shown by, or the last part of its source). Throws when none does, or when several do.
     */
    public async findDocument(name: string, given: string): Promise<DocumentRecord> {
        const documents = await this.documents(name);
        const exact = documents.find((document) => document.id === given);
        if (exact != null) return exact;
        const byPrefix = /^[0-9a-f]+$/.test(given) ? documents.filter((document) => document.id.startsWith(given)) : [];
        const byName = documents.filter((document) => displayNameOf(document) === given || path.basename(document.source) === given);
        const matches = byPrefix.length > 0 ? byPrefix : byName;
        if (matches.length === 1) return matches[0]!;
        if (matches.length === 0) throw new DocumentNotFoundError(name, given);
        throw new AmbiguousDocumentError(name, given, matches);
    }

    /** A document's chunks in document order. */
    public async chunksOf(name: string, document: DocumentRecord): Promise<ChunkRecord[]> {
        const chunks = await (await this.reader(name)).getChunks(document.labels);
        return document.labels.map((label) => chunks.get(label)).filter((chunk) => chunk != null);
    }

    public async deleteDocument(name: string, documentId: string): Promise<DocumentRecord> {
        await this.assertExists(name);
        return this.withWriter(name, { create: false }, async (writer) => {
            const document = await writer.getDocument(documentId);
            if (document == null || !await writer.removeDocument(documentId)) throw new DocumentNotFoundError(name, documentId);
            await writer.commit();
            return document;
        });
    }

    /** Ingests files and folders, creating the knowledge base if needed. */
    public async ingest(name: string, paths: readonly string[], options: IngestRunOptions = {}): Promise<IngestReport> {
        validateKbName(name);
        const found = await Promise.all(paths.map((given) => fs.stat(given).then(() => true, () => false)));
        if (!found.includes(true)) throw new PathsNotFoundError(paths);
        return this.withWriter(name, { create: true }, (writer) => ingestPaths(paths, { ...this.ingestOptions(writer), ...options }));
    }

    /** Ingests uploaded files; each is stored under its file name, replacing an earlier upload of that name. */
    public async upload(name: string, files: readonly UploadedFile[], options: Pick<IngestRunOptions, "onProgress"> = {}): Promise<UploadOutcome[]> {
        await this.assertExists(name);
        return this.withWriter(name, { create: false }, async (writer) => {
            const sources = files.map((file) => ({ source: file.name, fileName: file.name, bytes: file.bytes }));
            const outcomes = await ingestSources(sources, { ...this.ingestOptions(writer), ...options });
            return outcomes.map(({ path: source, ...outcome }) => ({ name: source, ...outcome }));
        });
    }

    public listConversations(name: string): Promise<ConversationSummary[]> {
        return this.storage.listConversations(name);
    }

    /** Throws `ConversationNotFoundError` when there is no such conversation. */
    public async getConversation(name: string, id: string): Promise<Conversation> {
        const conversation = await this.storage.getConversation(name, id);
        if (conversation == null) throw new ConversationNotFoundError(name, id);
        return conversation;
    }

    /** Starts an empty conversation under a new id. */
    public async createConversation(name: string, title: string): Promise<Conversation> {
        const now = new Date().toISOString();
        const conversation = { id: randomBytes(8).toString("hex"), title, createdAt: now, updatedAt: now, turns: [] };
        await this.storage.saveConversation(name, conversation);
        return conversation;
    }

    /** Renames a conversation or replaces its turns (or both); it counts as changed now. */
    public async updateConversation(name: string, id: string, changes: { title?: string; turns?: ConversationTurn[] }): Promise<Conversation> {
        const conversation = { ...await this.getConversation(name, id), ...changes, updatedAt: new Date().toISOString() };
        await this.storage.saveConversation(name, conversation);
        return conversation;
    }

    public async deleteConversation(name: string, id: string): Promise<void> {
        if (!await this.storage.deleteConversation(name, id)) throw new ConversationNotFoundError(name, id);
    }

    /** Answers a question; each source's `source` is its document's name to show, never a server folder. */
    public async ask(name: string, request: AnswerRequest): Promise<AnswerResult> {
        const reader = await this.reader(name);
        const shown = sourcesShownFrom(reader);
        const { onSources } = request;
        const result = await this.answerFrom(reader, {
            ...request,
            ...(onSources != null ? { onSources: async (sources: AnswerSource[]) => onSources(await shown(sources)) } : {}),
        });
        return { ...result, sources: await shown(result.sources) };
    }

    /** The chunks a question retrieves, as an answer's sources would be (without asking the model). */
    public async search(name: string, request: RetrievalRequest): Promise<AnswerSource[]> {
        const reader = await this.reader(name);
        const { models, config } = this.options;
        const retrieved = await retrieveForQuestion(request, { knowledgeBase: reader, embeddings: models.embeddings, getReranker: () => models.getReranker(), settings: config });
        return sourcesShownFrom(reader)(retrieved.map(toSource));
    }

    /** Answers from a knowledge base already open, its sources as stored. */
    public answerFrom(reader: KnowledgeBaseReader, request: AnswerRequest): Promise<AnswerResult> {
        const { models, config } = this.options;
        return answerQuestion(request, {
            knowledgeBase: reader,
            embeddings: models.embeddings,
            getChatModel: () => models.getChatModel(),
            getReranker: () => models.getReranker(),
            settings: config,
        });
    }

    public async repair(name: string): Promise<RepairReport> {
        return this.write(name, () => this.storage.repair(name));
    }

    public async compact(name: string): Promise<CompactReport> {
        return this.write(name, () => this.storage.compact(name));
    }

    /** Opens a reader with the configured embedder (the caller closes it). */
    public async openReader(name: string): Promise<KnowledgeBaseReader> {
        return this.storage.openReader(name, await this.options.models.embeddings.identity());
    }

    /** Opens the writer with the configured embedder (the caller closes it). */
    public async openWriter(name: string, options: { create?: boolean; lockWaitMs?: number } = {}): Promise<KnowledgeBaseWriter> {
        return this.storage.openWriter(name, await this.options.models.embeddings.identity({ fresh: true }), options);
    }

    /** Waits for the writes under way, and closes the readers kept open. */
    public async dispose(): Promise<void> {
        await Promise.allSettled(this.writeQueues.values());
        for (const name of [...this.readers.keys()]) await this.dropReader(name);
    }

    private ingestOptions(writer: KnowledgeBaseWriter): Omit<IngestOptions, "prune" | "onProgress"> {
        const { models, parser, config } = this.options;
        return {
            knowledgeBase: writer, embeddings: models.embeddings, parser, chunkSize: config.chunkSize, chunkOverlap: config.chunkOverlap,
            commitIntervalMs: this.storage.commitIntervalMs,
        };
    }

    /**
     * Runs `job` with the writer, in the knowledge base's write queue. The caller has the result as
     * soon as `job` is done; closing the writer, which may save the vector graph, finishes in the
     * queue afterwards, before the next write (and before `dispose` returns).
     */
    private withWriter<T>(name: string, options: { create: boolean }, job: (writer: KnowledgeBaseWriter) => Promise<T>): Promise<T> {
        return new Promise<T>((resolve, reject) => {
            void this.write(name, async () => {
                let writer: KnowledgeBaseWriter;
                try {
                    writer = await this.openWriter(name, options);
                } catch (error) {
                    reject(error);
                    return;
                }
                try {
                    resolve(await job(writer));
                } catch (error) {
                    reject(error);
                } finally {
                    await writer.close().catch(() => undefined);
                }
            });
        });
    }

    /** A reader kept open for `name`: it catches up with every commit on its own. */
    private async reader(name: string): Promise<KnowledgeBaseReader> {
        await this.assertExists(name);
        let opening = this.readers.get(name);
        if (opening == null) {
            opening = this.openReader(name);
            this.readers.set(name, opening);
            opening.catch(() => this.readers.delete(name));
        }
        return opening;
    }

    private async dropReader(name: string): Promise<void> {
        const reader = this.readers.get(name);
        this.readers.delete(name);
        await (await reader?.catch(() => undefined))?.close();
    }

    /** Runs `job` after every earlier write to the same knowledge base has finished. */
    private write<T>(name: string, job: () => Promise<T>): Promise<T> {
        const previous = this.writeQueues.get(name) ?? Promise.resolve();
        const result = previous.catch(() => undefined).then(job);
        this.writeQueues.set(name, result);
        void result.finally(() => {
            if (this.writeQueues.get(name) === result) this.writeQueues.delete(name);
        }).catch(() => undefined);
        return result;
    }
}

/** Sources with the name of their document to show (never a server folder), each document read once. */
function sourcesShownFrom(reader: KnowledgeBaseReader): (sources: AnswerSource[]) => Promise<AnswerSource[]> {
    const documents = new Map<string, DocumentRecord | undefined>();
    return (sources) => Promise.all(sources.map(async (source) => {
        if (!documents.has(source.documentId)) documents.set(source.documentId, await reader.getDocument(source.documentId));
        const document = documents.get(source.documentId);
        return { ...source, source: document != null ? displayNameOf(document) : path.basename(source.source) };
    }));
}
