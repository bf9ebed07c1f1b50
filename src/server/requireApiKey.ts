import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { sendError } from "./httpErrors.js";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Requires `Authorization: Bearer <apiKey>`; compared in constant time. */
export function requireApiKey(apiKey: string): RequestHandler {
    const expected = digest(apiKey);
    return (req, res, next) => {
        const match = /^Bearer\s+(.+)$/i.exec(req.get("authorization") ?? "");
        if (match?.[1] != null && timingSafeEqual(digest(match[1].trim()), expected)) return next();
        res.setHeader("WWW-Authenticate", "Bearer");
        sendError(res, "unauthorized", "This server needs an API key: send Authorization: Bearer <key>.");
    };
}
