import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixture, makeTempDir, repoRoot } from "./helpers.js";
import { runCli, startCli } from "./runCli.js";
import { freePort } from "./testDatabases.js";
import { DEFAULT_EMBEDDING_MODEL } from "../src/config/schema.js";
import { testEnv, testSettings } from "./testConfig.js";

interface IngestJson {
    files: { path: string; status: string; chunks: number; reason?: string }[];
}

describe("the yizhi command", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let env: Record<string, string>;
    let docs: string;

    before(async () => {
        temp = await makeTempDir();
        env = testEnv(path.join(temp.dir, "storage"), { YIZHI_CHUNK_SIZE: "150", YIZHI_CHUNK_OVERLAP: "20" });
        docs = path.join(temp.dir, "docs");
        await fs.mkdir(path.join(docs, "sub"), { recursive: true });
        await fs.copyFile(fixture("zh/md/zh_llm_inference_optimization.md"), path.join(docs, "优化.md"));
        await fs.copyFile(fixture("zh/txt/zh_big5_encoded_sample.txt"), path.join(docs, "sub", "big5.txt"));
        await fs.copyFile(fixture("en/pdf/encrypted_user_password_test.pdf"), path.join(docs, "locked.pdf"));
        await fs.writeFile(path.join(docs, "program.exe"), Buffer.from([0x4d, 0x5a, 0x90, 0x00]));
        await fs.writeFile(path.join(docs, ".hidden.txt"), "hidden files are skipped");
    });
    after(() => temp.cleanup());

    it("ingest --json reports every file, goes on past failures and exits 1 when any failed", async () => {
        const result = await runCli(["ingest", docs, "--kb", "团队文档", "--json"], env);
        assert.equal(result.code, 1, result.stderr);
        const report = JSON.parse(result.stdout) as IngestJson;
        const byName = Object.fromEntries(report.files.map((file) => [path.basename(file.path), file]));
        assert.deepEqual(Object.keys(byName).sort(), ["big5.txt", "locked.pdf", "program.exe", "优化.md"]);
        assert.equal(byName["优化.md"]?.status, "ingested");
        assert.ok((byName["优化.md"]?.chunks ?? 0) > 1);
        assert.equal(byName["big5.txt"]?.status, "ingested");
        assert.equal(byName["locked.pdf"]?.status, "failed");
        assert.match(byName["locked.pdf"]?.reason ?? "", /password/);
        assert.equal(byName["program.exe"]?.status, "skipped", "a type Yizhi does not read is skipped, not failed");
        assert.match(byName["program.exe"]?.reason ?? "", /Unsupported file type \.exe/);
    });

    it("ingest of the same folder again changes nothing, and exits 0 for only good files", async () => {
        const again = await runCli(["ingest", path.join(docs, "优化.md"), path.join(docs, "sub"), "--kb", "团队文档", "--json"], env);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual((JSON.parse(again.stdout) as IngestJson).files.map((file) => file.status), ["unchanged", "unchanged"]);
        const plain = await runCli(["ingest", path.join(docs, "sub"), "--kb", "团队文档"], env);
        assert.equal(plain.code, 0);
        assert.match(plain.stdout, /0 ingested \(0 chunks\), 1 unchanged, 0 skipped, 0 failed/);
    });

    it("ingest of a folder whose only problem is files of other types exits 0, listing them skipped", async () => {
        const folder = path.join(temp.dir, "mixed");
        await fs.mkdir(folder);
        await fs.writeFile(path.join(folder, "notes.txt"), "会议纪要：下周一开会。");
        await fs.writeFile(path.join(folder, "data.json"), "{}");
        const result = await runCli(["ingest", folder, "--kb", "混合"], testEnv(path.join(temp.dir, "mixed-storage")));
        assert.equal(result.code, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /^skipped +.*data\.json: Unsupported file type \.json/m);
        assert.match(result.stdout, /1 ingested \(\d+ chunks\), 0 unchanged, 1 skipped, 0 failed/);
    });

    it("docs list, show and delete", async () => {
        const list = await runCli(["docs", "list", "--kb", "团队文档", "--json"], env);
        assert.equal(list.code, 0, list.stderr);
        const documents = JSON.parse(list.stdout) as { id: string; source: string; chunks: number; hash: string }[];
        assert.equal(documents.length, 2);
        for (const document of documents) {
            assert.match(document.id, /^[0-9a-f]{16}$/);
            assert.match(document.hash, /^[0-9a-f]{64}$/);
            assert.ok(document.chunks > 0);
        }
        const big5 = documents.find((document) => document.source.endsWith("big5.txt"))!;

        const show = await runCli(["docs", "show", big5.id, "--kb", "团队文档", "--json"], env);
        assert.equal(show.code, 0, show.stderr);
        const shown = JSON.parse(show.stdout) as { chunks: { index: number; text: string }[] };
        assert.equal(shown.chunks.length, big5.chunks);
        assert.deepEqual(shown.chunks.map((chunk) => chunk.index), shown.chunks.map((_, i) => i));
        assert.match(shown.chunks.map((chunk) => chunk.text).join(""), /維基大典/);
        for (const given of [big5.id.slice(0, 6), "big5.txt"]) {
            const byShortName = await runCli(["docs", "show", given, "--kb", "团队文档", "--json"], env);
            assert.equal(byShortName.code, 0, `${given}: ${byShortName.stderr}`);
            assert.equal((JSON.parse(byShortName.stdout) as { id: string }).id, big5.id, `a unique start of the id or the file name finds it: ${given}`);
        }

        const deleted = await runCli(["docs", "delete", "big5.txt", "--kb", "团队文档"], env);
        assert.equal(deleted.code, 0, deleted.stderr);
        const after = JSON.parse((await runCli(["docs", "list", "--kb", "团队文档", "--json"], env)).stdout) as { id: string }[];
        assert.deepEqual(after.map((document) => document.id), documents.filter((document) => document !== big5).map((document) => document.id));

        const missing = await runCli(["docs", "show", big5.id, "--kb", "团队文档"], env);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /has no document "/);
    });

    it("ask --json answers with sources, or refuses when nothing passes the threshold", async () => {
        const answered = await runCli(["ask", "大模型推理怎么优化？", "--kb", "团队文档", "--threshold", "-1", "--top-k", "2", "--json"], env);
        assert.equal(answered.code, 0, answered.stderr);
        const result = JSON.parse(answered.stdout) as { refused: boolean; answer: string; sources: { n: number; source: string }[] };
        assert.equal(result.refused, false);
        assert.ok(result.answer.length > 0);
        assert.deepEqual(result.sources.map((source) => source.n), [1, 2]);

        const refused = await runCli(["ask", "量子纠缠实验的原理", "--kb", "团队文档", "--mode", "hybrid", "--threshold", "1", "--lexical-threshold", "0.5", "--json"], env);
        assert.equal(refused.code, 0, refused.stderr);
        assert.deepEqual(
            (({ answer, refused: isRefused, sources }) => ({ answer, isRefused, sources }))(JSON.parse(refused.stdout) as { answer: string; refused: boolean; sources: unknown[] }),
            { answer: "根据已知信息无法回答该问题", isRefused: true, sources: [] },
        );
    });

    it("ask streams the answer, then lists the sources", async () => {
        const result = await runCli(["ask", "大模型推理怎么优化？", "--kb", "团队文档", "--threshold", "-1", "--top-k", "1"], env);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /\n\n\[1\] 优化\.md.*\(score -?\d\.\d{3}\)\n {4}\S/);
        assert.equal(result.stderr, "", "no status line when stderr is not a terminal");
    });

    it("ask on a terminal says on stderr what it waits on, erased before the answer; sources that share a file name show their folders", async () => {
        const storage = path.join(temp.dir, "same-names-storage");
        const folder = path.join(temp.dir, "same-names");
        const notes = { 销售部: "销售部的年假制度：员工每年享有十天年假，旺季前一个月申请。", 研发部: "研发部年假制度规定，入职满一年后享有十五天带薪假期。" };
        for (const [team, text] of Object.entries(notes)) {
            await fs.mkdir(path.join(folder, team), { recursive: true });
            await fs.writeFile(path.join(folder, team, "notes.txt"), text);
        }
        const terminalEnv = testEnv(storage);
        assert.equal((await runCli(["ingest", folder, "--kb", "同名"], terminalEnv)).code, 0);
        const { code, output } = await runOnTerminal(["ask", "年假制度", "--kb", "同名", "--mode", "bm25", "--lexical-threshold", "0"], terminalEnv, "");
        assert.equal(code, 0, output);
        assert.match(output, /Searching "同名"…/);
        assert.match(output, /Loading the chat model…/);
        // Each status is erased (carriage return, erase line) before the answer's first words.
        const erase = "\r\u001b[K";
        const answerStart = output.lastIndexOf(erase) + erase.length;
        assert.ok(output.slice(0, answerStart).includes("Writing the answer…") && /^[^\r\n]/.test(output.slice(answerStart)), output);
        assert.match(output, /\[\d\] 销售部\/notes\.txt \(score/);
        assert.match(output, /\[\d\] 研发部\/notes\.txt \(score/);
    });

    it("gives a clear error and exit code 1 for bad input, changing nothing stored", async () => {
        const storage = env.YIZHI_DATA_DIR!;
        const before = await fs.readdir(storage);
        const cases: [string[], RegExp][] = [
            [["ingest", docs, "--kb", "../escape"], /"\.\.\/escape" is not a valid knowledge-base name/],
            [["ask", "问题", "--kb", "no-such-kb"], /Knowledge base "no-such-kb" does not exist in .*storage\. Knowledge bases there: 团队文档\. Create it by ingesting into it/],
            [["ask", "问题", "--kb", "团队文挡"], /does not exist in .*storage\. Did you mean "团队文档"\?/],
            [["ask", "问题", "--kb", "团队文档", "--threshold", "high"], /option '--threshold <score>' argument 'high' is invalid\. Not a number\./],
            [["ask", "问题", "--kb", "团队文档", "--top-k", "2.5"], /option '--top-k <n>' argument '2\.5' is invalid\. Not a whole number\./],
            [["ask", "问题", "--kb", "团队文档", "--mode", "sideways"], /retrievalMode \(from --mode\): Invalid option: expected one of "dense"\|"bm25"\|"hybrid"/],
            [["ask", "问题", "--kb", "团队文档", "--threshold", "7"], /scoreThreshold \(from --threshold\)/],
            [["ingest", docs, "--kb", "团队文档", "--chunk-size", "3"], /chunkSize \(from --chunk-size\): Too small/],
            // A mistyped option is named as unknown, not reported as the required one it resembles.
            [["ask", "问题", "--kbb", "团队文档"], /unknown option '--kbb'\n\(Did you mean --kb\?\)/],
            [["ask", "问题"], /required option '--kb <name>' not specified/],
            [["docs", "show", "x"], /required option '--kb <name>' not specified/],
            [["ask", "", "--kb", "团队文档"], /The question is empty/],
            [["docs", "delete", "0123456789abcdef", "--kb", "团队文档"], /has no document "0123456789abcdef"/],
            [["ingest", path.join(temp.dir, "nowhere"), "--kb", "团队文档", "--json"], /nowhere" does not exist/],
        ];
        for (const [args, message] of cases) {
            const result = await runCli(args, env);
            assert.notEqual(result.code, 0, args.join(" "));
            assert.match(result.stderr + result.stdout, message, args.join(" "));
            assert.doesNotMatch(result.stderr, /\n\s+at /, `no stack trace for ${args.join(" ")}`);
        }
        assert.deepEqual(await fs.readdir(storage), before);
        assert.ok(!(await fs.readdir(temp.dir)).includes("escape"));
    });

    it("names the missing model file and how to get it", async () => {
        const missing = path.join(temp.dir, "models", "missing.gguf");
        const result = await runCli(["ask", "问题", "--kb", "团队文档"], { ...env, YIZHI_EMBEDDING_MODEL: missing });
        assert.equal(result.code, 1);
        assert.ok(result.stderr.includes(`The embedding model file ${missing} does not exist`));
        assert.match(result.stderr, /YIZHI_EMBEDDING_MODEL/);
    });

    it("models pull without a network fails at once, listing every missing model with where to get it, the name to save it under and its setting", async () => {
        // Closed ports on this machine stand for unreachable hosts: nothing leaves the machine.
        const llm = "http://127.0.0.1:9/models/answer-model.gguf";
        const embedding = "http://127.0.0.1:9/models/%E5%90%91%E9%87%8F.gguf";
        const result = await runCli(["models", "pull"], { ...env, YIZHI_LLM_MODEL: llm, YIZHI_EMBEDDING_MODEL: embedding });
        assert.equal(result.code, 1);
        const modelsDir = path.join(temp.dir, "models");
        assert.ok(result.stderr.startsWith("yizhi: Could not download 2 models (127.0.0.1 cannot be reached: it refused the connection)."), result.stderr);
        for (const [role, url, name, setting] of [["LLM", llm, "answer-model.gguf", "YIZHI_LLM_MODEL"], ["embedding", embedding, "向量.gguf", "YIZHI_EMBEDDING_MODEL"]] as const) {
            assert.ok(result.stderr.includes(`  ${role} model ${url}\n    from    ${url}\n    save as ${path.join(modelsDir, name)}\n    or set  ${setting} to the path`), result.stderr);
        }
        assert.doesNotMatch(result.stderr, /Downloading/, "nothing was started against a host that cannot be reached");
    });

    it("finds a model saved by hand under its own file name, for models pull and for answers", async () => {
        const modelsDir = path.join(temp.dir, "hand-saved-models");
        await fs.mkdir(modelsDir);
        // The default embedding model's own name, as a person saves it from its download page.
        await fs.copyFile(testSettings.embeddingModel, path.join(modelsDir, "bge-small-zh-v1.5-q8_0.gguf"));
        const handEnv = { ...env, YIZHI_MODELS_DIR: modelsDir, YIZHI_EMBEDDING_MODEL: DEFAULT_EMBEDDING_MODEL };
        const pulled = await runCli(["models", "pull"], handEnv);
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.ok(pulled.stdout.includes(`embedding model: ${path.join(modelsDir, "bge-small-zh-v1.5-q8_0.gguf")} (already there)`), pulled.stdout);
        const checked = await runCli(["models", "check"], handEnv);
        assert.equal(checked.code, 0, checked.stdout + checked.stderr);
        assert.match(checked.stdout, /^ok {3}embedding/m);
    });

    it("config prints the effective configuration with each value's origin", async () => {
        const keys = { YIZHI_API_KEY: "very-secret-key", YIZHI_EMBEDDING_API_KEY: "secret-embedding-key", YIZHI_LLM_API_KEY: "secret-llm-key", YIZHI_RERANKER_API_KEY: "secret-reranker-key" };
        const result = await runCli(["config", "--json", "--threads", "2"], { ...env, YIZHI_TOP_K: "7", ...keys });
        assert.equal(result.code, 0, result.stderr);
        for (const key of Object.values(keys)) assert.ok(!result.stdout.includes(key), "no key is ever printed");
        const { config, origins } = JSON.parse(result.stdout) as { config: Record<string, unknown>; origins: Record<string, string> };
        assert.equal(config.topK, 7);
        assert.equal(origins.topK, "env");
        assert.equal(config.threads, 2);
        assert.equal(origins.threads, "flag");
        assert.equal(config.scoreThreshold, 0.5);
        assert.equal(origins.scoreThreshold, "default");
        for (const key of ["apiKey", "embeddingApiKey", "llmApiKey", "rerankerApiKey"]) assert.equal(config[key], "(set)");

        const invalid = await runCli(["config"], { ...env, YIZHI_SCORE_THRESHOLD: "3" });
        assert.equal(invalid.code, 1);
        assert.match(invalid.stderr, /scoreThreshold \(from YIZHI_SCORE_THRESHOLD\)/);
    });

    it("kb list and kb delete", async () => {
        const list = JSON.parse((await runCli(["kb", "list", "--json"], env)).stdout) as { name: string; documents: number }[];
        assert.deepEqual(list.map((kb) => [kb.name, kb.documents]), [["团队文档", 1]]);
        const unconfirmed = await runCli(["kb", "delete", "团队文档"], env);
        assert.equal(unconfirmed.code, 1, "not a terminal, no --yes: nothing is deleted");
        assert.match(unconfirmed.stderr, /Not deleting knowledge base "团队文档" and its 1 documents without confirmation: add --yes\./);
        assert.equal((JSON.parse((await runCli(["kb", "list", "--json"], env)).stdout) as unknown[]).length, 1);
        const deleted = await runCli(["kb", "delete", "团队文档", "--yes"], env);
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.deepEqual(JSON.parse((await runCli(["kb", "list", "--json"], env)).stdout), []);
        const again = await runCli(["kb", "delete", "团队文档", "--yes"], env);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /does not exist/);
    });

    it("help marks the options a command needs as required", async () => {
        for (const args of [["ask", "--help"], ["ingest", "--help"], ["keys", "add", "--help"]]) {
            const help = await runCli(args, env);
            assert.equal(help.code, 0);
            assert.match(help.stdout, /--(kb <name>|role <role>)\s[\s\S]*?\(required\)/, args.join(" "));
        }
    });

    it("--version prints the version", async () => {
        const { version } = JSON.parse(await fs.readFile(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
        for (const flag of ["--version", "-V"]) {
            const result = await runCli([flag], env);
            assert.equal(result.code, 0);
            assert.equal(result.stdout.trim(), version);
        }
    });

    it("ingest of paths that do not exist says so and creates no knowledge base", async () => {
        const result = await runCli(["ingest", path.join(temp.dir, "no-such-folder"), "--kb", "nothing"], env);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /^yizhi: Nothing to ingest: ".*no-such-folder" does not exist\. No knowledge base was created or changed\.\n$/);
        await assert.rejects(fs.stat(path.join(temp.dir, "storage", "nothing")), { code: "ENOENT" });
    });

    it("serve on a port in use says so in one line and exits 1", async () => {
        const blocker = net.createServer();
        await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
        const { port } = blocker.address() as net.AddressInfo;
        try {
            const result = await runCli(["serve", "--port", String(port)], env);
            assert.equal(result.code, 1);
            assert.equal(result.stderr, `yizhi: Port ${port} on 127.0.0.1 is in use by another program; choose another with --port (or YIZHI_PORT).\n`);
        } finally {
            blocker.close();
        }
    });

    it("serve logs a line per request at the configured level, never the API key", async () => {
        const secret = "request-log-secret-key";
        const logOf = async (level: string) => {
            const port = await freePort();
            const child = startCli(["serve", "--port", String(port)], { ...env, YIZHI_LOG_LEVEL: level, YIZHI_API_KEY: secret });
            let stderr = "";
            child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
            const exited = new Promise((resolve) => child.on("close", resolve));
            try {
                // At level warn the "listening" line is not logged either: the health probe says when it is up.
                while (await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => !response.ok, () => true)) await new Promise((resolve) => setTimeout(resolve, 100));
                assert.equal((await fetch(`http://127.0.0.1:${port}/kbs`, { headers: { authorization: `Bearer ${secret}` } })).status, 200);
                assert.equal((await fetch(`http://127.0.0.1:${port}/kbs`, { headers: { authorization: "Bearer wrong-key" } })).status, 401);
                await new Promise((resolve) => setTimeout(resolve, 300));
            } finally {
                child.kill("SIGTERM");
                await exited;
            }
            return stderr.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { level: number; msg: string; req?: { method: string; url: string }; res?: { statusCode: number } });
        };
        const info = await logOf("info");
        const requests = info.filter((line) => line.req != null);
        assert.deepEqual(requests.map(({ level, req, res }) => [level, req!.method, req!.url, res!.statusCode]), [[30, "GET", "/kbs", 200], [40, "GET", "/kbs", 401]]);
        assert.match(requests[0]!.msg, /^GET \/kbs 200 \d+ ms$/);
        const warn = await logOf("warn");
        assert.deepEqual(warn.filter((line) => line.req != null).map(({ res }) => res!.statusCode), [401], "warn keeps only the failed request");
        assert.ok(![...info, ...warn].some((line) => JSON.stringify(line).includes(secret) || JSON.stringify(line).includes("wrong-key")), "no key is logged");
    });

    it("kb delete on a terminal asks first, and deletes only on yes", async () => {
        const storage = path.join(temp.dir, "terminal-storage");
        const terminalEnv = testEnv(storage);
        const folder = path.join(temp.dir, "terminal-docs");
        await fs.mkdir(folder);
        await fs.writeFile(path.join(folder, "a.txt"), "一份要被删除的文件。");
        assert.equal((await runCli(["ingest", folder, "--kb", "待删"], terminalEnv)).code, 0);
        const onTerminal = (answer: string) => runOnTerminal(["kb", "delete", "待删"], terminalEnv, `${answer}\n`);
        const declined = await onTerminal("n");
        assert.equal(declined.code, 1);
        assert.match(declined.output, /Delete knowledge base "待删" and its 1 documents\? This cannot be undone\. \[y\/N\]/);
        assert.match(declined.output, /Nothing was deleted/);
        await fs.access(path.join(storage, "待删", "kb.json"));
        const accepted = await onTerminal("y");
        assert.equal(accepted.code, 0, accepted.output);
        await assert.rejects(fs.access(path.join(storage, "待删")), { code: "ENOENT" });
    });
});

/** Runs `yizhi <args>` on a pseudo-terminal (util-linux's script(1)), as a person's shell would; stdout and stderr come out together. */
function runOnTerminal(args: readonly string[], env: Record<string, string>, input: string): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
        const command = [process.execPath, path.join(repoRoot, "dist", "src", "cli", "main.js"), ...args].map((part) => `'${part}'`).join(" ");
        const child = spawn("script", ["-qec", command, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
        let output = "";
        child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, output }));
        child.stdin.end(input);
    });
}
