import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import { Parser } from "htmlparser2";
import { decodeText } from "../decode.js";
import { limitExceeded, type ParseLimits } from "../limits.js";
import { SectionBuilder } from "./markdown.js";
import type { LoadedSection, Loader } from "./types.js";

/** The little of the DOM this module reads (the project is compiled without the DOM typings). */
export interface DomNode {
    readonly nodeType: number;
    readonly nodeName: string;
    readonly textContent: string | null;
    readonly childNodes: Iterable<DomNode>;
}

interface DomDocument {
    readonly title: string;
    readonly documentElement: DomNode;
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

const HEADING_LEVELS: Readonly<Record<string, number>> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };

/** Elements that start a new line of text; everything else is inline. */
const BLOCK_ELEMENTS = new Set([
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "legend", "li", "main", "nav",
    "p", "section", "summary",
]);

const NEVER_TEXT = new Set(["head", "title", "script", "style", "noscript", "template", "iframe", "object", "svg", "math"]);
/** When readability finds no article, the whole page is read, less its navigation. */
const NOT_CONTENT = new Set([...NEVER_TEXT, "nav"]);

/** Receives what a DOM walk finds: lines of text, and headings. */
interface TextSink {
    line(text: string): void;
    heading(level: number, text: string): void;
}

/**
 * Walks a DOM in document order, turning block elements into lines: list items get "- " or "1. ",
 * a table row becomes its cells joined by " | ", whitespace inside a line collapses as a browser
 * would show it.
 */
class DomTextWalker {
    private inline = "";
    private prefix = "";

    public constructor(private readonly sink: TextSink, private readonly skip: ReadonlySet<string>) {}

    public walk(node: DomNode, depth = 0): void {
        for (const child of node.childNodes) {
            this.visit(child, depth);
        }
    }

    public finish(): void {
        this.breakLine();
    }

    private visit(node: DomNode, depth: number): void {
        if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) {
            this.inline += node.textContent ?? "";
            return;
        }
        if (node.nodeType !== ELEMENT_NODE) {
            return;
        }
        const tag = node.nodeName.toLowerCase();
        if (this.skip.has(tag)) {
            return;
        }
        const level = HEADING_LEVELS[tag];
        if (level !== undefined) {
            this.breakLine();
            this.sink.heading(level, collapseWhitespace(node.textContent ?? ""));
        } else if (tag === "br") {
            this.breakLine();
        } else if (tag === "pre") {
            this.breakLine();
            for (const line of (node.textContent ?? "").split(/\r?\n/)) {
                if (line.trim() !== "") {
                    this.sink.line(line.trimEnd());
                }
            }
        } else if (tag === "ul" || tag === "ol") {
            this.list(node, tag === "ol", depth);
        } else if (tag === "table") {
            this.breakLine();
            for (const row of tableRows(node)) {
                const cells = elementChildren(row, ["td", "th"]).map((cell) => this.cellText(cell));
                if (cells.some((cell) => cell !== "")) {
                    this.sink.line(cells.join(" | ").trimEnd());
                }
            }
        } else if (BLOCK_ELEMENTS.has(tag)) {
            this.breakLine();
            this.walk(node, depth);
            this.breakLine();
        } else {
            this.walk(node, depth);
        }
    }

    private list(list: DomNode, ordered: boolean, depth: number): void {
        let number = 0;
        for (const child of list.childNodes) {
            if (child.nodeName.toLowerCase() !== "li") {
                this.visit(child, depth);
                continue;
            }
            number++;
            this.breakLine();
            this.prefix = "  ".repeat(depth) + (ordered ? `${number}. ` : "- ");
            this.walk(child, depth + 1);
            this.breakLine();
            this.prefix = "";
        }
    }

    /** A cell's own lines (nested lists or tables included) read as one run of text. */
    private cellText(cell: DomNode): string {
        const lines: string[] = [];
        const walker = new DomTextWalker({ line: (text) => lines.push(text), heading: (_level, text) => lines.push(text) }, this.skip);
        walker.walk(cell);
        walker.finish();
        return lines.join(" ");
    }

    private breakLine(): void {
        const text = collapseWhitespace(this.inline);
        if (text !== "") {
            this.sink.line(this.prefix + text);
            this.prefix = "";
        }
        this.inline = "";
    }
}

