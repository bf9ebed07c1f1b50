import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./helpers.js";

export interface CliResult {
    code: number | null;
    /** The signal that ended it, when one did (`code` is then null). */
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}

/** The built `yizhi` bin (`npm test` builds first), run as a person runs it. */
const cliPath = path.join(repoRoot, "dist", "src", "cli", "main.js");

/** Starts `yizhi <args>` as its own process. */
export function startCli(args: readonly string[], env: Record<string, string>): ChildProcess {
    return spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs `yizhi <args>` to completion. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
    const child = startCli(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    return new Promise((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
}
