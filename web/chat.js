/**
 * The conversation: questions go to /ask as a stream, the answer grows as tokens arrive, and its
 * citations ([1], 【2】) become buttons that bring the matching source card into view.
 */
import { askStreaming } from "./api.js";
import { byId, el, messageOf } from "./dom.js";
import { setLabel, setMessage } from "./i18n.js";
import { onKbChange, selectedKb } from "./knowledgeBases.js";

/** @typedef {import("./api.js").AnswerSource} AnswerSource */

/** How many earlier messages (questions and answers) go with a question, to fit small contexts. */
const HISTORY_MESSAGES = 6;

/** @type {Array<{ role: "user" | "assistant", content: string }>} */
const earlierMessages = [];
/** @type {AbortController | null} */
let running = null;
let turnCount = 0;

export function initChat() {
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
    onKbChange(updateAskButton);
    updateAskButton();
}

function updateAskButton() {
    /** @type {HTMLButtonElement} */ (byId("ask-button")).disabled = running != null || selectedKb() == null;
}

/** @param {boolean} streaming */
function setStreaming(streaming) {
    byId("stop-button").hidden = !streaming;
    updateAskButton();
}

/** @returns {Record<string, number | string>} topK, mode and scoreThreshold when set in the advanced settings */
function advancedSettings() {
    /** @type {Record<string, number | string>} */
    const settings = {};
    const topK = /** @type {HTMLInputElement} */ (byId("topk-input")).value;
    const mode = /** @type {HTMLSelectElement} */ (byId("mode-input")).value;
    const threshold = /** @type {HTMLInputElement} */ (byId("threshold-input")).value;
    if (topK !== "") settings.topK = Number(topK);
    if (mode !== "") settings.mode = mode;
    if (threshold !== "") settings.scoreThreshold = Number(threshold);
    return settings;
}

/** @param {string} question */
async function ask(question) {
    const kb = selectedKb();
    if (question === "" || kb == null || running != null) return;
    /** @type {HTMLTextAreaElement} */ (byId("question-input")).value = "";
    const turn = createTurn(question);
    const controller = new AbortController();
    running = controller;
    setStreaming(true);
    try {
        await askStreaming({ question, kb, history: earlierMessages.slice(-HISTORY_MESSAGES), ...advancedSettings() }, {
            onSources: (sources) => turn.showSources(sources),
            onToken: (text) => turn.append(text),
            onDone: ({ answer, refused }) => {
                turn.finish(answer, refused);
                earlierMessages.push({ role: "user", content: question }, { role: "assistant", content: answer });
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
 */

/**
 * Adds a question and its (empty) answer to the conversation.
 * @param {string} question
 * @returns {Turn}
 */
function createTurn(question) {
    const id = `turn-${++turnCount}`;
    const answerText = el("p", { className: "text", testId: "answer" });
    const status = el("p", { className: "status", testId: "answer-status" });
    setMessage(status, "thinking");
    const refusal = el("span", { className: "badge", testId: "refusal-label" });
    setMessage(refusal, "refusedLabel");
    refusal.hidden = true;
    const sourceList = el("ol", { className: "source-list", testId: "source-list" });
    const sourcesHeading = el("h3");
    setMessage(sourcesHeading, "sources");
    const sourcesSection = el("section", { className: "sources" }, [sourcesHeading, sourceList]);
    sourcesSection.hidden = true;
    const answerBlock = el("div", { className: "message assistant", testId: "answer-block", attributes: { "data-state": "streaming" } }, [
        el("div", { className: "message-head" }, [speaker("assistant"), refusal]),
        answerText,
        status,
        sourcesSection,
    ]);
    const item = el("li", { className: "turn", testId: "turn" }, [
        el("div", { className: "message user" }, [
            el("div", { className: "message-head" }, [speaker("you")]),
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
    return {
        showSources(sources) {
            cited = new Set(sources.map((source) => source.n));
            sourceList.replaceChildren(...sources.map((source) => renderSource(id, source)));
            sourcesSection.hidden = sources.length === 0;
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
            status.remove();
        },
        fail(key, message) {
            answerBlock.dataset.state = key === "stopped" ? "stopped" : "failed";
            setMessage(status, key, { message: message ?? "" });
        },
    };
}

/** @param {"you" | "assistant"} who */
function speaker(who) {
    const label = el("span", { className: "who" });
    setMessage(label, who);
    return label;
}

/**
 * Renders answer text, turning citations of known sources into buttons. Everything else is text.
 * @param {HTMLElement} target
 * @param {string} text
 * @param {string} turnId
 * @param {Set<number>} cited the source numbers this answer was given
 */
function renderAnswer(target, text, turnId, cited) {
    /** @type {Array<Node | string>} */
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(/[[【](\d{1,3})[\]】]/g)) {
        const n = Number(match[1]);
        if (!cited.has(n)) continue;
        parts.push(text.slice(last, match.index), citationButton(turnId, n, match[0]));
        last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    target.replaceChildren(...parts);
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
 * @param {AnswerSource} source
 */
function renderSource(turnId, source) {
    const head = el("div", { className: "source-head" }, [
        el("span", { className: "source-n" }, [`[${source.n}]`]),
        el("span", { className: "source-name", testId: "source-name", attributes: { title: source.source } }, [source.name ?? fileName(source.source)]),
    ]);
    if (source.page != null) {
        const page = el("span", { className: "source-page" });
        setMessage(page, "sourcePage", { page: source.page });
        head.append(page);
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
