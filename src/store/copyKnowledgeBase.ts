import type { Language } from "../answer/language.js";
import { CorruptKnowledgeBaseError, KnowledgeBaseExistsError } from "../errors.js";
import type { NewChunk } from "./records.js";
import type { KnowledgeBaseWriter, Storage } from "./storage.js";

const LANGUAGES: readonly Language[] = ["zh", "en"];
/** Chunks copied per commit. */
const CHUNKS_PER_COMMIT = 5_000;

export interface CopyOptions {
    /** The copy's name (default: the knowledge base's own). */
    as?: string;
    /** Called after each document with the documents copied so far and the total. */
    onProgress?: (copied: number, total: number) => void;
}

export interface CopyReport {
    documents: number;
    chunks: number;
}

/**
 * Copies knowledge base `name` from one storage to another (or to another name in the same one):
 * its documents, chunks, vectors, prompt templates and saved conversations, without embedding anything again. The source
 * is held by its write lock meanwhile, so the copy is of one state; a copy that fails is removed.
 */
export async function copyKnowledgeBase(from: Storage, to: Storage, name: string, options: CopyOptions = {}): Promise<CopyReport> {
    const target = options.as ?? name;
    const embedder = await from.embedder(name);
    if (await to.exists(target)) throw new KnowledgeBaseExistsError(target);
    const hold = await from.openWriter(name, embedder);
    const reader = await from.openReader(name, embedder);
    let created = false;
    let writer: KnowledgeBaseWriter | undefined;
    try {
        await to.create(target, embedder);
        created = true;
        writer = await to.openWriter(target, embedder);
        const documents = await reader.documents();
        let chunks = 0;
        let uncommitted = 0;
        for (const [i, { labels, ...document }] of documents.entries()) {
            const [stored, vectors] = await Promise.all([reader.getChunks(labels), reader.getVectors(labels)]);
            const newChunks = labels.map((label): NewChunk => {
                const found = stored.get(label);
                if (found == null || !vectors.has(label)) throw new CorruptKnowledgeBaseError(name, `document ${document.id} lacks its chunk ${label}. Run: yizhi kb repair ${name}`);
                const { label: _label, documentId: _document, source: _source, ...chunk } = found;
                return chunk;
            });
            await writer.putDocument(document, newChunks, labels.map((label) => vectors.get(label)!));
            chunks += labels.length;
            uncommitted += labels.length;
            if (uncommitted >= CHUNKS_PER_COMMIT) {
                await writer.commit();
                uncommitted = 0;
            }
            options.onProgress?.(i + 1, documents.length);
        }
        await writer.commit();
        for (const language of LANGUAGES) {
            const template = await reader.promptTemplate(language);
            if (template != null) await to.setPromptTemplate(target, language, template.text);
        }
        for (const { id } of await from.listConversations(name)) {
            const conversation = await from.getConversation(name, id);
            if (conversation != null) await to.saveConversation(target, conversation);
        }
        await writer.close();
        return { documents: documents.length, chunks };
    } catch (error) {
        await writer?.close().catch(() => undefined);
        if (created) await to.delete(target).catch(() => undefined);
        throw error;
    } finally {
        await reader.close();
        await hold.close();
    }
}
