import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UnreadableFileError } from "../../src/errors.js";
import type { ParseLimits } from "../limits.js";
import { defaultOcrSettings, type OcrSettings } from "../ocr/ocrEngine.js";
import type { OcrProgress } from "../ocr/ocrReader.js";
import type { ParsedFile, ParseRequest } from "../parseFile.js";
import type { SplitterOptions } from "../splitter.js";
import type { ParseAnswer, ParseJob } from "./protocol.js";

/** Reads files into chunks. */
export interface DocumentParser {
    /**
     * Resolves with the file's chunks; rejects with `UnreadableFileError` (and only that) when the
     * file cannot be read. `onOcrProgress` hears of each page read by OCR.
     */
    parse(request: ParseRequest, splitter: SplitterOptions, onOcrProgress?: (progress: OcrProgress) => void): Promise<ParsedFile>;
}

export interface ParserPoolOptions {
    /** Parser processes running at most; more files wait for one (default 2). */
    processes?: number;
    /**
     * Longest one file may take to read, in ms, or, for a file read by OCR, one page; then its
     * process is killed (default 120,000).
     */
    timeoutMs?: number;
    /** Resident memory one parser process may use, in bytes; then it is killed (default 2 GiB: OCR of a page takes 1.1–1.3 GB). */
    memoryBytes?: number;
    limits: ParseLimits;
    /** Default `defaultOcrSettings`. */
    ocr?: OcrSettings;
}

const MEMORY_POLL_MS = 50;
/** How much of a parser's stderr is kept, to tell a V8 out-of-memory from another crash. */
const STDERR_TAIL_CHARS = 4096;

// The entry beside this module, as .ts under tsx (tests) and as .js once built.
const here = fileURLToPath(import.meta.url);
const entry = path.join(path.dirname(here), `parserProcess${path.extname(here)}`);

interface Worker {
    child: ChildProcess;
    stderrTail: string;
    alive: boolean;
}

/**
 * Reads files in child processes, so that a file that would take the memory, the time or the
 * life of the process that reads it (a zip bomb, a PDF that loops, a parser that crashes) fails
 * alone: the server goes on answering, the batch goes on with its next file.
 *
 * Child processes rather than worker threads: a V8 fatal error or a native crash in a worker
 * thread ends the whole process, and a thread's `resourceLimits` do not count Buffers.
 */
export class ParserPool implements DocumentParser {
    private readonly processes: number;
    private readonly timeoutMs: number;
    private readonly memoryBytes: number;
    private readonly idle: Worker[] = [];
    private readonly all = new Set<Worker>();
    private readonly waiting: ((worker: Worker) => void)[] = [];
    private started = 0;
    private nextId = 1;
    private disposed = false;

    public constructor(private readonly options: ParserPoolOptions) {
        this.processes = options.processes ?? 2;
        this.timeoutMs = options.timeoutMs ?? 120_000;
        this.memoryBytes = options.memoryBytes ?? 2048 * 1024 * 1024;
    }

    public async parse(request: ParseRequest, splitter: SplitterOptions, onOcrProgress?: (progress: OcrProgress) => void): Promise<ParsedFile> {
        const worker = await this.acquire();
        try {
            const settings = { limits: this.options.limits, splitter, ocr: this.options.ocr ?? defaultOcrSettings };
            return await this.run(worker, { id: this.nextId++, request, settings }, onOcrProgress);
        } finally {
            this.giveBack(worker);
        }
    }

    /** Ends every parser process, and waits until they have exited; files being read fail. */
    public async dispose(): Promise<void> {
        this.disposed = true;
        this.idle.length = 0;
        // `all` holds the processes that have not exited yet; one without a pid never started. An
        // idle one is unreferenced: referenced again, the event loop waits for its exit.
        const exited = [...this.all].filter(({ child }) => child.pid != null)
            .map(({ child }) => new Promise<void>((resolve) => {
                child.ref();
                child.once("exit", () => resolve());
            }));
        for (const worker of this.all) this.kill(worker);
        await Promise.all(exited);
    }

    private acquire(): Promise<Worker> {
        if (this.disposed) return Promise.reject(new UnreadableFileError("The server is shutting down; the file was not read."));
        const worker = this.idle.pop();
        if (worker != null) return Promise.resolve(this.wake(worker));
        if (this.started < this.processes) return Promise.resolve(this.spawn());
        return new Promise((resolve) => this.waiting.push(resolve));
    }

