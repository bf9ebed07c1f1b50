/**
 * The conversation: questions go to /ask as a stream, the answer grows as tokens arrive (as
 * sanitised markdown), and its citations ([1], 【2】) become buttons that bring the matching source
 * card into view. A source card opens its document at the cited chunk.
 */
import { askStreaming } from "./api.js";
import { clearProblem } from "./banner.js";
import { onConversationOpen, saveTurn } from "./conversations.js";
import { openDocument } from "./documentViewer.js";
import { byId, el, messageOf } from "./dom.js";
import { setLabel, setMessage } from "./i18n.js";
import { onKbChange, selectedKb } from "./knowledgeBases.js";
import { markdownFragment } from "./markdown.js";

/** @typedef {import("./api.js").AnswerSource} AnswerSource */

/** How many earlier messages (questions and answers) go with a question, to fit small contexts. */
const HISTORY_MESSAGES = 6;

/** @type {Array<{ role: "user" | "assistant", content: string }>} */
const earlierMessages = [];
/** @type {AbortController | null} */
let running = null;
let turnCount = 0;
/** @type {Turn | null} the turn that may be regenerated */
let lastTurn = null;

/** The advanced settings' fields, kept in localStorage so that a reload keeps them. */
const SETTING_FIELDS = ["topk-input", "mode-input", "threshold-input", "lexical-threshold-input"];
const settingsStorage = "yizhi.settings";

function restoreSettings() {
    /** @type {Record<string, string>} */
    let saved = {};
    try {
        saved = JSON.parse(localStorage.getItem(settingsStorage) ?? "{}");
    } catch {
        // A value from elsewhere: start from the defaults.
    }
    for (const id of SETTING_FIELDS) {
        const field = /** @type {HTMLInputElement | HTMLSelectElement} */ (byId(id));
        if (typeof saved[id] === "string") field.value = saved[id];
        field.addEventListener("input", saveSettings);
        field.addEventListener("change", saveSettings);
    }
}

function saveSettings() {
    const values = Object.fromEntries(SETTING_FIELDS.map((id) => [id, /** @type {HTMLInputElement | HTMLSelectElement} */ (byId(id)).value]));
    localStorage.setItem(settingsStorage, JSON.stringify(values));
}

export function initChat() {
    restoreSettings();
    const form = /** @type {HTMLFormElement} */ (byId("ask-form"));
    const input = /** @type {HTMLTextAreaElement} */ (byId("question-input"));
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        void ask(input.value.trim());
    });
    input.addEventListener("keydown", (event) => {
        // isComposing: Enter also confirms a pinyin candidate in an input method.
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            form.requestSubmit();
        }
    });
    byId("stop-button").addEventListener("click", () => running?.abort());
    byId("mode-input").addEventListener("change", updateThresholdHint);
    onKbChange(updateAskButton);
    onConversationOpen(showConversation);
    updateAskButton();
    updateThresholdHint();
}

/**
 * Shows a saved conversation (or, with no turns, a new one): its turns as they were answered, the
 * last one open to regeneration, and its messages as the history of the next question.
 * @param {string} kb
 * @param {import("./conversations.js").SavedTurn[]} turns
 */
function showConversation(kb, turns) {
    running?.abort();
    byId("conversation").replaceChildren();
    earlierMessages.length = 0;
    lastTurn = null;
    for (const saved of turns) {
        const history = earlierMessages.slice(-HISTORY_MESSAGES);
        const turn = addTurn(saved.question, kb, history);
        turn.showSources(saved.sources.map((source) => ({ ...source, source: source.name })));
        turn.finish(saved.answer, saved.refused);
        earlierMessages.push({ role: "user", content: saved.question }, { role: "assistant", content: saved.answer });
    }
    byId("chat-empty").hidden = turns.length > 0;
}

/** Says which threshold decides a refusal in the chosen mode. */
function updateThresholdHint() {
    const mode = /** @type {HTMLSelectElement} */ (byId("mode-input")).value || "hybrid";
    setMessage(byId("threshold-hint"), mode === "dense" ? "thresholdHint_dense" : mode === "bm25" ? "thresholdHint_bm25" : "thresholdHint_hybrid");
}

function updateAskButton() {
    /** @type {HTMLButtonElement} */ (byId("ask-button")).disabled = running != null || selectedKb() == null;
}