function collapseWhitespace(text: string): string {
    return text.replace(/\s+/g, " ").trim();
}

function elementChildren(node: DomNode, tags: readonly string[]): DomNode[] {
    return [...node.childNodes].filter((child) => child.nodeType === ELEMENT_NODE && tags.includes(child.nodeName.toLowerCase()));
}

/** The table's own rows, not those of tables nested in its cells. */
function tableRows(table: DomNode): DomNode[] {
    return elementChildren(table, ["tr", "thead", "tbody", "tfoot"]).flatMap((child) =>
        child.nodeName.toLowerCase() === "tr" ? [child] : elementChildren(child, ["tr"]),
    );
}

/**
 * Sections of the text under `root`, split at h1..h6. A `title` is the heading above them all
 * (an h1 repeating it is not nested under it again).
 */
export function domToSections(root: DomNode, options: { title?: string; skip?: ReadonlySet<string> } = {}): LoadedSection[] {
    const builder = new SectionBuilder();
    const title = options.title === undefined ? "" : collapseWhitespace(options.title);
    if (title !== "") {
        builder.heading(0, title);
    }
    const sink: TextSink = {
        line: (text) => builder.line(text),
        heading: (level, text) => {
            if (text !== title) {
                builder.heading(level, text);
            }
        },
    };
    const walker = new DomTextWalker(sink, options.skip ?? NEVER_TEXT);
    walker.walk(root);
    walker.finish();
    return builder.finish();
}

/** Below this much text, readability is taken to have missed the page's content. */
const MIN_ARTICLE_CHARS = 50;

/** The charset a page declares in its first 2 KB (`<meta charset>`, `http-equiv`, or an XML declaration). */
function declaredCharset(bytes: Uint8Array): string | undefined {
    const head = Buffer.from(bytes.subarray(0, 2048)).toString("latin1");
    return /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head)?.[1] ?? /<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)/i.exec(head)?.[1];
}

/** linkedom makes a fragment's first element the document's root, dropping the rest, unless it is wrapped in <html>. */
function parseDocument(html: string): DomDocument {
    const { document }: { document: DomDocument } = parseHTML(/<html[\s>]/i.test(html) ? html : `<html>${html}</html>`);
    return document;
}

/**
 * readability's article, or null when it finds none. It throws on some bare fragments (a saved
 * article's <div> without <html> or <body>); the whole fragment is the content then.
 */
function findMainContent(page: DomDocument): ReturnType<Readability<DomNode>["parse"]> {
    try {
        return new Readability(page, { serializer: (node: DomNode) => node }).parse();
    } catch {
        return null;
    }
}

/**
 * Throws when elements nest deeper than `limits.maxNestingDepth`: a DOM's cost, and its walk's
 * recursion, grow with the depth (100,000 nested <div>s took minutes). htmlparser2's tokenizer
 * is linear and closes elements the way a browser implies, so the count is the depth the DOM gets.
 */
export function checkNesting(html: string, limits: ParseLimits): void {
    let depth = 0;
    const tooDeep = limitExceeded("maxNestingDepth", limits, "nests its elements deeper than allowed");
    const parser = new Parser({
        onopentag() {
            if (++depth > limits.maxNestingDepth) throw tooDeep;
        },
        onclosetag() {
            depth--;
        },
    });
    parser.end(html);
}

/**
 * A web page's main content (found by Mozilla's readability, as Firefox's reader view does), or the
 * whole page when readability finds none, with the page title as the top heading.
 */
export const loadHtml: Loader = async (bytes, _fileName, limits) => {
    const { text, encoding } = decodeText(bytes, { declaredCharset: declaredCharset(bytes) });
    checkNesting(text, limits);
    // readability rewrites the document it reads, so the fallback parses the page again.
    const article = findMainContent(parseDocument(text));
    if (article?.content && (article.textContent ?? "").trim().length >= MIN_ARTICLE_CHARS) {
        return { sections: domToSections(article.content, { title: article.title ?? undefined }), encoding };
    }
    const document = parseDocument(text);
    return { sections: domToSections(document.documentElement, { title: document.title, skip: NOT_CONTENT }), encoding };
};
