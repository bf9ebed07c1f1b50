import { KnowledgeBaseClosedError, KnowledgeBaseLockLostError } from "../errors.js";
import type { DocumentChange } from "./pendingChanges.js";
import type { DocumentChanges, DocumentRecord, NewChunk } from "./records.js";
import type { KnowledgeBaseWriter } from "./storage.js";

/**
 * What every backend's writer shares: changes wait in `pending`, by document id, until a commit,
 * and the writer sees them at once over what is stored. A backend says how to read what is stored,
 * how to add a document, and how to commit.
 */
export abstract class BufferedWriter implements KnowledgeBaseWriter {
    protected readonly pending = new Map<string, DocumentChange>();
    protected closed = false;

    public abstract readonly name: string;

    /** Why this writer may write no more (it lost its lock or lease), once that is so. */
    protected abstract get compromised(): Error | undefined;
    protected abstract storedDocuments(): Promise<DocumentRecord[]>;
    protected abstract storedDocument(id: string): Promise<DocumentRecord | undefined>;
    /** A stored document holding `hash`, other than those with the ids in `except`. */
    protected abstract storedWithHash(hash: string, except: readonly string[]): Promise<DocumentRecord | undefined>;

    public abstract putDocument(document: Omit<DocumentRecord, "labels">, chunks: readonly NewChunk[], vectors: readonly (readonly number[])[]): Promise<DocumentRecord>;
    public abstract commit(): Promise<void>;
    public abstract close(): Promise<void>;

    public async documents(): Promise<DocumentRecord[]> {
        this.assertOpen();
        const documents = (await this.storedDocuments()).filter((document) => !this.pending.has(document.id));
        for (const change of this.pending.values()) if (change.kind !== "remove") documents.push(change.record);
        return documents;
    }

    public async getDocument(id: string): Promise<DocumentRecord | undefined> {
        this.assertOpen();
        const change = this.pending.get(id);
        if (change != null) return change.kind === "remove" ? undefined : change.record;
        return this.storedDocument(id);
    }

    public async findByHash(hash: string): Promise<DocumentRecord | undefined> {
        this.assertOpen();
        for (const change of this.pending.values()) if (change.kind !== "remove" && change.record.hash === hash) return change.record;
        return this.storedWithHash(hash, [...this.pending.keys()]);
    }

    public async updateDocument(id: string, changes: DocumentChanges): Promise<void> {
        this.assertWritable();
        const change = this.pending.get(id);
        if (change?.kind === "put") {
            this.pending.set(id, { ...change, record: { ...change.record, ...changes } });
            return;
        }
        const current = await this.getDocument(id);
        if (current != null) this.pending.set(id, { kind: "update", record: { ...current, ...changes } });
    }

    public async removeDocument(id: string): Promise<boolean> {
        this.assertWritable();
        if (await this.getDocument(id) == null) return false;
        this.pending.set(id, { kind: "remove" });
        return true;
    }

    public async [Symbol.asyncDispose](): Promise<void> {
        await this.close();
    }

    protected assertOpen(): void {
        if (this.closed) throw new KnowledgeBaseClosedError(this.name);
    }

    protected assertWritable(): void {
        this.assertOpen();
        const compromised = this.compromised;
        if (compromised != null) throw new KnowledgeBaseLockLostError(this.name, compromised.message);
    }
}
