/** A knowledge base's saved conversations, as the page keeps them on the server. */

/** A source of an answer as the conversation keeps it: enough to show its card and open its document. */
export interface ConversationSource {
    n: number;
    documentId: string;
    chunkIndex: number;
    name: string;
    page?: number;
    headingPath?: string[];
    /** Set when the text was read by OCR. */
    ocr?: { confidence: number };
    score: number;
    text: string;
}

export interface ConversationTurn {
    question: string;
    answer: string;
    refused: boolean;
    sources: ConversationSource[];
    askedAt: string;
}

export interface Conversation {
    /** 16 hex digits, given by the server. */
    id: string;
    title: string;
    createdAt: string;
    updatedAt: string;
    turns: ConversationTurn[];
}

export interface ConversationSummary {
    id: string;
    title: string;
    createdAt: string;
    updatedAt: string;
    turns: number;
}

/** What every conversation id looks like; anything else is refused before it reaches a file name or a query. */
export const CONVERSATION_ID = /^[0-9a-f]{16}$/;

export function summarizeConversation({ id, title, createdAt, updatedAt, turns }: Conversation): ConversationSummary {
    return { id, title, createdAt, updatedAt, turns: turns.length };
}

/** Newest change first. */
export function byUpdatedAtDescending(a: ConversationSummary, b: ConversationSummary): number {
    return a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0;
}
