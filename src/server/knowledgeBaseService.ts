import path from "node:path";
import { ingestSources, type FileOutcome } from "../../ingest/ingestFiles.js";
import type { AnswerRequest, AnswerResult, AnswerSource } from "../answer/answerQuestion.js";
import { DocumentNotFoundError, KnowledgeBaseExistsError } from "../errors.js";
import { displayNameOf, KnowledgeBase, summarizeDocument, type DocumentSummary } from "../store/knowledgeBase.js";
import { validateKbName, type KnowledgeBaseSummary } from "../store/knowledgeBases.js";
import type { Yizhi } from "../yizhi.js";

export interface UploadedFile {
    /** A file name already made safe (no folders, no control characters). */
    name: string;
    bytes: Uint8Array;
}

export interface UploadOutcome extends Omit<FileOutcome, "path"> {
    name: string;
}

/**
 * The knowledge bases as a long-running service sees them. Writes to one knowledge base run one at
 * a time, in order; questions are answered meanwhile from the last committed state, which a
 * reader reopens as soon as a newer generation is committed (by this process or the CLI).
 */
export class KnowledgeBaseService {
    private readonly readers = new Map<string, Promise<KnowledgeBase>>();
    private readonly writeQueues = new Map<string, Promise<unknown>>();

    public constructor(private readonly yizhi: Yizhi) {}

    public list(): Promise<KnowledgeBaseSummary[]> {
        return this.yizhi.knowledgeBases.list();
    }

    public async create(name: string): Promise<void> {
        validateKbName(name);
        await this.write(name, async () => {
            if (await this.yizhi.knowledgeBases.exists(name)) throw new KnowledgeBaseExistsError(name);
            const knowledgeBase = await this.yizhi.openKnowledgeBase(name, "write", { create: true });
            await knowledgeBase.close();
        });
    }

    public async remove(name: string): Promise<void> {
        await this.write(name, () => this.yizhi.knowledgeBases.delete(name));
        this.readers.delete(name);
    }

    /** The documents, each `source` the name to show: a client never sees the server's folders. */
    public async documents(name: string): Promise<DocumentSummary[]> {
        await this.assertExists(name);
        const { documents } = await KnowledgeBase.readCommitted(name, this.yizhi.knowledgeBases.dirOf(name));
        return documents.map(summarizeDocument).map((summary) => ({ ...summary, source: summary.name }));
    }

    public async deleteDocument(name: string, documentId: string): Promise<void> {
        await this.assertExists(name);
        await this.write(name, async () => {
            const knowledgeBase = await this.yizhi.openKnowledgeBase(name, "write");
            try {
                if (!knowledgeBase.removeDocument(documentId)) throw new DocumentNotFoundError(name, documentId);
                await knowledgeBase.commit();
            } finally {
                await knowledgeBase.close();
            }
        });
    }

    /** Ingests uploaded files; each is stored under its file name, replacing an earlier upload of that name. */
    public async upload(name: string, files: readonly UploadedFile[]): Promise<UploadOutcome[]> {
        await this.assertExists(name);
        return this.write(name, async () => {
            const knowledgeBase = await this.yizhi.openKnowledgeBase(name, "write");
            try {
                const outcomes = await ingestSources(files.map((file) => ({ source: file.name, fileName: file.name, bytes: file.bytes })), {
                    knowledgeBase,
                    embeddings: this.yizhi.runtime.embeddings,
                    parser: this.yizhi.parser,
                    chunkSize: this.yizhi.config.chunkSize,
                    chunkOverlap: this.yizhi.config.chunkOverlap,
                });
                return outcomes.map(({ path: source, ...outcome }) => ({ name: source, ...outcome }));
            } finally {
                await knowledgeBase.close();
            }
        });
    }

    /** Answers a question; each source's `source` is its document's name to show, as in `documents`. */
    public async ask(name: string, request: AnswerRequest): Promise<AnswerResult> {
        const knowledgeBase = await this.reader(name);
        const shown = (sources: AnswerSource[]) => sources.map((source) => {
            const document = knowledgeBase.getDocument(source.documentId);
            return { ...source, source: document != null ? displayNameOf(document) : path.basename(source.source) };
        });
        const { onSources } = request;
        const result = await this.yizhi.answerFrom(knowledgeBase, {
            ...request,
            ...(onSources != null ? { onSources: (sources: AnswerSource[]) => onSources(shown(sources)) } : {}),
        });
        return { ...result, sources: shown(result.sources) };
    }

    private async reader(name: string): Promise<KnowledgeBase> {
        await this.assertExists(name);
        const generation = await KnowledgeBase.currentGeneration(name, this.yizhi.knowledgeBases.dirOf(name));
        const cached = this.readers.get(name);
        if (cached != null) {
            const knowledgeBase = await cached.catch(() => undefined);
            if (knowledgeBase?.openedGeneration === generation) return knowledgeBase;
        }
        const opening = this.yizhi.openKnowledgeBase(name, "read");
        this.readers.set(name, opening);
        return opening;
    }

    /** Throws `KnowledgeBaseNotFoundError` unless the knowledge base exists. */
    public async assertExists(name: string): Promise<void> {
        await this.yizhi.knowledgeBases.assertExists(name);
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
