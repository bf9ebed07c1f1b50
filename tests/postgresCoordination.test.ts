import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { KnowledgeBaseBusyError } from "../src/errors.js";
import { startServer } from "../src/server/startServer.js";
import { createPool } from "../src/store/postgres/database.js";
import { migrate } from "../src/store/postgres/migrate.js";
import { COORDINATION_MIGRATIONS } from "../src/store/postgres/schema.js";
import { WriterLease } from "../src/store/postgres/writerLease.js";
import { makeTempDir, repoRoot } from "./helpers.js";
import { runCli } from "./runCli.js";
import { testConfig, testEnv } from "./testConfig.js";
import { freePort, startNativePostgres, type NativePostgres } from "./testDatabases.js";

/*
 * What takes several real sessions, on a native PostgreSQL (without pgvector, so on the tables that
 * coordinate writers, which need none): migrations by servers starting at once, writers of one
 * knowledge base on several connections, a writer killed inside its transaction; and what a
 * person sees when the database cannot be used.
 */

describe("PostgreSQL: several sessions (native server)", () => {
    let server: NativePostgres;
    let temp: { dir: string; cleanup: () => Promise<void> };
    const pools: pg.Pool[] = [];
    const poolOf = (database: string) => {
        const pool = createPool({ url: server.urlFor({ database }), poolSize: 4 });
        pools.push(pool);
        return pool;
    };

    before(async () => {
        server = await startNativePostgres();
        temp = await makeTempDir();
        const admin = new pg.Client({ connectionString: server.url });
        await admin.connect();
        for (const database of ["migrations", "writers"]) await admin.query(`CREATE DATABASE ${database}`);
        await admin.end();
        await migrate(poolOf("writers"), COORDINATION_MIGRATIONS);
    });
    after(async () => {
        await Promise.all(pools.map((pool) => pool.end()));
        await server?.stop();
        await temp?.cleanup();
    });

    it("migrates once when several servers start at once", async () => {
        const starting = Array.from({ length: 6 }, () => poolOf("migrations"));
        const applied = await Promise.all(starting.map((pool) => migrate(pool, COORDINATION_MIGRATIONS)));
        assert.deepEqual(applied.filter((versions) => versions.length > 0), [[1]], "one server applied version 1, the others found it applied");
        const { rows } = await starting[0]!.query("SELECT version FROM yizhi_schema_migrations");
        assert.deepEqual(rows, [{ version: 1 }]);
        assert.deepEqual(await migrate(starting[1]!, COORDINATION_MIGRATIONS), [], "a later start applies nothing");
    });

    async function knowledgeBase(name: string): Promise<number> {
        const { rows } = await poolOf("writers").query<{ id: number }>(
            "INSERT INTO yizhi_knowledge_bases (name, embedder_id, dimension, hnsw_m, hnsw_ef_construction, tokenizer) VALUES ($1, 'e', 4, 16, 100, 't') RETURNING id",
            [name],
        );
        return rows[0]!.id;
    }

    it("lets one writer of a knowledge base in at a time, across connections; the next waits for the lease", async () => {
        const id = await knowledgeBase("turns");
        const [a, b] = [poolOf("writers"), poolOf("writers")];
        const first = await WriterLease.acquire(await a.connect(), id, "turns", { waitMs: 0 });
        const other = await b.connect();
        await assert.rejects(WriterLease.acquire(other, id, "turns", { waitMs: 0 }), KnowledgeBaseBusyError);
        const waiting = WriterLease.acquire(other, id, "turns", { waitMs: 10_000 });
        let waited = false;
        void waiting.then(() => (waited = true));
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(waited, false, "the second writer waits while the first holds the lease");
        await first.release();
        const second = await waiting;
        assert.equal(await second.use((client) => second.assertHeldIn(client)), true);
        await second.release();
    });

    it("a writer whose lease expired and was taken over commits nothing", async () => {
        const id = await knowledgeBase("expired");
        const [a, b] = [poolOf("writers"), poolOf("writers")];
        // Renewed every second at the soonest: a 200 ms lease lapses in between.
        const stale = await WriterLease.acquire(await a.connect(), id, "expired", { waitMs: 0, leaseMs: 200 });
        const next = await WriterLease.acquire(await b.connect(), id, "expired", { waitMs: 5_000 });
        const client = await a.connect();
        await client.query("BEGIN");
        assert.equal(await stale.assertHeldIn(client), false);
        await client.query("ROLLBACK");
        client.release();
        assert.match(String(stale.compromised), /took over/);
        assert.equal(await next.use((held) => next.assertHeldIn(held)), true);
        await Promise.all([stale.release(), next.release()]);
    });

    it("a writer killed inside its transaction leaves nothing of it, and its lease is free at once", async () => {
        const id = await knowledgeBase("team");
        const url = server.urlFor({ database: "writers" });
        const holder = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "tests", "leaseHolder.ts"), url, String(id)], { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
        await new Promise<void>((resolve, reject) => {
            holder.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("holding") && resolve());
            holder.once("exit", (code) => reject(new Error(`the lease holder exited (${code})`)));
        });
        const pool = poolOf("writers");
        const client = await pool.connect();
        await assert.rejects(WriterLease.acquire(client, id, "team", { waitMs: 0 }), KnowledgeBaseBusyError);
        holder.kill("SIGKILL");
        // The lease lasts 30 s; its holder's backend ends with its connection, which frees it long before.
        const next = await WriterLease.acquire(client, id, "team", { waitMs: 10_000 });
        const { rows } = await pool.query("SELECT id FROM yizhi_documents WHERE kb_id = $1", [id]);
        assert.deepEqual(rows, [], "the killed writer's transaction was rolled back");
        await next.release();
    });

    describe("a database that cannot be used: one clear message, no stack trace", () => {
        const env = (url: string) => testEnv(path.join(temp.dir, "storage"), { YIZHI_STORAGE: "postgres", YIZHI_DATABASE_URL: url });
        const noStack = (stderr: string) => assert.doesNotMatch(stderr, /^\s+at /m, stderr);

        it("unreachable", async () => {
            const { code, stderr } = await runCli(["kb", "list"], env(`postgres://yizhi:secret-word@127.0.0.1:${await freePort()}/yizhi`));
            assert.equal(code, 1);
            assert.match(stderr, /Cannot reach the database at postgres:\/\/yizhi:\*\*\*@127\.0\.0\.1:\d+\/yizhi \(ECONNREFUSED\)/);
            assert.doesNotMatch(stderr, /secret-word/);
            noStack(stderr);
        });

        it("wrong credentials", async () => {
            const { code, stderr } = await runCli(["kb", "list"], env(server.urlFor({ password: "wrong-password" })));
            assert.equal(code, 1);
            assert.match(stderr, /refused the credentials of user "postgres"\. Check the user name and password in databaseUrl/);
            assert.doesNotMatch(stderr, /wrong-password/);
            noStack(stderr);
        });

        it("no pgvector extension, leaving the schema as it was", async () => {
            const admin = new pg.Client({ connectionString: server.url });
            await admin.connect();
            await admin.query("CREATE DATABASE plain");
            await admin.end();
            const { code, stderr } = await runCli(["ingest", path.join(repoRoot, "README.md"), "--kb", "docs"], env(server.urlFor({ database: "plain" })));
            assert.equal(code, 1);
            assert.match(stderr, /has no pgvector extension, which Yizhi needs/);
            noStack(stderr);
            const { rows } = await poolOf("plain").query("SELECT to_regclass('yizhi_knowledge_bases') AS kbs, to_regclass('yizhi_schema_migrations') AS migrations");
            assert.deepEqual(rows, [{ kbs: null, migrations: null }], "the failed migration was rolled back whole");
        });

        it("yizhi serve says why at /readyz, naming no host or user, and the log has one line", async () => {
            const logged: unknown[] = [];
            const running = await startServer({
                config: testConfig(path.join(temp.dir, "storage"), { storage: "postgres", databaseUrl: server.urlFor({ password: "wrong-password" }) }),
                port: 0,
                log: (error) => logged.push(error),
            });
            try {
                await assert.rejects(running.ready, /refused the credentials/);
                const response = await fetch(`${running.url}/readyz`);
                assert.equal(response.status, 503);
                const body = await response.json() as { error: { code: string; message: string } };
                assert.deepEqual(body.error, { code: "not_ready", message: "The database refused Yizhi's credentials." });
                assert.equal(logged.length, 1);
                assert.match(String((logged[0] as Error).message), /refused the credentials of user "postgres"/);
            } finally {
                await running.close();
            }
        });
    });
});
