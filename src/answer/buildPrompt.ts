import type { RetrievedChunk } from "../retrieval/retrieveChunks.js";
import type { PromptTemplate } from "./promptTemplates.js";

/** How a numbered source appears in the prompt's context. */
function formatSource(n: number, text: string): string {
    return `[${n}] ${text}`;
}

function formatContext(texts: readonly string[]): string {
    return texts.map((text, i) => formatSource(i + 1, text)).join("\n\n");
}

export interface BuiltPrompt {
    prompt: string;
    /** The chunks in the prompt, numbered from 1 in this order; a chunk may have been shortened to fit. */
    used: RetrievedChunk[];
}

export interface BuildPromptOptions {
    template: PromptTemplate;
    question: string;
    /** Retrieved chunks, best first. */
    retrieved: readonly RetrievedChunk[];
    /** Tokens the prompt may take. */
    budgetTokens: number;
    countTokens: (text: string) => Promise<number>;
}

/**
 * Fills the template with as many retrieved chunks as fit the token budget, best first. A chunk
 * that does not fit is skipped for a later, shorter one; if not even the best chunk fits, its
 * beginning is used.
 */
export async function buildPrompt(options: BuildPromptOptions): Promise<BuiltPrompt> {
    const { template, question, retrieved, budgetTokens, countTokens } = options;
    const used: RetrievedChunk[] = [];
    // Counted together (a model server's /tokenize answers them at once), each as numbered if none is skipped.
    const [base, ...costs] = await Promise.all([
        countTokens(template.fill("", question)),
        ...retrieved.map((item, i) => countTokens(`${formatSource(i + 1, item.chunk.text)}\n\n`)),
    ]);
    let spent = base!;
    for (const [i, item] of retrieved.entries()) {
        const n = used.length + 1;
        const cost = n === i + 1 ? costs[i]! : await countTokens(`${formatSource(n, item.chunk.text)}\n\n`);
        if (spent + cost > budgetTokens) continue;
        used.push(item);
        spent += cost;
    }
    const best = retrieved[0];
    if (used.length === 0 && best != null) {
        used.push({ ...best, chunk: { ...best.chunk, text: await longestPrefixThatFits(best.chunk.text, budgetTokens - spent, countTokens) } });
    }
    return { prompt: template.fill(formatContext(used.map((item) => item.chunk.text)), question), used };
}

async function longestPrefixThatFits(text: string, budget: number, countTokens: (text: string) => Promise<number>): Promise<string> {
    let low = 0;
    let high = text.length;
    while (low < high) {
        const middle = Math.ceil((low + high) / 2);
        if (await countTokens(formatSource(1, text.slice(0, middle))) <= budget) low = middle;
        else high = middle - 1;
    }
    return text.slice(0, low);
}
