import { isIP } from "node:net";
import type { RequestHandler } from "express";
import { sendError } from "./httpErrors.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The host names this server answers to: `allowedHosts` when set; for a server listening on
 * loopback, the loopback names; otherwise any (the server cannot know the names it is reached by).
 */
export function allowedHostNames(listenHost: string, allowedHosts: string | undefined): string[] | undefined {
    const configured = (allowedHosts ?? "").split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "");
    if (configured.length > 0) return configured.map((name) => (isIP(name) === 6 ? `[${name}]` : name));
    return isLoopback(listenHost) ? LOOPBACK_NAMES : undefined;
}

function isLoopback(host: string): boolean {
    return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host name of a `Host` header, without its port; undefined when it is not a host. */
function hostNameOf(header: string | undefined): string | undefined {
    if (header == null || header === "") return undefined;
    try {
        return new URL(`http://${header}`).hostname.toLowerCase();
    } catch {
        return undefined;
    }
}

/**
 * Refuses requests whose `Host` is not one of `names`: a page elsewhere that points its own
 * domain at 127.0.0.1 (DNS rebinding) is then served nothing.
 */
export function requireKnownHost(names: readonly string[]): RequestHandler {
    const allowed = new Set(names);
    return (req, res, next) => {
        const host = hostNameOf(req.get("host"));
        if (host != null && allowed.has(host)) return next();
        sendError(res, "forbidden_host", `This server does not answer to the host name "${req.get("host") ?? ""}". Add it to the setting allowedHosts (YIZHI_ALLOWED_HOSTS) to allow it.`);
    };
}

/**
 * Without an API key, refuses requests that change something (any method but GET, HEAD, OPTIONS)
 * sent by a page of another origin: browsers send cross-site form posts without asking (no CORS
 * preflight for a multipart POST), so another site could upload, delete or overwrite documents.
 * A request with neither `Origin` nor `Sec-Fetch-Site` (curl, scripts) is not a browser's and passes.
 */
export function requireSameOrigin(): RequestHandler {
    return (req, res, next) => {
        if (SAFE_METHODS.has(req.method)) return next();
        const site = req.get("sec-fetch-site");
        const origin = req.get("origin");
        const crossSite = site != null && site !== "same-origin" && site !== "none";
        const otherOrigin = origin != null && hostOfOrigin(origin) !== req.get("host")?.toLowerCase();
        if (!crossSite && !otherOrigin) return next();
        sendError(res, "forbidden_origin",
            `Changes are accepted only from this server's own page, not from ${origin ?? "another site"}. To call the API from elsewhere, configure an API key (YIZHI_API_KEY) and send it.`);
    };
}

function hostOfOrigin(origin: string): string | undefined {
    try {
        return new URL(origin).host.toLowerCase();
    } catch {
        return undefined; // "null" (a sandboxed frame, a file: page) is no origin of ours
    }
}
