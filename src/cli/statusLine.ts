import { shortenMiddle } from "./ingestProgressBar.js";

/**
 * One line on a terminal's stderr saying what a command is waiting on, with the seconds it has
 * waited, rewritten in place and erased when the wait ends. Writes nothing when stderr is not a
 * terminal, so piped output and scripts see none of it.
 */
export class StatusLine {
    private text: string | undefined;
    private since = 0;
    private timer: NodeJS.Timeout | undefined;

    public constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

    /** Shows `text` (replacing what was shown), its seconds counted from now. */
    public show(text: string): void {
        if (this.stream.isTTY !== true) return;
        this.text = text;
        this.since = performance.now();
        this.draw();
        this.timer ??= setInterval(() => this.draw(), 1_000);
        this.timer.unref();
    }

    /** Erases the line; a later `show` brings it back. */
    public clear(): void {
        if (this.timer != null) clearInterval(this.timer);
        this.timer = undefined;
        if (this.text == null) return;
        this.text = undefined;
        this.stream.write("\r\x1b[K");
    }

    private draw(): void {
        if (this.text == null) return;
        const seconds = Math.floor((performance.now() - this.since) / 1000);
        const line = `${this.text}${seconds > 0 ? ` ${seconds}s` : ""}`;
        this.stream.write(`\r\x1b[K${shortenMiddle(line, (this.stream.columns || 80) - 1)}`);
    }
}
