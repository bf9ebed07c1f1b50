import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AnswerSource } from "../answer/answerQuestion.js";
import { ForbiddenError, YizhiError } from "../errors.js";
import { can, type Principal } from "../keys/principal.js";
import { packageVersion } from "../packageRoot.js";
import type { KnowledgeBaseService } from "../service/knowledgeBaseService.js";

const retrievalInput = {
    kb: z.string().min(1).describe("the knowledge base, as list_knowledge_bases names it"),
    topK: z.number().int().min(1).max(100).optional().describe("chunks to retrieve (default: the server's topK)"),
    mode: z.enum(["dense", "bm25", "hybrid"]).optional().describe("dense (embeddings), bm25 (words) or hybrid (both; default: the server's)"),
};

/**
 * Yizhi's knowledge bases as MCP tools, for agents (Claude Desktop, Cursor, any MCP client): list
 * them, search one (the retrieved chunks with their sources and scores), ask one (the answer with
 * its sources). `principal` decides what may be read, as on the HTTP API.
 */
export function createMcpServer(service: KnowledgeBaseService, principal: Principal): McpServer {
    const server = new McpServer({ name: "yizhi", version: packageVersion });
    const readable = (kb: string) => {
        if (!can(principal, "read", kb)) throw new ForbiddenError(principal, "read", kb);
    };

    server.registerTool("list_knowledge_bases", {
        title: "List knowledge bases",
        description: "The knowledge bases that can be searched and asked, with their counts of documents and chunks.",
    }, () => run(async () => {
        const kbs = (await service.list()).filter((kb) => can(principal, "read", kb.name) && kb.problem == null);
        return json(kbs.map(({ name, documents, chunks }) => ({ name, documents, chunks })));
    }));

    server.registerTool("search", {
        title: "Search a knowledge base",
        description: "The chunks of a knowledge base most relevant to a query, best first, each with its source document, page, score and text. " +
            "Chunks below the relevance threshold are left out, so an empty list means nothing relevant was found.",
        inputSchema: { ...retrievalInput, query: z.string().trim().min(1).max(4_000).describe("what to look for, in any words") },
    }, ({ kb, query, topK, mode }) => run(async () => {
        readable(kb);
        const sources = await service.search(kb, { question: query, ...(topK != null ? { topK } : {}), ...(mode != null ? { mode } : {}) });
        return json(sources.map(shownSource));
    }));

    server.registerTool("ask", {
        title: "Ask a knowledge base",
        description: "An answer to a question written from a knowledge base's documents, citing them as [n], with the sources it used. " +
            "When nothing relevant is found it says so instead of answering.",
        inputSchema: { ...retrievalInput, question: z.string().trim().min(1).max(4_000).describe("the question") },
    }, ({ kb, question, topK, mode }) => run(async () => {
        readable(kb);
        const result = await service.ask(kb, { question, ...(topK != null ? { topK } : {}), ...(mode != null ? { mode } : {}) });
        return json({ answer: result.answer, refused: result.refused, sources: result.sources.map(shownSource) });
    }));
    return server;
}

function shownSource(source: AnswerSource): Record<string, unknown> {
    const { n, source: name, page, headingPath, score, text } = source;
    return { n, source: name, ...(page != null ? { page } : {}), ...(headingPath != null ? { headingPath } : {}), score, text };
}

function json(value: unknown): CallToolResult {
    return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }] };
}

/** A tool's result, or its error as MCP has tools report them: a result marked `isError`, with the message. */
async function run(job: () => Promise<CallToolResult>): Promise<CallToolResult> {
    try {
        return await job();
    } catch (error) {
        const message = error instanceof YizhiError ? `${error.code}: ${error.httpMessage}` : "Internal error; the server's log says why.";
        return { isError: true, content: [{ type: "text", text: message }] };
    }
}
