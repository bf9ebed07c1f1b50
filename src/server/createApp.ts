import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express } from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import { errorStatus, type ErrorCode } from "../errors.js";
import type { ModelProviderName, ModelRoleName } from "../models/models.js";
import { packageRoot } from "../packageRoot.js";
import { errorHandler, sendError } from "./httpErrors.js";
import type { KnowledgeBaseService } from "../service/knowledgeBaseService.js";
import { openApiDocument } from "./openApiDocument.js";
import { clientRateLimit } from "./rateLimits.js";
import { requestLog } from "./requestLog.js";
import type { KeyStore } from "../keys/keyStore.js";
import { authenticate, principalOf } from "./authenticate.js";
import { requireKnownHost } from "./sameOrigin.js";
import { askRoutes } from "./routes/askRoutes.js";
import { conversationRoutes } from "./routes/conversationRoutes.js";
import { knowledgeBaseRoutes } from "./routes/knowledgeBaseRoutes.js";
import { mcpRoutes } from "./routes/mcpRoutes.js";
import { openaiRoutes } from "./routes/openaiRoutes.js";

export interface Readiness {
    ready: boolean;
    /** Why the models or the storage cannot be used, once that is known. */
    failure?: string;
    /** What the last try of each model found: when it failed, the error's code (`model_not_found`: not on the server). */
    models?: { role: ModelRoleName; provider: ModelProviderName; ok: boolean; error?: ErrorCode }[];
}

export interface AppOptions {
    service: KnowledgeBaseService;
    readiness: Readiness;
    apiKey?: string;
    /** The named keys with roles (`yizhi keys`); while there are none and no `apiKey`, no key is needed. */
    keys: KeyStore;
    /** Host names the server answers to (see `allowedHostNames`); undefined: any. */
    allowedHosts?: readonly string[];
    maxUploadBytes: number;
    maxUploadRequestBytes: number;
    /** Questions (`/ask`, chat completions) per client per minute; 0: no limit. */
    questionsPerMinute: number;
    /** Uploads per client per minute; 0: no limit. */
    uploadsPerMinute: number;
    /** Where unexpected errors are reported (the client only sees "Internal server error"). */
    log: (error: unknown) => void;
    /** Logs a line per request; none when absent. */
    requestLogger?: Logger;
}

/** The ES module builds the page imports, as `import` resolves them. */
const vendorFiles = {
    marked: fileURLToPath(import.meta.resolve("marked")),
    purify: fileURLToPath(import.meta.resolve("dompurify")),
};

/** JSON bodies larger than this are refused with 413; documents come as multipart uploads instead. */
const MAX_JSON_BODY = "1mb";

/** The Express app: health probes, the web page, the OpenAPI document, and the API behind the key. */
export function createApp(options: AppOptions): Express {
    const app = express();
    app.disable("x-powered-by");
    if (options.requestLogger != null) app.use(requestLog(options.requestLogger));
    app.use(helmet({
        // The page loads its scripts and styles from here, never inline; nobody may frame it.
        contentSecurityPolicy: {
            useDefaults: false,
            directives: {
                defaultSrc: ["'self'"],
                scriptSrc: ["'self'"],
                styleSrc: ["'self'"],
                imgSrc: ["'self'", "data:"],
                connectSrc: ["'self'"],
                objectSrc: ["'none'"],
                baseUri: ["'none'"],
                formAction: ["'self'"],
                frameAncestors: ["'none'"],
            },
        },
        frameguard: { action: "deny" },
        // HTTPS, when there is any, is a proxy's to set up and to pin.
        strictTransportSecurity: false,
    }));
    if (options.allowedHosts != null) app.use(requireKnownHost(options.allowedHosts));

    app.get("/healthz", (_req, res) => void res.json({ status: "ok" }));
    app.get("/readyz", (_req, res) => {
        const { ready, failure, models } = options.readiness;
        if (ready) return void res.json({ status: "ready", models });
        res.setHeader("Retry-After", "5");
        res.status(errorStatus.not_ready).json({ error: { code: "not_ready", message: failure ?? "The models are still loading." }, ...(models != null ? { models } : {}) });
    });
    app.get("/openapi.json", (_req, res) => void res.json(openApiDocument));
    // The page's markdown parser and sanitiser, from their packages (web/vendor/*.d.ts types them).
    app.get("/vendor/marked.js", (_req, res) => res.sendFile(vendorFiles.marked));
    app.get("/vendor/purify.js", (_req, res) => res.sendFile(vendorFiles.purify));
    app.use(express.static(path.join(packageRoot, "web"), { index: "index.html" }));

    const api = express.Router();
    api.use(authenticate({ keys: options.keys, ...(options.apiKey != null ? { apiKey: options.apiKey } : {}) }));
    api.post(["/ask", "/v1/chat/completions", "/mcp"], clientRateLimit({ perMinute: options.questionsPerMinute, what: "questions", setting: "questionsPerMinute" }));
    api.post("/kbs/:kb/documents", clientRateLimit({ perMinute: options.uploadsPerMinute, what: "uploads", setting: "uploadsPerMinute" }));
    // What the page may offer: who the key is, and what it may do.
    api.get("/whoami", (_req, res) => void res.json(principalOf(res)));
    api.use(express.json({ limit: MAX_JSON_BODY }));
    api.use(askRoutes(options.service));
    api.use(knowledgeBaseRoutes(options.service, { maxUploadBytes: options.maxUploadBytes, maxUploadRequestBytes: options.maxUploadRequestBytes }));
    api.use(conversationRoutes(options.service));
    api.use(openaiRoutes(options.service));
    api.use(mcpRoutes(options.service));
    api.use((req, res) => sendError(res, "not_found", `No route for ${req.method} ${req.path}.`));
    app.use(api);
    app.use(errorHandler(options.log));
    return app;
}
