import type { AddressInfo } from "node:net";
import type { Config } from "../config/schema.js";
import { ListenError, ModelsNotReadyError, StorageUnavailableError, YizhiError } from "../errors.js";
import type { Logger } from "pino";
import type { Models } from "../models/models.js";
import { Yizhi } from "../yizhi.js";
import { createApp, type Readiness } from "./createApp.js";
import { createLogger } from "./requestLog.js";
import { allowedHostNames } from "./sameOrigin.js";
import { KeyStore } from "../keys/keyStore.js";

export interface StartServerOptions {
    config: Config;
    /** Defaults to `config.host`. */
    host?: string;
    /** Defaults to `config.port`; 0 picks a free port. */
    port?: number;
    /** Defaults to `config.apiKey`. */
    apiKey?: string;
    /** Where requests and errors are logged; default: JSON lines on stderr at `config.logLevel`. */
    logger?: Logger;
    /** Where errors go instead of `logger` (a test's list); requests are then not logged unless `logger` is given too. */
    log?: (error: unknown) => void;
    /** Default: the models `config` names, from their providers. */
    models?: Models;
}

export interface RunningServer {
    url: string;
    yizhi: Yizhi;
    /** Resolves once both models are loaded and the storage is ready (rejects if one cannot be). */
    ready: Promise<void>;
    close(): Promise<void>;
}

/** How often a server whose database or models cannot be used tries them again. */
const RETRY_MS = 5_000;

/** What `/readyz` may say of a storage error, naming no file, host or user. */
function storageReasonOf(error: unknown): string {
    return error instanceof StorageUnavailableError ? error.reason : "The storage cannot be used; the server's log says why.";
}

/** What `/readyz` may say of a model error: a local model's names files on the server, so only the log has it. */
function modelReasonOf(error: unknown): string {
    return error instanceof ModelsNotReadyError ? error.reason : "The models could not be loaded; the server's log says why.";
}

/** Attempts run again every `RETRY_MS` until each succeeds, all stopped by `stop`. */
class Retries {
    private stopped = false;
    private readonly timers = new Set<NodeJS.Timeout>();

    /**
     * Runs `attempt` until it succeeds, telling `onResult` each failure and then the success
     * (undefined). The promise settles with the first attempt: it rejects with the first failure
     * while the attempts go on.
     */
    public untilReady(attempt: () => Promise<void>, onResult: (failure: unknown) => void): Promise<void> {
        return new Promise<void>((resolve, reject) => {
            const run = () => void attempt().then(() => {
                onResult(undefined);
                resolve();
            }, (error: unknown) => {
                onResult(error ?? new Error("failed"));
                reject(error);
                if (this.stopped) return;
                const timer = setTimeout(() => {
                    this.timers.delete(timer);
                    run();
                }, RETRY_MS).unref();
                this.timers.add(timer);
            });
            run();
        });
    }

    public stop(): void {
        this.stopped = true;
        for (const timer of this.timers) clearTimeout(timer);
    }
}

/** One line for a `YizhiError`, which says what to do; the stack of anything else. */
function errorLog(logger: Logger): (error: unknown) => void {
    return (error) => {
        if (error instanceof YizhiError) logger.error(error.message);
        else if (typeof error === "string") logger.error(error);
        else logger.error({ err: error }, "unexpected error");
    };
}

/**
 * Starts `yizhi serve`: listens at once (`/healthz`), loads the models and connects to the storage
 * in the background (`/readyz`).
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
    const { config } = options;
    const logger = options.logger ?? (options.log == null ? createLogger({ level: config.logLevel }) : undefined);
    const log = options.log ?? errorLog(logger!);
    const yizhi = new Yizhi(config, options.models);
    const readiness: Readiness = { ready: false };
    const apiKey = options.apiKey ?? config.apiKey;
    const listenHost = options.host ?? config.host;
    const allowedHosts = allowedHostNames(listenHost, config.allowedHosts);
    const app = createApp({
        service: yizhi.knowledgeBases,
        keys: KeyStore.of(config.dataDir),
        readiness,
        maxUploadBytes: config.maxUploadBytes,
        maxUploadRequestBytes: config.maxUploadRequestBytes,
        questionsPerMinute: config.questionsPerMinute,
        uploadsPerMinute: config.uploadsPerMinute,
        log,
        ...(logger != null ? { requestLogger: logger } : {}),
        ...(allowedHosts != null ? { allowedHosts } : {}),
        ...(apiKey != null ? { apiKey } : {}),
    });

    const port = options.port ?? config.port;
    const server = app.listen(port, listenHost);
    try {
        await new Promise<void>((resolve, reject) => {
            server.once("listening", resolve);
            server.once("error", reject);
        });
    } catch (error) {
        await yizhi.dispose();
        throw new ListenError(listenHost, port, error as NodeJS.ErrnoException);
    }
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

    // A database or model server that cannot be used now may be later (it is starting, a password
    // is being fixed): each part is tried again until it is ready.
    const parts = { storage: { ready: false, failure: undefined as string | undefined }, models: { ready: false, failure: undefined as string | undefined } };
    const update = () => {
        readiness.ready = parts.storage.ready && parts.models.ready;
        const failure = parts.storage.failure ?? parts.models.failure;
        if (failure != null) readiness.failure = failure;
        else delete readiness.failure;
    };
    const retries = new Retries();
    const storage = retries.untilReady(() => yizhi.storage.ready(), (failure) => {
        parts.storage = failure == null ? { ready: true, failure: undefined } : { ready: false, failure: storageReasonOf(failure) };
        update();
    });
    const models = retries.untilReady(async () => {
        const checks = await yizhi.models.check();
        readiness.models = checks.map(({ role, provider, ok, error }) => ({
            role, provider, ok, ...(!ok ? { error: error instanceof YizhiError ? error.code : "internal_error" as const } : {}),
        }));
        const failed = checks.filter((check) => !check.ok);
        if (failed.length > 0) throw new ModelsNotReadyError(failed);
    }, (failure) => {
        parts.models = failure == null ? { ready: true, failure: undefined } : { ready: false, failure: modelReasonOf(failure) };
        update();
    });
    models.catch(log);
    storage.catch(log);
    const ready = Promise.all([models, storage]).then(() => undefined);
    ready.catch(() => undefined);

    return {
        url: `http://${host}:${address.port}`,
        yizhi,
        ready,
        async close() {
            retries.stop();
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            await ready.catch(() => undefined);
            await yizhi.dispose();
        },
    };
}