/** @param {boolean} streaming */
function setStreaming(streaming) {
    byId("stop-button").hidden = !streaming;
    updateAskButton();
}

/** @returns {Record<string, number | string>} topK, mode and the thresholds when set in the advanced settings */
function advancedSettings() {
    /** @type {Record<string, number | string>} */
    const settings = {};
    const value = (/** @type {string} */ id) => /** @type {HTMLInputElement | HTMLSelectElement} */ (byId(id)).value;
    if (value("topk-input") !== "") settings.topK = Number(value("topk-input"));
    if (value("mode-input") !== "") settings.mode = value("mode-input");
    if (value("threshold-input") !== "") settings.scoreThreshold = Number(value("threshold-input"));
    if (value("lexical-threshold-input") !== "") settings.lexicalThreshold = Number(value("lexical-threshold-input"));
    return settings;
}

/** @param {string} question */
async function ask(question) {
    const kb = selectedKb();
    if (question === "" || kb == null || running != null) return;
    /** @type {HTMLTextAreaElement} */ (byId("question-input")).value = "";
    const history = earlierMessages.slice(-HISTORY_MESSAGES);
    const turn = addTurn(question, kb, history);
    await stream(turn, { question, kb, history }, false);
}

/**
 * Adds a turn that can be regenerated while it is the last one.
 * @param {string} question
 * @param {string} kb
 * @param {Array<{ role: "user" | "assistant", content: string }>} history the messages before it
 * @returns {Turn}
 */
function addTurn(question, kb, history) {
    const turn = createTurn(question, kb, () => {
        if (running != null || lastTurn !== turn) return;
        earlierMessages.splice(-2, 2);
        turn.restart();
        void stream(turn, { question, kb, history }, true);
    });
    lastTurn = turn;
    return turn;
}

/**
 * Streams the answer to a question into its turn, then saves the turn in the conversation.
 * @param {Turn} turn
 * @param {{ question: string, kb: string, history: Array<{ role: "user" | "assistant", content: string }> }} request
 * @param {boolean} regenerated the turn replaces the conversation's last one
 */
async function stream(turn, request, regenerated) {
    const controller = new AbortController();
    running = controller;
    setStreaming(true);
    const askedAt = new Date().toISOString();
    /** @type {AnswerSource[]} */
    let answerSources = [];
    try {
        await askStreaming({ ...request, ...advancedSettings() }, {
            onSources: (sources) => {
                answerSources = sources;
                turn.showSources(sources);
            },
            onToken: (text) => turn.append(text),
            onDone: ({ answer, refused }) => {
                turn.finish(answer, refused);
                earlierMessages.push({ role: "user", content: request.question }, { role: "assistant", content: answer });
                clearProblem("action");
                void saveTurn(request.kb, { question: request.question, answer, refused, sources: answerSources.map(savedSource), askedAt }, { replaceLast: regenerated });
            },
        }, controller.signal);
    } catch (error) {
        if (controller.signal.aborted) turn.fail("stopped");
        else turn.fail("answerFailed", messageOf(error));
    } finally {
        running = null;
        setStreaming(false);
    }
}

/**
 * @typedef {object} Turn
 * @property {(sources: AnswerSource[]) => void} showSources
 * @property {(text: string) => void} append
 * @property {(answer: string, refused: boolean) => void} finish
 * @property {(key: "stopped" | "answerFailed", message?: string) => void} fail
 * @property {() => void} restart empties the answer for another try
 */

/**
 * Adds a question and its (empty) answer to the conversation.
 * @param {string} question
 * @param {string} kb the knowledge base it is asked of
 * @param {() => void} onRegenerate
 * @returns {Turn}
 */
