import type { Command } from "commander";
import { createLogger } from "../../server/requestLog.js";
import { startServer } from "../../server/startServer.js";
import { configFromCommand, parseInteger } from "../globalOptions.js";

export function registerServeCommand(program: Command): void {
    program.command("serve")
        .description("start the HTTP API and the web page")
        .option("--host <address>", "address to listen on ($YIZHI_HOST, default 127.0.0.1)")
        .option("--port <port>", "port ($YIZHI_PORT, default 8080)", parseInteger)
        .action(async (flags: { host?: string; port?: number }, command: Command) => {
            const { config } = configFromCommand(command, { host: flags.host, port: flags.port });
            const logger = createLogger({ level: config.logLevel, pretty: process.stderr.isTTY });
            const server = await startServer({ config, logger });
            logger.info(`Yizhi is listening on ${server.url} (loading models…)`);
            // startServer logs why it is not ready.
            server.ready.then(() => logger.info("Models loaded; ready."), () => undefined);
            await new Promise<void>((resolve) => {
                process.once("SIGINT", resolve);
                process.once("SIGTERM", resolve);
            });
            await server.close();
        });
}
