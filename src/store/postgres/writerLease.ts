import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { KnowledgeBaseBusyError } from "../../errors.js";
import type { Queryable } from "./database.js";

export interface WriterLeaseOptions {
    /** How long to wait for another writer to finish, in milliseconds. */
    waitMs: number;
    /** How long a lease lasts without being renewed (default 30 s): what a writer that vanished without a trace holds a knowledge base for. */
    leaseMs?: number;
}

const DEFAULT_LEASE_MS = 30_000;
const POLL_MS = 100;

/**
 * The right to write one knowledge base, held in the database so that writers on several machines
 * take turns: a row of `yizhi_writer_leases` naming the holder and its connection's backend. The
 * holder renews it while it lives; another writer takes it over once it has expired, or at once
 * when the holder's backend is gone (its process was killed, its connection dropped). Commits check
 * it inside their transaction (`assertHeldIn`), so a writer that lost it commits nothing.
 */
export class WriterLease {
    /** Why the lease was lost, once it was. */
    public compromised: Error | undefined;
    private readonly renewal: NodeJS.Timeout;
    private released = false;
    /** The jobs on the lease's connection, one after another: a renewal never lands inside a commit's transaction. */
    private queue: Promise<unknown> = Promise.resolve();

    private constructor(
        private readonly client: pg.PoolClient,
        private readonly kbId: number,
        public readonly holder: string,
        private readonly leaseMs: number,
    ) {
        this.renewal = setInterval(() => void this.renew(), Math.max(1000, leaseMs / 3));
        this.renewal.unref();
    }

    /**
     * Takes the lease of knowledge base `kbId` on `client`, a connection the lease keeps for itself,
     * waiting up to `waitMs` for the current holder; then `KnowledgeBaseBusyError`.
     */
    public static async acquire(client: pg.PoolClient, kbId: number, kb: string, options: WriterLeaseOptions): Promise<WriterLease> {
        const holder = randomUUID();
        const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
        const deadline = performance.now() + options.waitMs;
        for (;;) {
            const { rows } = await client.query<{ holder: string }>(`
                INSERT INTO yizhi_writer_leases AS lease (kb_id, holder, backend_pid, backend_start, expires_at)
                VALUES ($1, $2, pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()), now() + $3 * interval '1 millisecond')
                ON CONFLICT (kb_id) DO UPDATE SET holder = excluded.holder, backend_pid = excluded.backend_pid,
                    backend_start = excluded.backend_start, expires_at = excluded.expires_at
                WHERE lease.expires_at < now() OR NOT EXISTS (
                    SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = lease.backend_pid AND a.backend_start IS NOT DISTINCT FROM lease.backend_start
                )
                RETURNING holder`, [kbId, holder, leaseMs]);
            if (rows[0]?.holder === holder) return new WriterLease(client, kbId, holder, leaseMs);
            if (performance.now() >= deadline) throw new KnowledgeBaseBusyError(kb);
            await sleep(Math.min(POLL_MS, Math.max(0, deadline - performance.now())));
        }
    }

    /** Runs `job` on the lease's connection once the jobs before it are done. */
    public use<T>(job: (client: pg.PoolClient) => Promise<T>): Promise<T> {
        const result = this.queue.then(() => job(this.client));
        this.queue = result.catch(() => undefined);
        return result;
    }

    /**
     * Inside a commit's transaction on `client`: locks the lease row until the transaction ends and
     * renews it, or returns false (and changes nothing) when this writer no longer holds it.
     */
    public async assertHeldIn(client: Queryable): Promise<boolean> {
        if (this.compromised != null) return false;
        const { rows } = await client.query(
            "UPDATE yizhi_writer_leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE kb_id = $1 AND holder = $2 RETURNING kb_id",
            [this.kbId, this.holder, this.leaseMs],
        );
        if (rows.length === 0) this.compromised = new Error("another writer took over its lease");
        return rows.length > 0;
    }

    /** Gives the lease up; the connection goes back to the pool. */
    public async release(): Promise<void> {
        if (this.released) return;
        this.released = true;
        clearInterval(this.renewal);
        await this.queue;
        try {
            await this.client.query("DELETE FROM yizhi_writer_leases WHERE kb_id = $1 AND holder = $2", [this.kbId, this.holder]);
            this.client.release();
        } catch (error) {
            // A broken connection is not put back; the lease ends with its backend.
            this.client.release(error as Error);
        }
    }

    private async renew(): Promise<void> {
        if (this.released || this.compromised != null) return;
        try {
            await this.use((client) => this.assertHeldIn(client));
        } catch {
            // The next renewal, or the commit's check, tells whether the lease is still ours.
        }
    }
}
