import { QueueFullError, RequestAbortedError } from "../errors.js";

/**
 * A fixed set of resources (the chat context's sequences) handed out one per caller, with a
 * bounded line of callers waiting for one. A waiter whose signal aborts (its client went away)
 * leaves the line at once, so it holds no place that a new question could take.
 */
export class WaitQueue<Resource> {
    private readonly free: Resource[];
    private readonly total: number;
    private readonly waiting: { grant: (resource: Resource) => void }[] = [];

    public constructor(resources: readonly Resource[], private readonly maxWaiting: number) {
        this.free = [...resources];
        this.total = resources.length;
    }

    /** Callers waiting now. */
    public get waitingCount(): number {
        return this.waiting.length;
    }

    /** Resolves with a free resource; rejects with `QueueFullError` when the line is full, `RequestAbortedError` when `signal` aborts first. */
    public acquire(signal?: AbortSignal): Promise<Resource> {
        if (signal?.aborted === true) return Promise.reject(new RequestAbortedError());
        const resource = this.free.pop();
        if (resource !== undefined) return Promise.resolve(resource);
        if (this.waiting.length >= this.maxWaiting) return Promise.reject(new QueueFullError(this.total, this.maxWaiting));
        return new Promise((resolve, reject) => {
            const onAbort = () => {
                const index = this.waiting.indexOf(waiter);
                if (index >= 0) this.waiting.splice(index, 1);
                reject(new RequestAbortedError());
            };
            const waiter = {
                grant: (granted: Resource) => {
                    signal?.removeEventListener("abort", onAbort);
                    resolve(granted);
                },
            };
            signal?.addEventListener("abort", onAbort, { once: true });
            this.waiting.push(waiter);
        });
    }

    /** Gives a resource back: to the first waiter, or to the free set. */
    public release(resource: Resource): void {
        const next = this.waiting.shift();
        if (next != null) next.grant(resource);
        else this.free.push(resource);
    }
}
