/**
 * Builds DOM without ever parsing HTML: strings become text nodes (`append` never parses), so file
 * names, knowledge-base names, chunk texts and model output are always shown literally.
 */

/**
 * @typedef {object} ElementOptions
 * @property {string} [className]
 * @property {string} [testId] the `data-testid` tests find the element by
 * @property {Record<string, string>} [attributes]
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElementOptions} [options]
 * @param {Array<Node | string>} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, options = {}, children = []) {
    const element = document.createElement(tag);
    if (options.className != null) element.className = options.className;
    if (options.testId != null) element.dataset.testid = options.testId;
    for (const [name, value] of Object.entries(options.attributes ?? {})) element.setAttribute(name, value);
    element.append(...children);
    return element;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
    const element = document.getElementById(id);
    if (element == null) throw new Error(`#${id} is missing from index.html`);
    return element;
}

/** @param {unknown} error */
export function messageOf(error) {
    return error instanceof Error ? error.message : String(error);
}
