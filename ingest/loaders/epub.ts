import path from "node:path";
import { Parser } from "htmlparser2";
import { parseHTML } from "linkedom";
import { UnreadableFileError } from "../../src/errors.js";
import { readArchive } from "./archive.js";
import { checkNesting, domToSections, type DomNode } from "./html.js";
import type { LoadedSection, Loader } from "./types.js";

/** The parts of a book that carry its order, its chapter titles and its text. */
const TEXT_PART = /\.(?:xhtml|html|htm|xht|xml|opf|ncx)$/i;

/**
 * An EPUB book (2 or 3): its chapters in reading order (the package's spine), each read as a web
 * page is, under the chapter's title from the table of contents (EPUB 3's navigation document, or
 * EPUB 2's NCX) as the top heading. Written here rather than taken from a library: an EPUB is a zip
 * of XHTML pages, which the zip and HTML code already reads under its limits, and the libraries
 * tried either dropped the chapter titles or read the whole book from a path on disk.
 */
export const loadEpub: Loader = async (bytes, _fileName, limits) => {
    const parts = new Map(readArchive(bytes, limits, (name) => TEXT_PART.test(name)).map((entry) => [entry.name, entry.bytes]));
    const text = (name: string) => {
        const part = parts.get(name);
        return part != null ? Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString("utf8") : undefined;
    };
    const packagePath = firstAttribute(text("META-INF/container.xml") ?? "", "rootfile", "full-path");
    const opf = packagePath != null ? text(packagePath) : undefined;
    if (packagePath == null || opf == null) {
        throw new UnreadableFileError("This file is not a valid EPUB book, or it is damaged: it has no package document (META-INF/container.xml → .opf).");
    }
    const book = readPackage(opf, path.posix.dirname(packagePath));
    const titles = book.navigation != null ? tableOfContents(text(book.navigation) ?? "", path.posix.dirname(book.navigation)) : new Map<string, string>();

    const sections: LoadedSection[] = [];
    for (const chapter of book.spine) {
        const xhtml = text(chapter);
        if (xhtml == null) continue;
        checkNesting(xhtml, limits);
        const { document }: { document: { body: DomNode | null; documentElement: DomNode } } = parseHTML(xhtml);
        sections.push(...underTitle(domToSections(document.body ?? document.documentElement), titles.get(chapter)));
    }
    return { sections };
};

/**
 * A chapter's sections under its title from the table of contents. Some writers (LibreOffice
 * among them) mark no headings in a chapter's XHTML, only a styled paragraph: the title line is
 * added only when the chapter does not start with it.
 */
function underTitle(sections: LoadedSection[], title: string | undefined): LoadedSection[] {
    if (title == null) return sections;
    const first = sections[0];
    if (first != null && !first.text.trimStart().startsWith(title)) first.text = `${title}\n${first.text}`;
    return sections.map((section) => ({
        ...section,
        headingPath: section.headingPath?.[0] === title ? section.headingPath : [title, ...section.headingPath ?? []],
    }));
}

interface BookPackage {
    /** Paths in the archive of the spine's documents, in reading order. */
    spine: string[];
    /** Path of the EPUB 3 navigation document, or else of the EPUB 2 NCX. */
    navigation?: string;
}

function readPackage(opf: string, base: string): BookPackage {
    const manifest = new Map<string, { href: string; type: string; properties: string }>();
    const spineIds: string[] = [];
    let ncxId: string | undefined;
    parseXml(opf, (name, attributes) => {
        if (name === "item" && attributes.id != null && attributes.href != null) {
            manifest.set(attributes.id, { href: resolve(base, attributes.href), type: attributes["media-type"] ?? "", properties: attributes.properties ?? "" });
        } else if (name === "itemref" && attributes.idref != null && attributes.linear !== "no") {
            spineIds.push(attributes.idref);
        } else if (name === "spine") {
            ncxId = attributes.toc;
        }
    });
    const items = [...manifest.values()];
    const navigation = items.find((item) => item.properties.split(/\s+/).includes("nav"))?.href ??
        (ncxId != null ? manifest.get(ncxId)?.href : undefined) ?? items.find((item) => item.type === "application/x-dtbncx+xml")?.href;
    return {
        spine: spineIds.flatMap((id) => manifest.get(id)?.href ?? []),
        ...(navigation != null ? { navigation } : {}),
    };
}

/** Chapter titles by chapter path: the first entry of the table of contents that points into each. */
function tableOfContents(document: string, base: string): Map<string, string> {
    const titles = new Map<string, string>();
    let target: string | undefined;
    let label = "";
    let inLabel = false;
    const finish = () => {
        const title = label.replace(/\s+/g, " ").trim();
        if (target != null && title !== "" && !titles.has(target)) titles.set(target, title);
    };
    // EPUB 3: <a href="chapter.xhtml">Title</a> inside <nav>; EPUB 2: <navLabel><text>Title</text></navLabel><content src="…"/>.
    const parser = new Parser({
        onopentag(name, attributes) {
            if (name === "a" && attributes.href != null) {
                target = resolve(base, attributes.href);
                label = "";
                inLabel = true;
            } else if (name === "navpoint") {
                target = undefined;
                label = "";
            } else if (name === "text") {
                inLabel = true;
            } else if (name === "content" && attributes.src != null) {
                target = resolve(base, attributes.src);
                finish();
            }
        },
        ontext(data) {
            if (inLabel) label += data;
        },
        onclosetag(name) {
            if (name === "a") finish();
            if (name === "a" || name === "text") inLabel = false;
        },
    }, { xmlMode: false, decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true });
    parser.end(document);
    return titles;
}

/** A path inside the archive from an href relative to `base`, without its fragment. */
function resolve(base: string, href: string): string {
    const bare = href.split("#")[0] ?? "";
    let decoded = bare;
    try {
        decoded = decodeURIComponent(bare);
    } catch {
        // A malformed escape is kept as written.
    }
    return path.posix.normalize(path.posix.join(base, decoded)).replace(/^(\.\/)+/, "");
}

function parseXml(xml: string, onElement: (name: string, attributes: Record<string, string>) => void): void {
    const parser = new Parser({ onopentag: (name, attributes) => onElement(name.replace(/^.*:/, ""), attributes) }, { xmlMode: true });
    parser.end(xml);
}

function firstAttribute(xml: string, element: string, attribute: string): string | undefined {
    let value: string | undefined;
    parseXml(xml, (name, attributes) => {
        if (name === element && value == null) value = attributes[attribute];
    });
    return value;
}
