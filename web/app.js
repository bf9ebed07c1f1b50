/** Entry point: labels the page in the chosen language and starts each part of the UI. */
import { api, ApiError } from "./api.js";
import { clearProblem, initBanner, showProblem } from "./banner.js";
import { initChat } from "./chat.js";
import { initConversations } from "./conversations.js";
import { initDocumentViewer } from "./documentViewer.js";
import { byId } from "./dom.js";
import { applyTranslations, language, setLanguage, setMessage } from "./i18n.js";
import { initKnowledgeBases } from "./knowledgeBases.js";
import { initUpload } from "./upload.js";

const themeStorage = "yizhi.theme";

/**
 * Shows whether the models are loaded, asking again until they are. Models the server lacks are a
 * problem to fix, not a wait: the banner says what to run on the server.
 */
async function watchReadiness() {
    const status = byId("ready-status");
    try {
        await api("GET", "readyz");
        status.dataset.state = "ready";
        status.title = "";
        setMessage(status, "readyOk");
        clearProblem("readiness");
        return;
    } catch (error) {
        const unreachable = error instanceof ApiError && error.status === 0;
        const missing = error instanceof ApiError && error.models?.some((model) => model.error === "model_not_found") === true;
        const failed = error instanceof ApiError && error.models != null && error.models.some((model) => !model.ok);
        status.dataset.state = unreachable ? "down" : failed ? "error" : "loading";
        setMessage(status, unreachable ? "readyDown" : missing ? "readyMissingModels" : "readyLoading");
        status.title = error instanceof Error ? error.message : "";
        if (missing) showProblem("readiness", "readyMissingModelsHelp");
        else if (failed) showProblem("readiness", "readyFailedHelp", { message: error instanceof Error ? error.message : "" });
        else if (unreachable) showProblem("readiness", "error_network");
    }
    setTimeout(() => void watchReadiness(), 3000);
}

/** Light or dark: the system's choice until the toggle picks one, which is remembered. */
function initTheme() {
    const toggle = byId("theme-toggle");
    const system = window.matchMedia("(prefers-color-scheme: dark)");
    const current = () => /** @type {"light" | "dark"} */ (localStorage.getItem(themeStorage) ?? (system.matches ? "dark" : "light"));
    const apply = () => {
        const theme = current();
        document.documentElement.dataset.theme = theme;
        setMessage(toggle, theme === "dark" ? "themeLight" : "themeDark");
    };
    toggle.addEventListener("click", () => {
        localStorage.setItem(themeStorage, current() === "dark" ? "light" : "dark");
        apply();
    });
    system.addEventListener("change", apply);
    apply();
}

/** On a narrow screen the knowledge bases and documents are a drawer over the chat. */
function initDrawer() {
    const toggle = byId("drawer-toggle");
    const side = byId("side");
    /** @param {boolean} open */
    const setOpen = (open) => {
        side.dataset.open = String(open);
        toggle.setAttribute("aria-expanded", String(open));
    };
    toggle.addEventListener("click", () => setOpen(side.dataset.open !== "true"));
    document.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && side.dataset.open === "true") setOpen(false);
    });
    // Choosing a knowledge base is what the drawer was opened for; a click beside it closes it too.
    document.addEventListener("click", (event) => {
        if (side.dataset.open !== "true" || !(event.target instanceof Element)) return;
        if (event.target.closest(".kb-item") != null || (!side.contains(event.target) && !toggle.contains(event.target))) setOpen(false);
    });
    setOpen(false);
}

/** `/` anywhere but in a text field puts the cursor in the question box. */
function initShortcuts() {
    document.addEventListener("keydown", (event) => {
        if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
        const target = /** @type {HTMLElement | null} */ (event.target);
        if (target != null && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
        event.preventDefault();
        byId("question-input").focus();
    });
}

applyTranslations();
byId("lang-toggle").addEventListener("click", () => setLanguage(language() === "en" ? "zh-CN" : "en"));
initBanner();
initTheme();
initDrawer();
initShortcuts();
initDocumentViewer();
initKnowledgeBases();
initUpload();
initChat();
initConversations();
void watchReadiness();
