import { PostgresStorage } from "../src/store/postgres/postgresStorage.js";
import { describeStorageContract } from "./storageContract.js";
import { vectorDatabase } from "./testDatabases.js";

describeStorageContract("postgres", async () => {
    const database = await vectorDatabase();
    const storage = new PostgresStorage({ url: database.url, poolSize: 4, hnsw: { m: 16, efConstruction: 100, efSearch: 64 } });
    return {
        storage,
        cleanup: async () => {
            await storage.close();
            await database.stop();
        },
    };
});
