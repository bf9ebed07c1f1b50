/** The knowledge-base list, creating and deleting knowledge bases, and the selected one's documents. */
import { api, kbPath } from "./api.js";
import { clearProblem, showActionError } from "./banner.js";
import { confirmAction } from "./dialogs.js";
import { formatBytes, openDocument } from "./documentViewer.js";
import { byId, el } from "./dom.js";
import { language, setLabel, setMessage } from "./i18n.js";
import { loadPrincipal, may } from "./permissions.js";

/** @typedef {{ name: string, documents: number, chunks: number, createdAt: string, problem?: string }} KbSummary */
/** @typedef {{ id: string, source: string, name: string, chunks: number, format: string, sizeBytes: number, ingestedAt: string }} DocumentSummary */

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
    byId("doc-filter").addEventListener("input", applyDocumentFilter);
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
        showActionError("loadFailed", error);
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
        clearProblem("action");
        select(name);
        await refreshKbs();
    } catch (error) {
        showActionError("createKbFailed", error);
    }
}

async function deleteSelectedKb() {
    const name = selected;
    if (name == null || !(await confirmAction("confirmDeleteKb", { name }))) return;
    try {
        await api("DELETE", kbPath(name));
        clearProblem("action");
        select(null);
    } catch (error) {
        showActionError("deleteKbFailed", error);
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
    /** @type {HTMLInputElement} */ (byId("doc-filter")).hidden = documents.length === 0;
    applyDocumentFilter();
}

/** Shows only the documents whose name contains the filter's text (ignoring case). */
function applyDocumentFilter() {
    const wanted = /** @type {HTMLInputElement} */ (byId("doc-filter")).value.trim().toLowerCase();
    let shown = 0;
    for (const item of /** @type {NodeListOf<HTMLElement>} */ (byId("doc-list").querySelectorAll("[data-testid=doc-item]"))) {
        item.hidden = wanted !== "" && !(item.dataset.name ?? "").toLowerCase().includes(wanted);
        if (!item.hidden) shown++;
    }
    const empty = byId("doc-empty");
    if (wanted !== "" && shown === 0) {
        setMessage(empty, "docFilterEmpty");
        empty.hidden = false;
    } else if (empty.dataset.i18n === "docFilterEmpty") {
        setMessage(empty, "docEmpty");
        empty.hidden = true;
    }
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
    const name = el("button", { className: "doc-name link", testId: "doc-name", attributes: { type: "button", title: doc.source } }, [doc.name]);
    setLabel(name, "openDocumentLabel", { name: doc.name });
    name.addEventListener("click", () => void openDocument(kb, doc.id));
    const added = el("time", { testId: "doc-time", attributes: { datetime: doc.ingestedAt } });
    setMessage(added, "docIngestedAt", { time: new Date(doc.ingestedAt).toLocaleString(language()) });
    return el("li", { className: "doc", testId: "doc-item", attributes: { "data-name": doc.name } }, [
        el("div", { className: "doc-main" }, [
            name,
            el("span", { className: "doc-meta" }, [chunks, ` · ${doc.format.toUpperCase()} · ${formatBytes(doc.sizeBytes)} · `, added]),
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
        clearProblem("action");
    } catch (error) {
        showActionError("deleteDocFailed", error);
    }
    await refreshKbs();
}
