import type { RequestHandler } from "express";
import { rateLimit, ipKeyGenerator } from "express-rate-limit";
import { presentedKey, principalOf } from "./authenticate.js";
import { sendError } from "./httpErrors.js";

export interface ClientRateLimitOptions {
    /** Requests a client may make per minute; 0 turns the limit off. */
    perMinute: number;
    /** What is counted, for the message ("questions", "uploads"). */
    what: string;
    /** The setting that raises the limit, for the message. */
    setting: string;
}

/**
 * Limits each client to `perMinute` requests of a kind (express-rate-limit, a fixed one-minute
 * window kept in memory). A client is the key it presented, once `authenticate` has checked it;
 * otherwise its address, whatever `Authorization` says (anyone can make one up). Over the limit:
 * 429 `rate_limited` with `Retry-After`.
 */
export function clientRateLimit(options: ClientRateLimitOptions): RequestHandler {
    if (options.perMinute === 0) return (_req, _res, next) => next();
    return rateLimit({
        windowMs: 60_000,
        limit: options.perMinute,
        standardHeaders: "draft-8",
        legacyHeaders: false,
        keyGenerator: (req, res) => (presentedKey(res) ? `key:${principalOf(res).name}` : `address:${ipKeyGenerator(req.ip ?? "")}`),
        handler: (_req, res) => sendError(res, "rate_limited",
            `Too many ${options.what} from this client: at most ${options.perMinute} a minute (setting ${options.setting}). Try again in ${res.getHeader("Retry-After") ?? 60} s.`),
    });
}
