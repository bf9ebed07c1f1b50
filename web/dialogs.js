/**
 * Page dialogs built on <dialog>: window.confirm and window.prompt block the page, cannot be
 * styled or translated, and a password typed into window.prompt is shown in clear.
 */
import { byId } from "./dom.js";
import { setMessage } from "./i18n.js";

/**
 * Asks the user to confirm a destructive action.
 * @param {import("./i18n.js").MessageKey} messageKey
 * @param {import("./i18n.js").MessageArgs} args
 * @returns {Promise<boolean>}
 */
export function confirmAction(messageKey, args) {
    const dialog = /** @type {HTMLDialogElement} */ (byId("confirm-dialog"));
    setMessage(byId("confirm-message"), messageKey, args);
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
        dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    });
}

/** @type {Promise<string | null> | null} */
let pendingKeyRequest = null;

/**
 * Asks for the API key once, however many requests are waiting for it.
 * @param {boolean} rejected whether the server refused the key sent last
 * @returns {Promise<string | null>} the key, or null when the user cancels
 */
export function requestApiKey(rejected) {
    pendingKeyRequest ??= showApiKeyDialog(rejected).finally(() => {
        pendingKeyRequest = null;
    });
    return pendingKeyRequest;
}

/**
 * @param {boolean} rejected
 * @returns {Promise<string | null>}
 */
function showApiKeyDialog(rejected) {
    const dialog = /** @type {HTMLDialogElement} */ (byId("api-key-dialog"));
    const input = /** @type {HTMLInputElement} */ (byId("api-key-input"));
    byId("api-key-invalid").hidden = !rejected;
    input.value = "";
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
    return new Promise((resolve) => {
        dialog.addEventListener("close", () => {
            const key = input.value.trim();
            resolve(dialog.returnValue === "submit" && key !== "" ? key : null);
        }, { once: true });
    });
}
