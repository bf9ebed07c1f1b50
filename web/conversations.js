/**
 * The selected knowledge base's conversations, kept on the server: listed (the last changed
 * first), opened, renamed, deleted, and the current one continued after a reload or from another
 * browser. The chat hands each finished turn here to be saved.
 */
import { api, kbPath } from "./api.js";
import { clearProblem, showActionError } from "./banner.js";
import { confirmAction } from "./dialogs.js";
import { byId, el } from "./dom.js";
import { setLabel, setMessage } from "./i18n.js";
import { onKbChange, selectedKb } from "./knowledgeBases.js";

/**
 * @typedef {object} SavedSource
 * @property {number} n
 * @property {string} documentId
 * @property {number} chunkIndex
 * @property {string} name
 * @property {number} [page]
 * @property {string[]} [headingPath]
 * @property {{ confidence: number }} [ocr]
 * @property {number} score
 * @property {string} text
 */
/** @typedef {{ question: string, answer: string, refused: boolean, sources: SavedSource[], askedAt: string }} SavedTurn */
/** @typedef {{ id: string, title: string, createdAt: string, updatedAt: string, turns: SavedTurn[] }} Conversation */
/** @typedef {{ id: string, title: string, updatedAt: string, turns: number }} ConversationSummary */

/** @type {{ kb: string, conversation: Conversation } | null} */
let current = null;
/** @type {Array<(kb: string, turns: SavedTurn[]) => void>} */
const openListeners = [];

const currentStorage = (/** @type {string} */ kb) => `yizhi.conversation.${kb}`;

/** @param {(kb: string, turns: SavedTurn[]) => void} listener called with the turns to show when a conversation is opened (none for a new one) */
export function onConversationOpen(listener) {
    openListeners.push(listener);
}

export function initConversations() {
    byId("conversation-new").addEventListener("click", () => startNew());
    onKbChange(() => void openStored());
    void openStored();
}

/** Opens the conversation last open for the selected knowledge base, if it is still there. */
async function openStored() {
    const kb = selectedKb();
    current = null;
    if (kb == null) {
        byId("conversation-list").replaceChildren();
        return;
    }
    const id = localStorage.getItem(currentStorage(kb));
    const list = await refreshList(kb);
    if (id != null && list.some((item) => item.id === id)) await open(kb, id);
    else startNew();
}

function startNew() {
    const kb = selectedKb();
    current = null;
    if (kb != null) localStorage.removeItem(currentStorage(kb));
    markCurrent();
    for (const listener of openListeners) listener(kb ?? "", []);
}

/**
 * @param {string} kb
 * @param {string} id
 */
async function open(kb, id) {
    try {
        /** @type {Conversation} */
        const conversation = await api("GET", `${kbPath(kb)}/conversations/${id}`);
        if (kb !== selectedKb()) return;
        current = { kb, conversation };
        localStorage.setItem(currentStorage(kb), id);
        markCurrent();
        for (const listener of openListeners) listener(kb, conversation.turns);
    } catch (error) {
        showActionError("loadFailed", error);
    }
}

/**
 * Saves a finished turn in the current conversation, starting one (named after its question) when
 * there is none.
 * @param {string} kb
 * @param {SavedTurn} turn
 * @param {{ replaceLast: boolean }} options `replaceLast`: the turn is the last one, regenerated
 */
export async function saveTurn(kb, turn, options) {
    try {
        if (current == null || current.kb !== kb) {
            /** @type {Conversation} */
            const conversation = await api("POST", `${kbPath(kb)}/conversations`, { title: [...turn.question].slice(0, 40).join("") });
            current = { kb, conversation };
            localStorage.setItem(currentStorage(kb), conversation.id);
        }
        const earlier = options.replaceLast ? current.conversation.turns.slice(0, -1) : current.conversation.turns;
        current.conversation = await api("PATCH", `${kbPath(kb)}/conversations/${current.conversation.id}`, { turns: [...earlier, turn] });
        clearProblem("action");
    } catch (error) {
        showActionError("saveConversationFailed", error);
    }
    await refreshList(kb);
}

/**
 * @param {string} kb
 * @returns {Promise<ConversationSummary[]>}
 */
async function refreshList(kb) {
    try {
        /** @type {{ conversations: ConversationSummary[] }} */
        const { conversations } = await api("GET", `${kbPath(kb)}/conversations`);
        if (kb === selectedKb()) byId("conversation-list").replaceChildren(...conversations.map((item) => renderItem(kb, item)));
        markCurrent();
        return conversations;
    } catch (error) {
        showActionError("loadFailed", error);
        return [];
    }
}

function markCurrent() {
    for (const item of /** @type {NodeListOf<HTMLElement>} */ (byId("conversation-list").querySelectorAll("[data-testid=conversation-item]"))) {
        item.setAttribute("aria-current", String(item.dataset.id === current?.conversation.id));
    }
}

/**
 * @param {string} kb
 * @param {ConversationSummary} item
 */
function renderItem(kb, item) {
    const title = el("button", { className: "conversation-title", testId: "conversation-title", attributes: { type: "button" } }, [item.title]);
    title.addEventListener("click", () => void open(kb, item.id));
    const turns = el("span", { className: "kb-counts" });
    setMessage(turns, "conversationTurns", { turns: item.turns });
    const rename = el("button", { className: "button ghost small", testId: "conversation-rename", attributes: { type: "button" } });
    setMessage(rename, "renameConversation");
    setLabel(rename, "renameConversationLabel", { title: item.title });
    const remove = el("button", { className: "button danger small", testId: "conversation-delete", attributes: { type: "button" } });
    setMessage(remove, "delete");
    setLabel(remove, "deleteConversationLabel", { title: item.title });
    const row = el("li", { className: "conversation-item", testId: "conversation-item", attributes: { "data-id": item.id } }, [title, turns, rename, remove]);
    rename.addEventListener("click", () => startRename(kb, item, row, title));
    remove.addEventListener("click", () => void removeConversation(kb, item));
    return row;
}

/**
 * Replaces the title by a field: Enter (or leaving it) saves, Escape cancels.
 * @param {string} kb
 * @param {ConversationSummary} item
 * @param {HTMLElement} row
 * @param {HTMLElement} title
 */
function startRename(kb, item, row, title) {
    const input = el("input", { className: "conversation-rename-input", testId: "conversation-rename-input", attributes: { maxlength: "200" } });
    input.value = item.title;
    title.replaceWith(input);
    input.focus();
    let done = false;
    /** @param {boolean} save */
    const finish = async (save) => {
        if (done) return;
        done = true;
        const next = input.value.trim();
        if (save && next !== "" && next !== item.title) {
            try {
                await api("PATCH", `${kbPath(kb)}/conversations/${item.id}`, { title: next });
                clearProblem("action");
            } catch (error) {
                showActionError("saveConversationFailed", error);
            }
        }
        await refreshList(kb);
        if (!row.isConnected) return;
        input.replaceWith(title);
    };
    input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.isComposing) void finish(true);
        else if (event.key === "Escape") void finish(false);
    });
    input.addEventListener("blur", () => void finish(true));
}

/**
 * @param {string} kb
 * @param {ConversationSummary} item
 */
async function removeConversation(kb, item) {
    if (!(await confirmAction("confirmDeleteConversation", { title: item.title }))) return;
    try {
        await api("DELETE", `${kbPath(kb)}/conversations/${item.id}`);
        clearProblem("action");
        if (current?.conversation.id === item.id) startNew();
    } catch (error) {
        showActionError("saveConversationFailed", error);
    }
    await refreshList(kb);
}
