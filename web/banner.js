/**
 * The banner under the header: the page's one place for problems, in the page's language. An
 * action's failure stays until it is dismissed or the next action succeeds; the server's
 * readiness problem (models missing) stays until the server is ready.
 */
import { ApiError } from "./api.js";
import { byId } from "./dom.js";
import { hasMessage, setMessage } from "./i18n.js";

/** @typedef {"action" | "readiness"} ProblemSource */

/** @type {ProblemSource | null} */
let shown = null;

export function initBanner() {
    byId("banner-close").addEventListener("click", () => hide());
}

/**
 * Shows `key` with `args` in the banner.
 * @param {ProblemSource} source
 * @param {import("./i18n.js").MessageKey} key
 * @param {import("./i18n.js").MessageArgs} [args]
 */
export function showProblem(source, key, args) {
    const banner = byId("banner");
    setMessage(byId("banner-text"), key, args);
    banner.dataset.source = source;
    banner.hidden = false;
    shown = source;
}

/**
 * Shows a failed action: `key` says what failed, with the error in the page's language as `{message}`.
 * @param {import("./i18n.js").MessageKey} key
 * @param {unknown} error
 */
export function showActionError(key, error) {
    const { errorKey, message } = describe(error);
    if (errorKey == null) showProblem("action", key, { message });
    else showProblem("action", errorKey, { message });
}

/** @param {ProblemSource} source hides the banner if it shows this source's problem */
export function clearProblem(source) {
    if (shown === source) hide();
}

function hide() {
    byId("banner").hidden = true;
    shown = null;
}

/**
 * The message key of an API error's code when the page has one (its text in the page's language),
 * and the server's own message for `{message}`.
 * @param {unknown} error
 * @returns {{ errorKey: import("./i18n.js").MessageKey | null, message: string }}
 */
function describe(error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof ApiError)) return { errorKey: null, message };
    const key = `error_${error.code}`;
    return { errorKey: hasMessage(key) ? key : null, message };
}
