import type { AddressInfo } from "node:net";
import type { Config } from "../config/schema.js";
import { ListenError, StorageUnavailableError, YizhiError } from "../errors.js";
import { Yizhi } from "../yizhi.js";
import { createApp, type Readiness } from "./createApp.js";
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
    log?: (error: unknown) => void;
}

export interface RunningServer {
    url: string;
    yizhi: Yizhi;
    /** Resolves once both models are loaded and the storage is ready (rejects if one cannot be). */
    ready: Promise<void>;
    close(): Promise<void>;
}

/** How often a server whose database cannot be used tries it again. */
const STORAGE_RETRY_MS = 5_000;

/** What `/readyz` may say of an error, naming no file, host or user. */
function reasonOf(error: unknown): string {
    return error instanceof StorageUnavailableError ? error.reason : "The storage cannot be used; the server's log says why.";
}

/** One line for a `YizhiError`, which says what to do; the stack of anything else. */
function logError(error: unknown): void {
    console.error(error instanceof YizhiError ? `yizhi: ${error.message}` : error);
}

/**
 * Starts `yizhi serve`: listens at once (`/healthz`), loads the models and connects to the storage
 * in the background (`/readyz`).
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
    const { config } = options;
    const log = options.log ?? logError;
    const yizhi = new Yizhi(config);
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

    let modelsLoaded = false;
    let storageReady = false;
    const models = Promise.all([yizhi.runtime.embeddings.embedQuery("ready"), yizhi.runtime.getChatModel()]).then(() => {
        modelsLoaded = true;
        readiness.ready = storageReady;
    }, (error: unknown) => {
        // The reason names files on the server: it goes to the log, not to whoever asks /readyz.
        readiness.failure = "The models could not be loaded; the server's log says why.";
        throw error;
    });
    // A database that cannot be used now may be later (it is starting, a password is being fixed): tried again until it is.
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const storage = new Promise<void>((resolve, reject) => {
        let reported = false;
        let storageFailure: string | undefined;
        const attempt = () => void yizhi.storage.ready().then(() => {
            storageReady = true;
            readiness.ready = modelsLoaded;
            if (readiness.failure === storageFailure) delete readiness.failure;
            resolve();
        }, (error: unknown) => {
            if (readiness.failure == null || readiness.failure === storageFailure) readiness.failure = storageFailure = reasonOf(error);
            if (!reported) reject(error);
            reported = true;
            if (!stopped) retry = setTimeout(attempt, STORAGE_RETRY_MS).unref();
        });
        attempt();
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
            stopped = true;
            clearTimeout(retry);
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            await ready.catch(() => undefined);
            await yizhi.dispose();
        },
    };
}
