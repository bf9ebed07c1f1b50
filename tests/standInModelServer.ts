import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for what no real server here produces: Ollama's own API (NDJSON streams, `/api/embed`),
 * a 429 with `Retry-After`, an OpenAI answer with its `index`es shuffled, TEI's rerank answer, a
 * stream that stalls or reports an error mid-answer. It speaks only the wire protocol, answering
 * from the handlers a test gives it, and records every request.
 */
export interface StandInRequest {
    path: string;
    headers: http.IncomingHttpHeaders;
    body: unknown;
    /** When it arrived (performance.now()). */
    at: number;
}

export type StandInHandler = (request: StandInRequest, response: http.ServerResponse) => void | Promise<void>;

export interface StandInModelServer {
    url: string;
    /** Every request so far, in order of arrival. */
    requests: StandInRequest[];
    /** Requests to `path`. */
    requestsTo(path: string): StandInRequest[];
    close(): Promise<void>;
}

export async function startStandInModelServer(routes: Record<string, StandInHandler>): Promise<StandInModelServer> {
    const requests: StandInRequest[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const request: StandInRequest = { path: req.url ?? "/", headers: req.headers, body: text === "" ? undefined : JSON.parse(text) as unknown, at: performance.now() };
            requests.push(request);
            const handler = routes[request.path];
            if (handler == null) return void sendJson(res, 404, { error: `stand-in: no route ${request.path}` });
            void Promise.resolve(handler(request, res)).catch((error: unknown) => sendJson(res, 500, { error: String(error) }));
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        requestsTo: (path) => requests.filter((request) => request.path === path),
        close: async () => {
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
}

/** A vector that depends only on `text` (its characters hashed into `dimension` buckets), so a test can tell whose vector is where. */
export function standInVector(text: string, dimension = 16, seed = 0): number[] {
    const vector = new Array<number>(dimension).fill(0);
    for (const character of text) {
        const code = character.codePointAt(0)! + seed;
        vector[(code * 2654435761 >>> 0) % dimension]! += 1;
        vector[(code * 40503 >>> 0) % dimension]! -= 0.5;
    }
    vector[0]! += 0.01;
    return vector;
}

/** Texts of an embedding request: OpenAI's and Ollama's `input`. */
export function inputsOf(request: StandInRequest): string[] {
    const input = (request.body as { input?: unknown }).input;
    return Array.isArray(input) ? input.map(String) : [String(input)];
}
