/**
 * Model output as markdown that never runs: marked parses it, any HTML the model wrote is shown
 * as text, and DOMPurify removes whatever could still run or load (scripts, handlers, styles,
 * images, frames, forms, `javascript:` links) before the result reaches the page.
 */
import { Marked } from "./vendor/marked.js";
import DOMPurify from "./vendor/purify.js";

const marked = new Marked({
    gfm: true,
    breaks: true,
    async: false,
    renderer: {
        // Raw HTML in the answer is text, as a person reading it would expect from a chat.
        html: ({ text }) => escapeHtml(text),
    },
});

/**
 * Parses `text` as markdown into sanitised nodes.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function markdownFragment(text) {
    const html = /** @type {string} */ (marked.parse(text));
    const fragment = DOMPurify.sanitize(html, {
        RETURN_DOM_FRAGMENT: true,
        FORBID_TAGS: ["img", "picture", "video", "audio", "source", "iframe", "object", "embed", "form", "input", "button", "style", "svg", "math"],
        FORBID_ATTR: ["style", "id", "class"],
    });
    for (const link of fragment.querySelectorAll("a")) {
        link.target = "_blank";
        link.rel = "noopener noreferrer nofollow";
    }
    return fragment;
}

/** @param {string} text */
function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
