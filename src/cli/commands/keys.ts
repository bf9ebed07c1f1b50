import { InvalidArgumentError, type Command } from "commander";
import { KeyStore } from "../../keys/keyStore.js";
import { roles, type Role } from "../../keys/principal.js";
import { configFromCommand, requiredOption } from "../globalOptions.js";
import { printJson } from "../output.js";

function parseRole(value: string): Role {
    const role = roles.find((known) => known === value);
    if (role == null) throw new InvalidArgumentError(`Must be one of: ${roles.join(", ")}.`);
    return role;
}

function parseKbs(value: string): "*" | string[] {
    if (value.trim() === "*") return "*";
    const kbs = value.split(",").map((name) => name.trim()).filter((name) => name !== "");
    if (kbs.length === 0) throw new InvalidArgumentError("Name at least one knowledge base, or '*' for all.");
    return kbs;
}

/** `yizhi keys add|list|remove`: the named API keys of the data directory, each with a role. */
export function registerKeysCommands(program: Command): void {
    const keys = program.command("keys").description("manage the server's API keys and their roles (admin, writer, reader)");

    requiredOption(keys.command("add")
        .description("create a key and print it (shown once); the server requires keys from then on")
        .argument("<name>", "who or what the key is for"),
    "--role <role>", `${roles.join(" | ")}: reader asks and lists, writer also uploads and deletes documents, admin also creates and deletes knowledge bases`, parseRole)
        .option("--kb <names>", "the knowledge bases it may use, comma-separated, or '*' for all (not needed for admin)", parseKbs)
        .option("--json", "print as JSON")
        .action(async (name: string, flags: { role: Role; kb?: "*" | string[]; json?: boolean }, command: Command) => {
            const store = KeyStore.of(configFromCommand(command).config.dataDir);
            const { key, summary } = await store.add(name, flags.role, flags.kb ?? (flags.role === "admin" ? "*" : []));
            if (flags.json === true) return printJson({ key, ...summary });
            const where = summary.kbs === "*" ? "every knowledge base" : summary.kbs.join(", ");
            process.stdout.write(`${key}\n`);
            process.stderr.write(`Key "${name}" (${summary.role}, ${where}). It is shown only now: give it to its holder, who sends it as Authorization: Bearer <key>.\n`);
        });

    keys.command("list")
        .description("list the keys: name, role, knowledge bases, created (never the keys themselves)")
        .option("--json", "print as JSON")
        .action(async (flags: { json?: boolean }, command: Command) => {
            const summaries = await KeyStore.of(configFromCommand(command).config.dataDir).list();
            if (flags.json === true) return printJson(summaries);
            if (summaries.length === 0) process.stdout.write("No keys: the server needs none (unless apiKey is set).\n");
            for (const key of summaries) process.stdout.write(`${key.name}\t${key.role}\t${key.kbs === "*" ? "*" : key.kbs.join(",")}\t${key.createdAt}\n`);
        });

    keys.command("remove")
        .description("remove a key: it stops working at once, also on a running server")
        .argument("<name>", "the key's name")
        .action(async (name: string, _flags: object, command: Command) => {
            await KeyStore.of(configFromCommand(command).config.dataDir).remove(name);
            process.stdout.write(`Removed key "${name}".\n`);
        });
}
