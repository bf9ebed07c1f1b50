import type pg from "pg";
import { StorageUnavailableError } from "../../errors.js";
import { inTransaction } from "./database.js";
import { MIGRATIONS, type Migration } from "./schema.js";

/** The advisory lock that lets one Yizhi at a time migrate a database ("Yizhi" in ASCII). */
const MIGRATION_LOCK = 0x5969_7a68_69;

/**
 * Brings the database's schema up to date: the migrations it lacks, in order, in one transaction
 * under an advisory lock, so that several Yizhi servers starting at once migrate it once. Returns
 * the versions it applied.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
    return inTransaction(pool, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
        await client.query(`CREATE TABLE IF NOT EXISTS yizhi_schema_migrations (
            version integer PRIMARY KEY,
            description text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )`);
        const { rows } = await client.query<{ version: number }>("SELECT version FROM yizhi_schema_migrations");
        const applied = new Set(rows.map((row) => row.version));
        const known = Math.max(0, ...MIGRATIONS.map((migration) => migration.version));
        const newest = Math.max(0, ...applied);
        if (newest > known) {
            throw new StorageUnavailableError(`The database's schema is at version ${newest}, made by a newer Yizhi than this one (which knows up to ${known}). Upgrade this Yizhi.`, "The database was set up by a newer Yizhi.");
        }
        const done: number[] = [];
        for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
            if (applied.has(migration.version)) continue;
            await client.query(migration.sql);
            await client.query("INSERT INTO yizhi_schema_migrations (version, description) VALUES ($1, $2)", [migration.version, migration.description]);
            done.push(migration.version);
        }
        return done;
    });
}
