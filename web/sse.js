/**
 * Parses a text/event-stream body (https://html.spec.whatwg.org/multipage/server-sent-events.html)
 * into events, however the bytes are split across network reads: a read may end in the middle of
 * an event, of a line, or of a multi-byte UTF-8 character.
 * @param {ReadableStream<BufferSource>} body
 * @returns {AsyncGenerator<{ event: string, data: string }>}
 */
export async function* readServerSentEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const take = eventAssembler();
    let buffer = "";
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            buffer += value;
            const lines = buffer.split(LINE_BREAK);
            buffer = lines.pop() ?? "";
            for (const line of lines) {
                const event = take(line);
                if (event != null) yield event;
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
    const lines = text.split(LINE_BREAK);
    lines.pop(); // a line not yet ended
    const take = eventAssembler();
    /** @type {Array<{ event: string, data: string }>} */
    const events = [];
    for (const line of lines) {
        const event = take(line);
        if (event != null) events.push(event);
    }
    return events;
}

/** A trailing \r may be the first half of \r\n: it waits for more text. */
const LINE_BREAK = /\r\n|\n|\r(?!$)/;

/**
 * Gathers lines into events: each line given, it returns the event that a blank line completes.
 * @returns {(line: string) => { event: string, data: string } | undefined}
 */
function eventAssembler() {
    let event = "";
    /** @type {string[]} */
    let data = [];
    return (line) => {
        if (line === "") {
            const complete = data.length > 0 ? { event: event || "message", data: data.join("\n") } : undefined;
            event = "";
            data = [];
            return complete;
        }
        const [field, value] = splitField(line);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        return undefined;
    };
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
