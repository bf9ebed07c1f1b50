import { OfficeParser, type OfficeContentNode, type OfficeError, type SupportedFileType } from "officeparser";
import { UnreadableFileError } from "../../src/errors.js";
import { limitExceeded, type ParseLimits } from "../limits.js";
import { checkArchive } from "./archive.js";
import { checkTable, rowsToSections } from "./csv.js";
import { SectionBuilder } from "./markdown.js";
import type { LoadedSection, Loader } from "./types.js";

/** Formats read through officeparser, with what a person calls each when it cannot be read. */
const formats = {
    pptx: "PowerPoint .pptx presentation (an older .ppt must be saved as .pptx first)",
    odt: "OpenDocument text (.odt)",
    ods: "OpenDocument spreadsheet (.ods)",
    odp: "OpenDocument presentation (.odp)",
    rtf: "RTF document",
} as const satisfies Partial<Record<SupportedFileType, string>>;
type OfficeFormat = keyof typeof formats;

/** How speaker notes are introduced in a slide's text. */
const NOTES_LABEL = "备注：";

/**
 * A loader for one of officeparser's formats: PowerPoint and OpenDocument files (zip-based, checked
 * by `checkArchive` first) and RTF (its `\ansicpg` and `\fcharset` code pages decoded, GBK
 * included). officeparser is chosen for its document tree: headings with their levels, tables by
 * cell, slides by number with their notes. Slides become pages (`page` = slide number), with their
 * notes after their text; spreadsheets become rows, as CSV rows are, under each sheet's name.
 */
export function officeLoader(format: OfficeFormat): Loader {
    return async (bytes, _fileName, limits) => {
        if (format === "rtf") checkRtf(bytes, limits);
        else checkArchive(bytes, limits);
        let content: OfficeContentNode[];
        try {
            ({ content } = await OfficeParser.parseOffice(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
                fileType: format,
                ocr: false,
                extractAttachments: false,
                ignoreComments: true,
                decompressionLimits: { maxUncompressedBytes: limits.maxInflatedBytes, maxZipEntries: limits.maxArchiveEntries },
            }));
        } catch (error) {
            const code = String((error as OfficeError).officeIssue?.code);
            if (code === "PASSWORD_REQUIRED" || code === "DOCUMENT_DECRYPTION_FAILED") {
                throw new UnreadableFileError("This document is protected with a password. Save a copy without the password and ingest that.", { cause: error });
            }
            throw new UnreadableFileError(`This file is not a valid ${formats[format]}, or it is damaged.`, { cause: error });
        }
        return { sections: contentToSections(content, limits) };
    };
}

function contentToSections(content: readonly OfficeContentNode[], limits: ParseLimits): LoadedSection[] {
    const sections: LoadedSection[] = [];
    let body = new SectionBuilder();
    const flushBody = () => {
        sections.push(...body.finish());
        body = new SectionBuilder();
    };
    for (const node of content) {
        if (node.type === "slide") {
            flushBody();
            sections.push(...slideSections(node));
        } else if (node.type === "sheet") {
            flushBody();
            const rows = (node.children ?? []).filter((row) => row.type === "row").map((row) => (row.children ?? []).map(textOf));
            checkTable(rows, limits);
            sections.push(...rowsToSections(rows, node.metadata?.sheetName != null ? [node.metadata.sheetName] : undefined));
        } else {
            writeBlock(node, body);
        }
    }
    flushBody();
    return sections;
}

/** A slide's text in reading order, then its speaker notes, as one page. */
function slideSections(slide: OfficeContentNode & { type: "slide" }): LoadedSection[] {
    const builder = new SectionBuilder();
    for (const child of slide.children ?? []) {
        if (child.type !== "note") writeBlock(child, builder);
    }
    const notes = [...slide.notes ?? [], ...(slide.children ?? []).filter((child) => child.type === "note")]
        .flatMap((note) => (note.children ?? []).map(textOf))
        // The notes page's slide-number field comes out as the number or as "<number>".
        .filter((line) => line !== "" && !/^(?:\d+|<number>)$/.test(line));
    if (notes.length > 0) {
        builder.line("");
        builder.line(`${NOTES_LABEL}${notes.join("\n")}`);
    }
    const page = slide.metadata?.slideNumber;
    return builder.finish().map((section) => ({ ...section, ...(page != null ? { page } : {}) }));
}

/** Headings open sections; paragraphs, list items and table rows (cells joined by " | ") are lines. */
function writeBlock(node: OfficeContentNode, builder: SectionBuilder): void {
    switch (node.type) {
        case "heading":
            builder.heading(node.metadata?.level ?? 1, textOf(node));
            return;
        case "table":
            for (const row of node.children ?? []) builder.line((row.children ?? []).map(textOf).join(" | "));
            return;
        case "list":
            for (const item of node.children ?? []) builder.line(`- ${textOf(item)}`);
            return;
        case "image":
        case "chart":
        case "comment":
        case "header":
        case "footer":
        case "slideMaster":
        case "break":
            return;
        default:
            if (node.children?.some((child) => child.type !== "text") === true) {
                for (const child of node.children) writeBlock(child, builder);
            } else {
                builder.line(textOf(node));
            }
    }
}

/** A node's text: its own, or its children's joined (runs directly, blocks by a space). */
function textOf(node: OfficeContentNode): string {
    if (node.children == null || node.children.length === 0) return (node.text ?? "").trim();
    if (node.text != null && node.children.every((child) => child.type === "text")) return node.text.trim();
    const parts = node.children.map(textOf).filter((part) => part !== "");
    return parts.join(node.children.every((child) => child.type === "text") ? "" : " ");
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const BACKSLASH = 0x5c;

/**
 * Throws when the bytes do not start as RTF does (officeparser reads any text as RTF), or when its
 * groups (`{…}`) nest deeper than `limits.maxNestingDepth`.
 */
function checkRtf(bytes: Uint8Array, limits: ParseLimits): void {
    if (!Buffer.from(bytes.subarray(0, 64)).toString("latin1").trimStart().startsWith("{\\rtf")) {
        throw new UnreadableFileError(`This file is not a valid ${formats.rtf}: it does not start with {\\rtf.`);
    }
    let depth = 0;
    for (let i = 0; i < bytes.length; i++) {
        const byte = bytes[i];
        if (byte === BACKSLASH) i++; // an escaped brace or backslash opens and closes nothing
        else if (byte === OPEN_BRACE && ++depth > limits.maxNestingDepth) throw limitExceeded("maxNestingDepth", limits, "nests its groups deeper than allowed");
        else if (byte === CLOSE_BRACE) depth--;
    }
}
