import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Command } from "commander";
import { anyone } from "../../keys/principal.js";
import { createMcpServer } from "../../mcp/mcpServer.js";
import { Yizhi } from "../../yizhi.js";
import { configFromCommand } from "../globalOptions.js";

export function registerMcpCommand(program: Command): void {
    program.command("mcp")
        .description("serve the knowledge bases to an MCP client (Claude Desktop, Cursor…) over stdin and stdout")
        .action(async (_flags: unknown, command: Command) => {
            const { config } = configFromCommand(command);
            const yizhi = new Yizhi(config);
            // Whoever starts the process owns its data folder: every knowledge base is readable.
            const server = createMcpServer(yizhi.knowledgeBases, anyone);
            const closed = new Promise<void>((resolve) => {
                server.server.onclose = resolve;
                process.stdin.once("end", resolve);
                process.once("SIGINT", resolve);
                process.once("SIGTERM", resolve);
            });
            await server.connect(new StdioServerTransport());
            await closed;
            await yizhi.dispose();
        });
}
