import pg from "pg";
import { StorageUnavailableError } from "../../errors.js";

/** A connection, pooled or held: what the queries of this backend run on. */
export type Queryable = Pick<pg.PoolClient, "query">;

export interface DatabaseOptions {
    /** A `postgres://` URL. */
    url: string;
    /** Connections this process may hold (default 10). */
    poolSize?: number;
    /** How long to wait for a connection to be made, in milliseconds (default 10 s). */
    connectTimeoutMs?: number;
}

// int8 (labels, versions, counts) as numbers: they stay far below 2^53.
const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") => oid === pg.types.builtins.INT8
        ? (value: string) => Number(value)
        : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/** A pool over `options.url` that lets the process exit once its connections are idle. */
export function createPool(options: DatabaseOptions): pg.Pool {
    const pool = new pg.Pool({
        connectionString: options.url,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
        allowExitOnIdle: true,
        types,
    });
    // An idle connection the server drops (a restart, a killed backend) is an 'error' event on the pool; the next query reconnects.
    pool.on("error", () => undefined);
    return pool;
}

/** The URL without its password, for messages and `yizhi config`. */
export function redactUrl(url: string): string {
    try {
        const parsed = new URL(url);
        if (parsed.password !== "") parsed.password = "***";
        return parsed.toString();
    } catch {
        return "(a database URL that cannot be parsed)";
    }
}

/** Runs `job` in one transaction on one pooled connection: committed when it returns, rolled back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, job: (client: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
    const client = await pool.connect();
    try {
        return await transactionOn(client, job, begin);
    } finally {
        client.release();
    }
}

/** Runs `job` in one transaction on `client`. */
export async function transactionOn<T>(client: pg.PoolClient, job: (client: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
    await client.query(begin);
    try {
        const result = await job(client);
        await client.query("COMMIT");
        return result;
    } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
    }
}

/** A PostgreSQL error's SQLSTATE, or a socket error's code. */
function codeOf(error: unknown): string | undefined {
    const code = (error as { code?: unknown } | undefined)?.code;
    return typeof code === "string" ? code : undefined;
}

/**
 * What a person can act on when the database cannot be used: it cannot be reached, it refuses the
 * credentials, it does not exist, or it lacks pgvector. Other errors are returned as they are.
 */
export function explainDatabaseError(error: unknown, url: string): unknown {
    if (error instanceof StorageUnavailableError) return error;
    const where = redactUrl(url);
    const code = codeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const user = (() => {
        try {
            return decodeURIComponent(new URL(url).username) || "(the default user)";
        } catch {
            return "(the default user)";
        }
    })();
    switch (code) {
        case "ECONNREFUSED":
        case "ENOTFOUND":
        case "EAI_AGAIN":
        case "EHOSTUNREACH":
        case "ENETUNREACH":
        case "ETIMEDOUT":
        case "ECONNRESET":
            return new StorageUnavailableError(`Cannot reach the database at ${where} (${code}). Check that PostgreSQL is running there and that databaseUrl (YIZHI_DATABASE_URL) is right.`, "The database cannot be reached.", { cause: error });
        case "28P01":
        case "28000":
            return new StorageUnavailableError(`The database at ${where} refused the credentials of user "${user}". Check the user name and password in databaseUrl (YIZHI_DATABASE_URL).`, "The database refused Yizhi's credentials.", { cause: error });
        case "3D000":
            return new StorageUnavailableError(`The database named in ${where} does not exist. Create it (createdb), or point databaseUrl (YIZHI_DATABASE_URL) at one that does.`, "The database does not exist.", { cause: error });
        case "58P01":
        case "0A000":
            if (/vector/.test(message)) {
                return new StorageUnavailableError(`The database at ${where} has no pgvector extension, which Yizhi needs for its vectors. Install pgvector on that server (https://github.com/pgvector/pgvector; or use the pgvector/pgvector image), then start Yizhi again.`, "The database has no pgvector extension.", { cause: error });
            }
            return error;
        case "42501":
            if (/extension/.test(message)) {
                return new StorageUnavailableError(`User "${user}" may not create the pgvector extension in the database at ${where}. Ask an administrator to run "CREATE EXTENSION vector;" in that database once, then start Yizhi again.`, "The database user may not create the pgvector extension.", { cause: error });
            }
            return error;
        default:
            if (/timeout exceeded when trying to connect/i.test(message)) {
                return new StorageUnavailableError(
                    "Every database connection of this Yizhi process is busy. Try again shortly, or allow it more with databasePoolSize (YIZHI_DATABASE_POOL_SIZE).",
                    "The database connections are all busy; try again shortly.", { cause: error },
                );
            }
            if (/timeout expired|Connection terminated/i.test(message)) {
                return new StorageUnavailableError(`Cannot reach the database at ${where}: ${message}. Check that PostgreSQL is running there and that databaseUrl (YIZHI_DATABASE_URL) is right.`, "The database cannot be reached.", { cause: error });
            }
            return error;
    }
}
