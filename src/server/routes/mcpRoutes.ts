import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { Router } from "express";
import { createMcpServer } from "../../mcp/mcpServer.js";
import type { KnowledgeBaseService } from "../../service/knowledgeBaseService.js";
import { principalOf } from "../authenticate.js";
import { sendError } from "../httpErrors.js";

/**
 * `POST /mcp`: the MCP tools over streamable HTTP, behind the API key like every route. Stateless:
 * each request gets its own MCP server for its key's principal, so no session outlives a request.
 */
export function mcpRoutes(service: KnowledgeBaseService): Router {
    const router = Router();
    router.post("/mcp", async (req, res) => {
        const server = createMcpServer(service, principalOf(res));
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on("close", () => {
            void transport.close();
            void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, req.body);
    });
    // Without sessions there is no stream to open (GET) or end (DELETE).
    router.all("/mcp", (req, res) => {
        res.setHeader("Allow", "POST");
        sendError(res, "method_not_allowed", `${req.method} /mcp is not supported: this MCP endpoint is stateless; send each message with POST.`);
    });
    return router;
}