function createTurn(question, kb, onRegenerate) {
    const id = `turn-${++turnCount}`;
    const answerText = el("div", { className: "text markdown", testId: "answer" });
    const status = el("p", { className: "status", testId: "answer-status" });
    setMessage(status, "thinking");
    const refusal = el("span", { className: "badge", testId: "refusal-label" });
    setMessage(refusal, "refusedLabel");
    refusal.hidden = true;
    const sourceList = el("ol", { className: "source-list", testId: "source-list" });
    const sourcesHeading = el("h3");
    setMessage(sourcesHeading, "sources");
    const scoreMeaning = el("p", { className: "hint", testId: "score-meaning" });
    const sourcesSection = el("section", { className: "sources" }, [sourcesHeading, scoreMeaning, sourceList]);
    sourcesSection.hidden = true;
    const copy = el("button", { className: "button ghost small", testId: "copy-answer", attributes: { type: "button" } });
    setMessage(copy, "copy");
    const again = el("button", { className: "button ghost small", testId: "regenerate", attributes: { type: "button" } });
    setMessage(again, "regenerate");
    again.addEventListener("click", onRegenerate);
    const actions = el("div", { className: "answer-actions" }, [copy, again]);
    actions.hidden = true;
    const answerBlock = el("div", { className: "message assistant", testId: "answer-block", attributes: { "data-state": "streaming" } }, [
        el("div", { className: "message-head" }, [speaker("assistant"), refusal]),
        answerText,
        status,
        actions,
        sourcesSection,
    ]);
    const item = el("li", { className: "turn", testId: "turn" }, [
        el("div", { className: "message user" }, [
            el("div", { className: "message-head" }, [speaker("you"), el("span", { className: "turn-kb", testId: "turn-kb" }, [kb])]),
            el("p", { className: "text", testId: "question" }, [question]),
        ]),
        answerBlock,
    ]);
    byId("conversation").append(item);
    byId("chat-empty").hidden = true;
    scrollToEnd();

    let text = "";
    /** @type {Set<number>} */
    let cited = new Set();
    copy.addEventListener("click", () => {
        void navigator.clipboard.writeText(text).then(() => setMessage(copy, "copied"));
    });
    return {
        showSources(sources) {
            cited = new Set(sources.map((source) => source.n));
            sourceList.replaceChildren(...sources.map((source) => renderSource(id, kb, source)));
            sourcesSection.hidden = sources.length === 0;
            const meaning = sources[0] != null ? scoreMeaningOf(sources[0]) : null;
            if (meaning != null) setMessage(scoreMeaning, meaning);
        },
        append(chunk) {
            const follow = isNearEnd();
            text += chunk;
            renderAnswer(answerText, text, id, cited);
            if (follow) scrollToEnd();
        },
        finish(answer, refused) {
            text = answer;
            renderAnswer(answerText, text, id, cited);
            answerBlock.dataset.state = refused ? "refused" : "done";
            refusal.hidden = !refused;
            status.hidden = true;
            actions.hidden = false;
            setMessage(copy, "copy");
        },
        fail(key, message) {
            answerBlock.dataset.state = key === "stopped" ? "stopped" : "failed";
            setMessage(status, key, { message: message ?? "" });
            actions.hidden = false;
        },
        restart() {
            text = "";
            cited = new Set();
            answerText.replaceChildren();
            sourceList.replaceChildren();
            sourcesSection.hidden = true;
            refusal.hidden = true;
            actions.hidden = true;
            answerBlock.dataset.state = "streaming";
            status.hidden = false;
            setMessage(status, "thinking");
        },
    };
}

/**
 * A source as a conversation keeps it.
 * @param {AnswerSource} source
 * @returns {import("./conversations.js").SavedSource}
 */
function savedSource(source) {
    return {
        n: source.n, documentId: source.documentId, chunkIndex: source.chunkIndex, name: source.name ?? fileName(source.source),
        ...(source.page != null ? { page: source.page } : {}), ...(source.headingPath != null ? { headingPath: source.headingPath } : {}),
        ...(source.ocr != null ? { ocr: source.ocr } : {}),
        score: source.score, text: source.text,
    };
}

/**
 * What the sources' scores mean, from which scores they carry: the reranker's, the fused
 * ranking's (hybrid), cosine similarity (dense) or BM25 (bm25).
 * @param {AnswerSource} source
 * @returns {import("./i18n.js").MessageKey | null}
 */
function scoreMeaningOf(source) {
    const scores = source.scores ?? {};
    if (scores.rerank != null) return "scoreMeaning_rerank";
    if (scores.fused != null) return "scoreMeaning_fused";
    if (scores.dense != null) return "scoreMeaning_dense";
    if (scores.lexical != null) return "scoreMeaning_lexical";
    return null;
}

/** @param {"you" | "assistant"} who */
function speaker(who) {
    const label = el("span", { className: "who" });
    setMessage(label, who);
    return label;
}

