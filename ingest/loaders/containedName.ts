/** Longest name kept for a file inside another, in characters. */
const MAX_NAME_CHARS = 255;

/**
 * The name under which a file found inside another (a zip entry, an attachment) is shown and
 * stored: its path made relative and `/`-separated, without control characters. Undefined when
 * the name cannot be confined: it climbs out (`..`), or is empty once cleaned. A name is only ever
 * appended to its container's name; nothing is written to disk under it.
 */
export function containedName(raw: string): string | undefined {
    // eslint-disable-next-line no-control-regex -- control characters are what is removed
    const parts = raw.replace(/[\u0000-\u001f\u007f]/g, "").replace(/\\/g, "/").split("/")
        .map((part) => part.trim())
        .filter((part) => part !== "" && part !== ".");
    if (parts.includes("..")) return undefined;
    // A drive letter (C:) makes no sense inside an archive.
    if (parts.length > 0 && /^[a-z]:$/i.test(parts[0]!)) parts.shift();
    const name = parts.join("/");
    if (name === "") return undefined;
    return name.length > MAX_NAME_CHARS ? name.slice(name.length - MAX_NAME_CHARS) : name;
}

/** Whether a confined name is hidden or system clutter (a dot-file, macOS's `__MACOSX` folder), skipped as folders' dot-files are. */
export function isClutter(name: string): boolean {
    return name.split("/").some((part) => part.startsWith(".") || part === "__MACOSX");
}
