import type { Command } from "commander";
import { startServer } from "../../server/startServer.js";
import { configFromCommand, parseInteger } from "../globalOptions.js";

export function registerServeCommand(program: Command): void {
    program.command("serve")
        .description("start the HTTP API and the web page")
        .option("--host <address>", "address to listen on ($YIZHI_HOST, default 127.0.0.1)")
        .option("--port <port>", "port ($YIZHI_PORT, default 8080)", parseInteger)
        .action(async (flags: { host?: string; port?: number }, command: Command) => {
            const { config } = configFromCommand(command, { host: flags.host, port: flags.port });
            const server = await startServer({ config });
            process.stderr.write(`Yizhi is listening on ${server.url} (loading models…)\n`);
            // startServer logs why it is not ready.
            server.ready.then(() => process.stderr.write("Models loaded; ready.\n"), () => undefined);
            await new Promise<void>((resolve) => {
                process.once("SIGINT", resolve);
                process.once("SIGTERM", resolve);
            });
            await server.close();
        });
}
