import { EmbeddedStorage } from "../src/store/embedded/embeddedStorage.js";
import { makeTempDir } from "./helpers.js";
import { describeStorageContract } from "./storageContract.js";

describeStorageContract("embedded", async () => {
    const { dir, cleanup } = await makeTempDir("yizhi-embedded-");
    return { storage: new EmbeddedStorage({ dataDir: dir, hnsw: { m: 16, efConstruction: 100, efSearch: 64 } }), cleanup };
});
