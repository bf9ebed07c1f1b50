import { timingSafeEqual } from "node:crypto";
import type { RequestHandler, Response } from "express";
import { ForbiddenError } from "../errors.js";
import { digestOf, type KeyStore } from "../keys/keyStore.js";
import { anyone, can, type Permission, type Principal } from "../keys/principal.js";
import { sendError } from "./httpErrors.js";
import { requireSameOrigin } from "./sameOrigin.js";

export interface AuthenticateOptions {
    /** The single key of `apiKey`: its holder is an admin. */
    apiKey?: string;
    /** The named keys (`yizhi keys`). */
    keys: KeyStore;
}

const principals = new WeakMap<Response, Principal>();
const keyed = new WeakSet<Response>();

/**
 * Works out who a request is from. With no key configured (no `apiKey`, no named keys), anyone
 * who reaches the server may do anything, but changes only from its own page (`requireSameOrigin`).
 * Otherwise every request needs `Authorization: Bearer <key>`: the `apiKey` (an admin), or a named
 * key with its role; anything else is 401.
 */
export function authenticate(options: AuthenticateOptions): RequestHandler {
    const apiKeyDigest = options.apiKey != null ? digestOf(options.apiKey) : undefined;
    const sameOrigin = requireSameOrigin();
    const principalWith = async (token: string): Promise<Principal | undefined> => {
        if (apiKeyDigest != null && timingSafeEqual(digestOf(token), apiKeyDigest)) return { name: "apiKey", role: "admin", kbs: "*" };
        return options.keys.verify(token);
    };
    return async (req, res, next) => {
        if (apiKeyDigest == null && !await options.keys.any()) {
            principals.set(res, anyone);
            return sameOrigin(req, res, next);
        }
        const token = /^Bearer\s+(.+)$/i.exec(req.get("authorization") ?? "")?.[1]?.trim();
        const principal = token != null ? await principalWith(token) : undefined;
        if (principal == null) {
            res.setHeader("WWW-Authenticate", "Bearer");
            return sendError(res, "unauthorized", "This server needs an API key: send Authorization: Bearer <key>.");
        }
        principals.set(res, principal);
        keyed.add(res);
        next();
    };
}

/** Who the request answered by `res` is from (set by `authenticate`). */
export function principalOf(res: Response): Principal {
    return principals.get(res) ?? anyone;
}

/** Whether the request presented a key that was checked: then the key, not the address, is the client. */
export function presentedKey(res: Response): boolean {
    return keyed.has(res);
}

/** Throws `ForbiddenError` (403, naming what is missing) unless the request's principal may do `permission`. */
export function authorize(res: Response, permission: Permission, kb?: string): void {
    const principal = principalOf(res);
    if (!can(principal, permission, kb)) throw new ForbiddenError(principal, permission, kb);
}
