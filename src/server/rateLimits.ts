import { createHash } from "node:crypto";
import type { Request, RequestHandler } from "express";
import { rateLimit, ipKeyGenerator } from "express-rate-limit";
import { sendError } from "./httpErrors.js";

export interface ClientRateLimitOptions {
    /** Requests a client may make per minute; 0 turns the limit off. */
    perMinute: number;
    /** What is counted, for the message ("questions", "uploads"). */
    what: string;
    /** The setting that raises the limit, for the message. */
    setting: string;
    /**
     * Whether requests carry an API key that was checked before this runs: then the key is the
     * client. Otherwise the address is, whatever `Authorization` says (anyone can make one up).
     */
    byKey: boolean;
}

/**
 * Limits each client to `perMinute` requests of a kind (express-rate-limit, a fixed one-minute
 * window kept in memory). Over the limit: 429 `rate_limited` with `Retry-After`.
 */
export function clientRateLimit(options: ClientRateLimitOptions): RequestHandler {
    if (options.perMinute === 0) return (_req, _res, next) => next();
    return rateLimit({
        windowMs: 60_000,
        limit: options.perMinute,
        standardHeaders: "draft-8",
        legacyHeaders: false,
        keyGenerator: (req) => clientOf(req, options.byKey),
        handler: (_req, res) => sendError(res, "rate_limited",
            `Too many ${options.what} from this client: at most ${options.perMinute} a minute (setting ${options.setting}). Try again in ${res.getHeader("Retry-After") ?? 60} s.`),
    });
}

function clientOf(req: Request, byKey: boolean): string {
    const token = byKey ? /^Bearer\s+(.+)$/i.exec(req.get("authorization") ?? "")?.[1]?.trim() : undefined;
    // Only a digest of the key is kept in the limiter's memory.
    if (token != null) return `key:${createHash("sha256").update(token).digest("hex")}`;
    return `address:${ipKeyGenerator(req.ip ?? "")}`;
}
