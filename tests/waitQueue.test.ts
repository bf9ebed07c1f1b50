import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QueueFullError, RequestAbortedError } from "../src/errors.js";
import { WaitQueue } from "../src/models/waitQueue.js";

describe("WaitQueue (the answer slots and the line of questions waiting for one)", () => {
    it("hands out free resources, then queues up to its limit, then refuses", async () => {
        const queue = new WaitQueue(["slot"], 2);
        assert.equal(await queue.acquire(), "slot");
        const second = queue.acquire();
        const third = queue.acquire();
        await assert.rejects(queue.acquire(), (error: unknown) => error instanceof QueueFullError && /All 1 answer slots are busy and 2/.test(error.message));
        queue.release("slot");
        assert.equal(await second, "slot");
        queue.release("slot");
        assert.equal(await third, "slot");
        queue.release("slot");
        assert.equal(await queue.acquire(), "slot", "nothing waits any more: the slot is free");
    });

    it("lets waiters whose client went away leave the line at once, making room for new questions", async () => {
        const queue = new WaitQueue(["slot"], 2);
        await queue.acquire();
        const gone = [new AbortController(), new AbortController()];
        const leaving = gone.map((controller) => queue.acquire(controller.signal));
        for (const controller of gone) controller.abort();
        for (const waiter of leaving) await assert.rejects(waiter, RequestAbortedError);
        assert.equal(queue.waitingCount, 0);

        const next = [queue.acquire(), queue.acquire()];
        await assert.rejects(queue.acquire(), QueueFullError, "the two new waiters fill the line, not the departed ones");
        queue.release("slot");
        assert.equal(await next[0], "slot", "the slot goes to a waiter still there");
        queue.release("slot");
        assert.equal(await next[1], "slot");
    });

    it("refuses a caller whose signal has already aborted, even with a free resource", async () => {
        const queue = new WaitQueue(["slot"], 1);
        const controller = new AbortController();
        controller.abort();
        await assert.rejects(queue.acquire(controller.signal), RequestAbortedError);
        assert.equal(await queue.acquire(), "slot", "the refused caller took nothing");
    });

    it("keeps a resource granted before the abort: aborting afterwards changes nothing", async () => {
        const queue = new WaitQueue(["slot"], 1);
        const controller = new AbortController();
        assert.equal(await queue.acquire(controller.signal), "slot");
        controller.abort();
        const waiting = queue.acquire();
        queue.release("slot");
        assert.equal(await waiting, "slot");
    });
});