    private giveBack(worker: Worker): void {
        if (!worker.alive) {
            this.started--;
            const next = this.waiting.shift();
            if (next != null) next(this.spawn());
            return;
        }
        const next = this.waiting.shift();
        if (next != null) {
            next(worker);
            return;
        }
        if (this.disposed) {
            this.kill(worker);
            return;
        }
        // An idle parser does not keep the process alive.
        worker.child.unref();
        worker.child.channel?.unref();
        this.idle.push(worker);
    }

    private wake(worker: Worker): Worker {
        worker.child.ref();
        worker.child.channel?.ref();
        return worker;
    }

    private spawn(): Worker {
        this.started++;
        const memoryMb = Math.max(64, Math.floor(this.memoryBytes / (1024 * 1024)));
        const child = fork(entry, [], {
            execArgv: [...process.execArgv.filter((arg) => !arg.startsWith("--max-old-space-size")), `--max-old-space-size=${memoryMb}`],
            serialization: "advanced",
            stdio: ["ignore", "ignore", "pipe", "ipc"],
        });
        const worker: Worker = { child, stderrTail: "", alive: true };
        child.stderr?.setEncoding("utf8").on("data", (text: string) => {
            worker.stderrTail = (worker.stderrTail + text).slice(-STDERR_TAIL_CHARS);
        });
        this.all.add(worker);
        child.on("exit", () => {
            worker.alive = false;
            this.all.delete(worker);
        });
        child.on("error", () => {
            worker.alive = false;
        });
        return worker;
    }

    private kill(worker: Worker): void {
        worker.alive = false;
        worker.child.kill("SIGKILL");
    }

    private run(worker: Worker, job: ParseJob, onOcrProgress?: (progress: OcrProgress) => void): Promise<ParsedFile> {
        const { child } = worker;
        return new Promise<ParsedFile>((resolve, reject) => {
            let settled = false;
            const finish = (outcome: () => void) => {
                if (settled) return;
                settled = true;
                clearTimeout(timer);
                clearInterval(memoryPoll);
                child.off("message", onMessage);
                child.off("exit", onExit);
                outcome();
            };
            const stop = (reason: string) => finish(() => {
                this.kill(worker);
                reject(new UnreadableFileError(reason));
            });
            const onMessage = (answer: ParseAnswer) => {
                if (answer.id !== job.id) return;
                if ("progress" in answer) {
                    // Each page read starts the time limit again: it bounds a page, not a 500-page scan.
                    timer.refresh();
                    onOcrProgress?.(answer.progress);
                    return;
                }
                finish(() => (answer.ok ? resolve(answer.parsed) : reject(new UnreadableFileError(answer.reason))));
            };
            const onExit = (code: number | null, signal: NodeJS.Signals | null) => finish(() => {
                worker.alive = false;
                reject(new UnreadableFileError(this.crashReason(worker, code, signal)));
            });
            const timer = setTimeout(() => stop(
                `Reading the file (or one of its pages, by OCR) took longer than ${Math.round(this.timeoutMs / 1000)} s, so it was stopped (setting parseTimeoutSeconds).`,
            ), this.timeoutMs);
            const memoryPoll = setInterval(() => {
                void residentBytes(child.pid).then((bytes) => {
                    if (bytes != null && bytes > this.memoryBytes) stop(this.memoryReason());
                });
            }, MEMORY_POLL_MS);
            child.on("message", onMessage);
            child.on("exit", onExit);
            if (!worker.alive || !child.connected) {
                onExit(child.exitCode, child.signalCode);
                return;
            }
            child.send(job, (error) => {
                if (error != null) stop(`The file could not be handed to a parser process: ${error.message}`);
            });
        });
    }

    private memoryReason(): string {
        return `Reading the file needed more than ${Math.round(this.memoryBytes / (1024 * 1024))} MB of memory, so it was stopped (setting parseMemoryMb).`;
    }

    private crashReason(worker: Worker, code: number | null, signal: NodeJS.Signals | null): string {
        if (this.disposed) return "Reading the file was stopped: Yizhi is shutting down.";
        if (/heap out of memory|allocation failed/i.test(worker.stderrTail)) return this.memoryReason();
        const how = signal != null ? `signal ${signal}` : `exit code ${String(code)}`;
        return `The parser crashed on this file (${how}); the file is damaged, or made to break parsers.`;
    }
}

/** A process's resident memory, from /proc on Linux; undefined elsewhere or once it has exited. */
async function residentBytes(pid: number | undefined): Promise<number | undefined> {
    if (pid == null || process.platform !== "linux") return undefined;
    try {
        const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
        const kilobytes = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
        return kilobytes != null ? Number(kilobytes) * 1024 : undefined;
    } catch {
        return undefined;
    }
}
