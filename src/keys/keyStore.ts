import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { KeyError } from "../errors.js";
import { writeFileAtomic } from "../store/durableFiles.js";
import { roles, type Principal, type Role } from "./principal.js";

/** Where the keys of a data directory are kept (a name no knowledge base can have). */
export const KEYS_FILE = ".keys.json";

const storedKeySchema = z.object({
    name: z.string(),
    role: z.enum(roles),
    kbs: z.union([z.literal("*"), z.array(z.string())]),
    /** The public part of the key, to find it without trying every hash. */
    id: z.string(),
    /** SHA-256 of the whole key: a random 256-bit secret needs no slow hash, and nothing stored can be used as a key. */
    sha256: z.string(),
    createdAt: z.string(),
});
const keysFileSchema = z.object({ version: z.literal(1), keys: z.array(storedKeySchema) });

export type StoredKey = z.infer<typeof storedKeySchema>;
/** A key as listings show it: never its secret or hash. */
export type KeySummary = Omit<StoredKey, "sha256">;

const keyPattern = /^yz_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;
const namePattern = /^[\p{L}\p{N}][\p{L}\p{N}_.@-]{0,63}$/u;

/** SHA-256 of a key: how keys are kept, and compared in constant time (equal lengths, whatever the input). */
export const digestOf = (key: string): Buffer => createHash("sha256").update(key).digest();

/**
 * The named API keys of a data directory (`<dataDir>/.keys.json`, readable by its owner only),
 * each with a role over all knowledge bases or some. Keys are hashed at rest and compared in
 * constant time. The file is re-read when it changes, so `yizhi keys` takes effect on a running
 * server.
 */
export class KeyStore {
    private cached: { mtimeMs: number; keys: StoredKey[] } | undefined;

    public constructor(public readonly file: string) {}

    public static of(dataDir: string): KeyStore {
        return new KeyStore(path.join(dataDir, KEYS_FILE));
    }

    public async list(): Promise<KeySummary[]> {
        return (await this.read()).map(({ sha256: _hash, ...summary }) => summary);
    }

    /** Whether any key exists: then the server requires one. */
    public async any(): Promise<boolean> {
        return (await this.read()).length > 0;
    }

    /** Creates a key and returns it: the only time it is shown. */
    public async add(name: string, role: Role, kbs: "*" | readonly string[]): Promise<{ key: string; summary: KeySummary }> {
        if (!namePattern.test(name)) throw new KeyError(`"${name}" is not a valid key name: use 1-64 letters, digits, "_", ".", "@" or "-".`);
        if (role !== "admin" && kbs !== "*" && kbs.length === 0) throw new KeyError(`A ${role} key needs the knowledge bases it may use: --kb <names> (or --kb '*' for all).`);
        const keys = await this.read();
        if (keys.some((key) => key.name === name)) throw new KeyError(`A key named "${name}" exists already; remove it first (yizhi keys remove ${name}).`);
        const id = randomBytes(4).toString("hex");
        const key = `yz_${id}_${randomBytes(32).toString("base64url")}`;
        const stored: StoredKey = { name, role, kbs: role === "admin" ? "*" : kbs === "*" ? "*" : [...kbs], id, sha256: digestOf(key).toString("hex"), createdAt: new Date().toISOString() };
        await this.write([...keys, stored]);
        const { sha256: _hash, ...summary } = stored;
        return { key, summary };
    }

    public async remove(name: string): Promise<void> {
        const keys = await this.read();
        if (!keys.some((key) => key.name === name)) throw new KeyError(`There is no key named "${name}". List them with: yizhi keys list`);
        await this.write(keys.filter((key) => key.name !== name));
    }

    /** The principal a presented key belongs to, or undefined when it is no key of this store. */
    public async verify(presented: string): Promise<Principal | undefined> {
        const id = keyPattern.exec(presented)?.[1];
        if (id == null) return undefined;
        const presentedDigest = digestOf(presented);
        for (const key of await this.read()) {
            if (key.id !== id) continue;
            const stored = Buffer.from(key.sha256, "hex");
            if (stored.length === presentedDigest.length && timingSafeEqual(stored, presentedDigest)) return { name: key.name, role: key.role, kbs: key.kbs };
        }
        return undefined;
    }

    private async read(): Promise<StoredKey[]> {
        let mtimeMs: number;
        try {
            mtimeMs = (await fs.stat(this.file)).mtimeMs;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
            throw error;
        }
        if (this.cached?.mtimeMs === mtimeMs) return this.cached.keys;
        let content: unknown;
        try {
            content = JSON.parse(await fs.readFile(this.file, "utf8"));
        } catch {
            content = undefined;
        }
        const parsed = keysFileSchema.safeParse(content);
        if (!parsed.success) throw new KeyError(`The keys file (${KEYS_FILE} in the data directory) is damaged; fix or remove it, then add the keys again.`);
        this.cached = { mtimeMs, keys: parsed.data.keys };
        return parsed.data.keys;
    }

    private async write(keys: StoredKey[]): Promise<void> {
        await fs.mkdir(path.dirname(this.file), { recursive: true });
        // Readable by its owner only, from the moment it exists.
        await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`, 0o600);
        this.cached = undefined;
    }
}
