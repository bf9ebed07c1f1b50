import PostalMime, { type Address, type Email } from "postal-mime";
import { parseHTML } from "linkedom";
import { UnreadableFileError } from "../../src/errors.js";
import { containedName, isClutter } from "./containedName.js";
import { domToSections, type DomNode } from "./html.js";
import type { ContainedFile, LoadedSection, Loader } from "./types.js";

/** Names for attachments that have none, by their type. */
const EXTENSION_OF_TYPE: Readonly<Record<string, string>> = {
    "text/plain": ".txt", "text/html": ".html", "text/markdown": ".md", "text/csv": ".csv", "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/msword": ".doc", "application/rtf": ".rtf", "application/zip": ".zip", "message/rfc822": ".eml",
};

/**
 * An e-mail message (.eml, RFC 822 / MIME), through postal-mime, which decodes encoded words in
 * the headers (=?GB2312?B?…?=), transfer encodings and charsets. The subject is the heading; the
 * sender, recipients and date come first, then the body (its plain text, or its HTML read as a
 * page is). Attachments are documents of their own; images shown inside the body are not.
 */
export const loadEml: Loader = async (bytes, _fileName, limits) => {
    let email: Email;
    try {
        email = await PostalMime.parse(bytes, { attachmentEncoding: "arraybuffer", maxNestingDepth: limits.maxNestingDepth });
    } catch (error) {
        throw new UnreadableFileError(`This file is not a valid e-mail message (.eml), or it is damaged: ${(error as Error).message}`, { cause: error });
    }
    if (email.headers.length === 0 || (email.from == null && email.subject == null && email.date == null)) {
        throw new UnreadableFileError("This file is not an e-mail message (.eml): it has no From, Subject or Date header.");
    }
    const subject = email.subject?.trim() ?? "";
    const header = [
        ["From", addresses(email.from != null ? [email.from] : [])],
        ["To", addresses(email.to ?? [])],
        ["Cc", addresses(email.cc ?? [])],
        // As written (with its time zone); postal-mime's `date` is converted to UTC.
        ["Date", email.headers.find((header) => header.key === "date")?.value ?? ""],
    ].filter(([, value]) => value !== "").map(([key, value]) => `${key}: ${value}`).join("\n");
    const headingPath = subject !== "" ? [subject] : [];
    const sections: LoadedSection[] = [{ text: [subject, header].filter((part) => part !== "").join("\n"), headingPath }];
    if (email.text != null && email.text.trim() !== "") {
        sections.push({ text: email.text, headingPath });
    } else if (email.html != null) {
        const { document }: { document: { body: DomNode } } = parseHTML(`<!DOCTYPE html><html><body>${email.html}</body></html>`);
        sections.push(...domToSections(document.body).map((section) => ({ ...section, headingPath: [...headingPath, ...section.headingPath ?? []] })));
    }
    return { sections, contained: attachments(email) };
};

function addresses(list: readonly Address[]): string {
    return list.flatMap((address) => (address.group != null ? address.group : [address]))
        .map(({ name, address }) => (name !== "" ? `${name} <${address}>` : address))
        .join(", ");
}

/** The message's attachments, each under a name of its own (made unique: two may share one). */
function attachments(email: Email): ContainedFile[] {
    const files: ContainedFile[] = [];
    const taken = new Set<string>();
    email.attachments.forEach((attachment, i) => {
        if (attachment.related === true || (attachment.disposition === "inline" && attachment.mimeType.startsWith("image/"))) return;
        const given = attachment.filename != null ? containedName(attachment.filename.split(/[\\/]/).at(-1) ?? "") : undefined;
        const base = given != null && !isClutter(given) ? given : `attachment-${i + 1}${EXTENSION_OF_TYPE[attachment.mimeType] ?? ".bin"}`;
        let name = base;
        for (let n = 2; taken.has(name); n++) name = base.replace(/(\.[^.]*)?$/, (extension) => ` (${n})${extension}`);
        taken.add(name);
        const { content } = attachment;
        const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content instanceof ArrayBuffer ? new Uint8Array(content) : content;
        files.push({ name, bytes });
    });
    return files;
}