/**
 * Renders answer text as sanitised markdown, turning citations of known sources into buttons
 * (outside code, where "[1]" is code).
 * @param {HTMLElement} target
 * @param {string} text
 * @param {string} turnId
 * @param {Set<number>} cited the source numbers this answer was given
 */
function renderAnswer(target, text, turnId, cited) {
    const fragment = markdownFragment(text);
    const walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT, {
        acceptNode: (node) => (node.parentElement?.closest("code, pre, a") != null ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    /** @type {Text[]} */
    const textNodes = [];
    while (walker.nextNode() != null) textNodes.push(/** @type {Text} */ (walker.currentNode));
    for (const node of textNodes) {
        const value = node.data;
        /** @type {Array<Node | string>} */
        const parts = [];
        let last = 0;
        for (const match of value.matchAll(/[[【](\d{1,3})[\]】]/g)) {
            const n = Number(match[1]);
            if (!cited.has(n)) continue;
            parts.push(value.slice(last, match.index), citationButton(turnId, n, match[0]));
            last = match.index + match[0].length;
        }
        if (parts.length === 0) continue;
        parts.push(value.slice(last));
        node.replaceWith(...parts);
    }
    target.replaceChildren(fragment);
}

/**
 * @param {string} turnId
 * @param {number} n
 * @param {string} label the citation as the model wrote it
 */
function citationButton(turnId, n, label) {
    const button = el("button", { className: "citation", testId: "citation", attributes: { type: "button", "data-source": String(n) } }, [label]);
    setLabel(button, "citationLabel", { n });
    button.addEventListener("click", () => highlightSource(turnId, n));
    return button;
}

/**
 * @param {string} turnId
 * @param {number} n
 */
function highlightSource(turnId, n) {
    const card = document.getElementById(`${turnId}-source-${n}`);
    if (card == null) return;
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    card.focus({ preventScroll: true });
    card.classList.remove("highlight");
    void card.offsetWidth; // restarts the highlight animation when the same citation is clicked again
    card.classList.add("highlight");
}

/**
 * @param {string} turnId
 * @param {string} kb
 * @param {AnswerSource} source
 */
function renderSource(turnId, kb, source) {
    const head = el("div", { className: "source-head" }, [
        el("span", { className: "source-n" }, [`[${source.n}]`]),
        el("span", { className: "source-name", testId: "source-name", attributes: { title: source.source } }, [source.name ?? fileName(source.source)]),
    ]);
    if (source.page != null) {
        const page = el("span", { className: "source-page" });
        setMessage(page, "sourcePage", { page: source.page });
        head.append(page);
    }
    if (source.ocr != null) {
        // Read from a picture: the text may hold recognition errors.
        const ocr = el("span", { className: "source-ocr", testId: "source-ocr" });
        setMessage(ocr, "sourceOcr", { confidence: Math.round(source.ocr.confidence * 100) });
        head.append(ocr);
    }
    const score = el("span", { className: "source-score", testId: "source-score" });
    setMessage(score, "sourceScore", { score: source.score.toFixed(3) });
    head.append(score);
    const card = el("li", {
        className: "source-card",
        testId: "source-card",
        attributes: { id: `${turnId}-source-${source.n}`, tabindex: "-1", "data-source": String(source.n) },
    }, [head]);
    if (source.headingPath != null && source.headingPath.length > 0) {
        card.append(el("p", { className: "source-heading" }, [source.headingPath.join(" › ")]));
    }
    card.append(el("p", { className: "source-text", testId: "source-text" }, [source.text]));
    const open = el("button", { className: "button ghost small", testId: "source-open", attributes: { type: "button" } });
    setMessage(open, "openDocumentLabel", { name: source.name ?? fileName(source.source) });
    open.addEventListener("click", () => void openDocument(kb, source.documentId, source.chunkIndex));
    card.append(open);
    return card;
}

/** @param {string} path */
function fileName(path) {
    return path.split(/[\\/]/).pop() ?? path;
}

/** Whether the reader is at the end of the conversation, rather than scrolled up to read. */
function isNearEnd() {
    const conversation = byId("conversation");
    return conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 80;
}

function scrollToEnd() {
    const conversation = byId("conversation");
    conversation.scrollTop = conversation.scrollHeight;
}
