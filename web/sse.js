/**
 * Parses a text/event-stream body (https://html.spec.whatwg.org/multipage/server-sent-events.html)
 * into events, however the bytes are split across network reads: a read may end in the middle of
 * an event, of a line, or of a multi-byte UTF-8 character.
 * @param {ReadableStream<BufferSource>} body
 * @returns {AsyncGenerator<{ event: string, data: string }>}
 */
export async function* readServerSentEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "";
    /** @type {string[]} */
    let data = [];
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            buffer += value;
            // A trailing \r may be the first half of \r\n: it waits for the next read.
            const lines = buffer.split(/\r\n|\n|\r(?!$)/);
            buffer = lines.pop() ?? "";
            for (const line of lines) {
                if (line === "") {
                    if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
                    event = "";
                    data = [];
                    continue;
                }
                const [field, value] = splitField(line);
                if (field === "event") event = value;
                else if (field === "data") data.push(value);
            }
        }
    } finally {
        // Stops the download when the caller stops early (an error event, or its own exception).
        await reader.cancel().catch(() => undefined);
    }
}

/**
 * The events of a text/event-stream body received so far, leaving out a last one not yet ended
 * by its blank line (XMLHttpRequest gives the body as one growing string).
 * @param {string} text
 * @returns {Array<{ event: string, data: string }>}
 */
export function completeEvents(text) {
    const blocks = text.split(/\r\n\r\n|\n\n|\r\r/);
    blocks.pop();
    /** @type {Array<{ event: string, data: string }>} */
    const events = [];
    for (const block of blocks) {
        let event = "";
        /** @type {string[]} */
        const data = [];
        for (const line of block.split(/\r\n|\n|\r/)) {
            const [field, value] = splitField(line);
            if (field === "event") event = value;
            else if (field === "data") data.push(value);
        }
        if (data.length > 0) events.push({ event: event || "message", data: data.join("\n") });
    }
    return events;
}

/**
 * `field: value`, one space after the colon dropped; a line starting with a colon is a comment.
 * @param {string} line
 * @returns {[string, string]}
 */
function splitField(line) {
    const colon = line.indexOf(":");
    if (colon === -1) return [line, ""];
    const value = line.slice(colon + 1);
    return [line.slice(0, colon), value.startsWith(" ") ? value.slice(1) : value];
}
