import { decodeText } from "../decode.js";
import type { LoadedSection, Loader } from "./types.js";

/**
 * Groups lines into sections under the headings above them. Level 0 is for a heading above all
 * others (an HTML page's title). A section holding nothing but its heading is dropped: the
 * sections below it carry that heading in their paths.
 */
export class SectionBuilder {
    private readonly sections: LoadedSection[] = [];
    private readonly headings: { level: number; text: string }[] = [];
    private lines: string[] = [];
    private hasBody = false;

    /** `line` is how the heading is written in the section's text; the heading text by default. */
    public heading(level: number, text: string, line = text): void {
        if (text === "") {
            this.line(line);
            return;
        }
        this.flush();
        while ((this.headings.at(-1)?.level ?? -1) >= level) {
            this.headings.pop();
        }
        this.headings.push({ level, text });
        this.lines = [line];
    }

    public line(text: string): void {
        this.lines.push(text);
        this.hasBody ||= text.trim() !== "";
    }

    public finish(): LoadedSection[] {
        this.flush();
        return this.sections;
    }

    private flush(): void {
        if (this.hasBody) {
            this.sections.push({ text: this.lines.join("\n").trim(), headingPath: this.headings.map((h) => h.text) });
        }
        this.lines = [];
        this.hasBody = false;
    }
}

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Markdown, one section per ATX heading (`#` to `######`); `#` lines inside fenced code are code. */
export const loadMarkdown: Loader = async (bytes) => {
    const { text, encoding } = decodeText(bytes);
    const builder = new SectionBuilder();
    let fence: string | undefined;
    for (const line of text.split(/\r?\n/)) {
        if (fence !== undefined) {
            if (closesFence(line, fence)) {
                fence = undefined;
            }
            builder.line(line);
            continue;
        }
        fence = FENCE.exec(line)?.[1];
        const heading = fence === undefined ? ATX_HEADING.exec(line) : null;
        if (heading?.[1] !== undefined) {
            // A closing run of #s ("## Title ##") is not part of the heading text.
            const headingText = (heading[2] ?? "").replace(/(?:^|[ \t]+)#+[ \t]*$/, "").trim();
            builder.heading(heading[1].length, headingText, line);
        } else {
            builder.line(line);
        }
    }
    return { sections: builder.finish(), encoding };
};

/** A closing fence uses the opening fence's character, at least as many times, and nothing else. */
function closesFence(line: string, fence: string): boolean {
    const run = FENCE.exec(line)?.[1];
    return run !== undefined && run[0] === fence[0] && run.length >= fence.length && line.trim() === run;
}
