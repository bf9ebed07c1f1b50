/** A document read in the page: its chunks in order, the cited one highlighted and scrolled to. */
import { api, kbPath } from "./api.js";
import { showActionError } from "./banner.js";
import { byId, el } from "./dom.js";
import { setMessage } from "./i18n.js";

/** @typedef {{ index: number, text: string, page?: number, headingPath?: string[] }} DocumentChunk */

export function initDocumentViewer() {
    const dialog = /** @type {HTMLDialogElement} */ (byId("document-dialog"));
    byId("document-close").addEventListener("click", () => dialog.close());
}

/**
 * Opens a document of `kb`, scrolled to chunk `highlight` when given.
 * @param {string} kb
 * @param {string} documentId its id, or its name
 * @param {number} [highlight]
 */
export async function openDocument(kb, documentId, highlight) {
    /** @type {{ document: { name: string, chunks: number, format: string, sizeBytes: number }, chunks: DocumentChunk[] }} */
    let body;
    try {
        body = await api("GET", `${kbPath(kb)}/documents/${encodeURIComponent(documentId)}`);
    } catch (error) {
        showActionError("loadFailed", error);
        return;
    }
    const dialog = /** @type {HTMLDialogElement} */ (byId("document-dialog"));
    byId("document-title").textContent = body.document.name;
    setMessage(byId("document-meta"), "documentMeta", {
        chunks: body.document.chunks, format: body.document.format.toUpperCase(), size: formatBytes(body.document.sizeBytes),
    });
    const items = body.chunks.map((chunk) => renderChunk(chunk, chunk.index === highlight));
    byId("document-chunks").replaceChildren(...items);
    dialog.showModal();
    const highlighted = items.find((item) => item.dataset.highlighted === "true");
    highlighted?.scrollIntoView({ block: "center" });
}

/**
 * @param {DocumentChunk} chunk
 * @param {boolean} highlighted
 */
function renderChunk(chunk, highlighted) {
    const where = [chunk.headingPath?.join(" › "), chunk.page != null ? `p. ${chunk.page}` : undefined].filter((part) => part != null && part !== "");
    return el("li", {
        className: highlighted ? "document-chunk highlighted" : "document-chunk",
        testId: "document-chunk",
        attributes: { "data-index": String(chunk.index), "data-highlighted": String(highlighted) },
    }, [
        ...(where.length > 0 ? [el("p", { className: "source-heading" }, [where.join(" · ")])] : []),
        el("p", { className: "chunk-text" }, [chunk.text]),
    ]);
}

/** @param {number} bytes */
export function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
