import mammoth from "mammoth";
import { parseHTML } from "linkedom";
import { UnreadableFileError } from "../../src/errors.js";
import { domToSections, type DomNode } from "./html.js";
import { checkArchive } from "./archive.js";
import type { Loader } from "./types.js";

/** Images carry no text; leaving their data out keeps mammoth from base64-encoding every one. */
const skipImageData = mammoth.images.imgElement(async () => ({ src: "" }));

/** Word .docx, through mammoth's HTML: sections under the document's headings, tables as " | " rows. */
export const loadDocx: Loader = async (bytes, _fileName, limits) => {
    checkArchive(bytes, limits);
    let html: string;
    try {
        ({ value: html } = await mammoth.convertToHtml(
            { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
            { convertImage: skipImageData },
        ));
    } catch (error) {
        throw new UnreadableFileError(
            "This file is not a valid Word .docx document, or it is damaged. (An older .doc file must be saved as .docx first.)",
            { cause: error },
        );
    }
    const { document }: { document: { body: DomNode } } = parseHTML(`<!DOCTYPE html><html><body>${html}</body></html>`);
    return { sections: domToSections(document.body) };
};
