import type { Config } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import { EmbeddedStorage } from "./embedded/embeddedStorage.js";
import { PostgresStorage } from "./postgres/postgresStorage.js";
import type { Storage } from "./storage.js";

/** The storage backend the configuration names. */
export function createStorage(config: Config, backend: Config["storage"] = config.storage): Storage {
    const hnsw = { m: config.hnswM, efConstruction: config.hnswEfConstruction, efSearch: config.hnswEfSearch };
    if (backend === "file") return new EmbeddedStorage({ dataDir: config.dataDir, hnsw });
    if (config.databaseUrl == null) throw new ConfigError("The postgres storage needs databaseUrl (YIZHI_DATABASE_URL): a postgres:// URL of a PostgreSQL with pgvector.");
    return new PostgresStorage({ url: config.databaseUrl, poolSize: config.databasePoolSize, hnsw });
}
