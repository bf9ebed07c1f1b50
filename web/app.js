/** Entry point: labels the page in the chosen language and starts each part of the UI. */
import { api, ApiError } from "./api.js";
import { initChat } from "./chat.js";
import { byId } from "./dom.js";
import { applyTranslations, language, setLanguage, setMessage } from "./i18n.js";
import { initKnowledgeBases } from "./knowledgeBases.js";
import { initUpload } from "./upload.js";

/** Shows whether the models are loaded, asking again until they are. */
async function watchReadiness() {
    const status = byId("ready-status");
    try {
        await api("GET", "readyz");
        status.dataset.state = "ready";
        status.title = "";
        setMessage(status, "readyOk");
        return;
    } catch (error) {
        const unreachable = error instanceof ApiError && error.status === 0;
        status.dataset.state = unreachable ? "down" : "loading";
        setMessage(status, unreachable ? "readyDown" : "readyLoading");
        status.title = error instanceof Error ? error.message : ""; // says why, when the models cannot be loaded
    }
    setTimeout(() => void watchReadiness(), 3000);
}

applyTranslations();
byId("lang-toggle").addEventListener("click", () => setLanguage(language() === "en" ? "zh-CN" : "en"));
initKnowledgeBases();
initUpload();
initChat();
void watchReadiness();
