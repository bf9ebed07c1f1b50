import type { Response } from "express";

export interface EventStream {
    send(event: string, data: unknown): void;
    /** Sends an unnamed `data:` line, as OpenAI's stream does. */
    sendData(data: string): void;
    end(): void;
}

/** Starts a Server-Sent Events response. */
export function openEventStream(res: Response): EventStream {
    res.status(200);
    res.setHeader("Content-Type", "text/event-stream; charset=utf-8");
    res.setHeader("Cache-Control", "no-cache, no-transform");
    res.setHeader("Connection", "keep-alive");
    res.setHeader("X-Accel-Buffering", "no");
    res.flushHeaders();
    return {
        send: (event, data) => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
        sendData: (data) => void res.write(`data: ${data}\n\n`),
        end: () => res.end(),
    };
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function abortOnDisconnect(res: Response): AbortSignal {
    const controller = new AbortController();
    res.on("close", () => {
        if (!res.writableFinished) controller.abort();
    });
    return controller.signal;
}
