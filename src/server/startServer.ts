import type { AddressInfo } from "node:net";
import type { Config } from "../config/schema.js";
import { ListenError } from "../errors.js";
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
    /** Resolves once both models are loaded (rejects if one cannot be). */
    ready: Promise<void>;
    close(): Promise<void>;
}

/** Starts `yizhi serve`: listens at once (`/healthz`), loads the models in the background (`/readyz`). */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
    const { config } = options;
    const log = options.log ?? ((error: unknown) => console.error(error));
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

    const ready = Promise.all([yizhi.runtime.embeddings.embedQuery("ready"), yizhi.runtime.getChatModel()]).then(() => {
        readiness.ready = true;
    }, (error: unknown) => {
        // The reason names files on the server: it goes to the log, not to whoever asks /readyz.
        readiness.failure = "The models could not be loaded; the server's log says why.";
        throw error;
    });
    ready.catch(log);

    return {
        url: `http://${host}:${address.port}`,
        yizhi,
        ready,
        async close() {
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            await ready.catch(() => undefined);
            await yizhi.dispose();
        },
    };
}
