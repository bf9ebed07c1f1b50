import type { RequestHandler } from "express";
import { pino, type Logger } from "pino";
import { pinoHttp } from "pino-http";
import pretty from "pino-pretty";
import type { Config } from "../config/schema.js";

export interface LoggerOptions {
    level: Config["logLevel"];
    /** Coloured lines for a person at a terminal instead of JSON lines (default false). */
    pretty?: boolean;
    /** Where lines go (default stderr). */
    destination?: NodeJS.WritableStream;
}

/**
 * The server's logger (pino: one JSON object a line, or with `pretty` a readable line), writing
 * synchronously so that the last lines before an exit are not lost.
 */
export function createLogger(options: LoggerOptions): Logger {
    const destination = options.destination ?? process.stderr;
    const stream = options.pretty === true
        ? pretty({ destination, sync: true, colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname,req,res,responseTime" })
        : destination;
    return pino({ level: options.level, base: undefined }, stream);
}

/**
 * A line per request once its response is sent: `GET /kbs 200 3 ms`, with the method, path,
 * status and time as fields. 5xx are logged as errors, 4xx as warnings. Health probes, which a
 * load balancer sends every few seconds, are not logged; headers (the API key among them) and
 * bodies (questions, uploads) never are.
 */
export function requestLog(logger: Logger): RequestHandler {
    return pinoHttp({
        logger,
        quietReqLogger: true,
        autoLogging: { ignore: (req) => req.url === "/healthz" || req.url === "/readyz" },
        serializers: {
            req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        customLogLevel: (_req, res, error) => (error != null || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info"),
        customSuccessMessage: (req, res, responseTime) => `${req.method} ${req.url} ${res.statusCode} ${Math.round(responseTime)} ms`,
        customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode} failed`,
    });
}
