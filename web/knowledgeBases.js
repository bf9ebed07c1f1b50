/** The knowledge-base list, creating and deleting knowledge bases, and the selected one's documents. */
import { api, kbPath } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { byId, el, messageOf, notify } from "./dom.js";
import { setLabel, setMessage, t } from "./i18n.js";
import { loadPrincipal, may } from "./permissions.js";

/** @typedef {{ name: string, documents: number, chunks: number, createdAt: string, problem?: string }} KbSummary */
/** @typedef {{ id: string, source: string, name: string, chunks: number, format: string, sizeBytes: number }} DocumentSummary */

const selectedStorage = "yizhi.kb";

/** @type {string | null} */
let selected = localStorage.getItem(selectedStorage);
/** @type {Array<(kb: string | null) => void>} */
const listeners = [];

/** @returns {string | null} the knowledge base questions and uploads go to */
export function selectedKb() {
    return selected;
}

/** @param {(kb: string | null) => void} listener called when another knowledge base is selected */
export function onKbChange(listener) {
    listeners.push(listener);
}

export function initKnowledgeBases() {
    byId("kb-create-form").addEventListener("submit", (event) => {
        event.preventDefault();
        void createKb();
    });
    byId("kb-delete").addEventListener("click", () => void deleteSelectedKb());
    void refreshKbs();
}

/** Reloads the knowledge-base list (with its counts) and the selected one's documents. */
export async function refreshKbs() {
    try {
        await loadPrincipal();
        /** @type {{ kbs: KbSummary[] }} */
        const { kbs } = await api("GET", "kbs");
        if (!kbs.some((kb) => kb.name === selected)) select(kbs[0]?.name ?? null);
        renderKbList(kbs);
        offerWhatTheKeyMay();
        await refreshDocuments();
    } catch (error) {
        notify(t("loadFailed", { message: messageOf(error) }));
    }
}

/** @param {string | null} name */
function select(name) {
    const changed = name !== selected;
    selected = name;
    if (name == null) localStorage.removeItem(selectedStorage);
    else localStorage.setItem(selectedStorage, name);
    if (changed) for (const listener of listeners) listener(name);
}

/** Shows only the controls the current key may use: creating and deleting knowledge bases, uploading and deleting documents. */
function offerWhatTheKeyMay() {
    byId("kb-create-form").hidden = !may("manage");
    byId("kb-delete").hidden = !may("manage");
    byId("dropzone").hidden = !may("write", selected);
    byId("upload-list").hidden = !may("write", selected);
}

/** @param {KbSummary[]} kbs */
function renderKbList(kbs) {
    byId("kb-list").replaceChildren(...kbs.map(renderKbItem));
    byId("kb-empty").hidden = kbs.length > 0;
    const detail = byId("kb-detail");
    detail.hidden = selected == null;
    byId("current-kb").textContent = selected ?? "";
}

/** @param {KbSummary} kb */
function renderKbItem(kb) {
    const counts = el("span", { className: "kb-counts" });
    setMessage(counts, "kbCounts", { documents: kb.documents, chunks: kb.chunks });
    const button = el("button", {
        className: "kb-item",
        testId: "kb-item",
        attributes: { type: "button", "aria-pressed": String(kb.name === selected) },
    }, [el("span", { className: "kb-name" }, [kb.name]), counts]);
    if (kb.problem != null) button.append(el("span", { className: "kb-problem", testId: "kb-problem" }, [kb.problem]));
    button.addEventListener("click", () => {
        select(kb.name);
        void refreshKbs();
    });
    return el("li", {}, [button]);
}

async function createKb() {
    const input = /** @type {HTMLInputElement} */ (byId("kb-name-input"));
    const name = input.value.trim();
    try {
        await api("POST", "kbs", { name });
        input.value = "";
        select(name);
        await refreshKbs();
    } catch (error) {
        notify(t("createKbFailed", { message: messageOf(error) }));
    }
}

async function deleteSelectedKb() {
    const name = selected;
    if (name == null || !(await confirmAction("confirmDeleteKb", { name }))) return;
    try {
        await api("DELETE", kbPath(name));
        select(null);
    } catch (error) {
        notify(t("deleteKbFailed", { message: messageOf(error) }));
    }
    await refreshKbs();
}

async function refreshDocuments() {
    const list = byId("doc-list");
    const kb = selected;
    if (kb == null) {
        list.replaceChildren();
        return;
    }
    /** @type {{ documents: DocumentSummary[] }} */
    const { documents } = await api("GET", `${kbPath(kb)}/documents`);
    if (kb !== selected) return;
    list.replaceChildren(...documents.map((doc) => renderDocument(kb, doc)));
    byId("doc-empty").hidden = documents.length > 0;
}

/**
 * @param {string} kb
 * @param {DocumentSummary} doc
 */
function renderDocument(kb, doc) {
    const chunks = el("span", { testId: "doc-chunks" });
    setMessage(chunks, "docChunks", { chunks: doc.chunks });
    const remove = el("button", { className: "button danger small", testId: "doc-delete", attributes: { type: "button" } });
    setMessage(remove, "deleteDoc", { name: doc.name });
    setLabel(remove, "deleteDocLabel", { name: doc.name });
    remove.addEventListener("click", () => void deleteDocument(kb, doc));
    return el("li", { className: "doc", testId: "doc-item" }, [
        el("div", { className: "doc-main" }, [
            el("span", { className: "doc-name", testId: "doc-name", attributes: { title: doc.source } }, [doc.name]),
            el("span", { className: "doc-meta" }, [chunks, ` · ${doc.format.toUpperCase()} · ${formatBytes(doc.sizeBytes)}`]),
        ]),
        ...(may("write", kb) ? [remove] : []),
    ]);
}

/**
 * @param {string} kb
 * @param {DocumentSummary} doc
 */
async function deleteDocument(kb, doc) {
    if (!(await confirmAction("confirmDeleteDoc", { name: doc.name }))) return;
    try {
        await api("DELETE", `${kbPath(kb)}/documents/${encodeURIComponent(doc.id)}`);
    } catch (error) {
        notify(t("deleteDocFailed", { message: messageOf(error) }));
    }
    await refreshKbs();
}

/** @param {number} bytes */
function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
