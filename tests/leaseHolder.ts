/*
 * A writer that dies with its transaction open: takes the lease of knowledge base argv[3] in the
 * database at argv[2], begins a transaction that adds a document, says "holding", and waits to be
 * killed. Run by postgresCoordination.test.ts.
 */
import pg from "pg";
import { WriterLease } from "../src/store/postgres/writerLease.js";

const [url, kbId] = process.argv.slice(2);
const client = new pg.Client({ connectionString: url });
await client.connect();
const lease = await WriterLease.acquire(client as pg.PoolClient, Number(kbId), "team", { waitMs: 0 });
await lease.use(async (held) => {
    await held.query("BEGIN");
    await held.query("INSERT INTO yizhi_documents (kb_id, id, hash, record, labels) VALUES ($1, 'half-written', 'h', '{}', '{}')", [Number(kbId)]);
});
process.stdout.write("holding\n");
setInterval(() => undefined, 60_000);
