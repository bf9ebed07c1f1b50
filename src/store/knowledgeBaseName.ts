import { KnowledgeBaseNameError } from "../errors.js";

/**
 * A knowledge-base name: letters (any script, so Chinese names work), digits, `_`, `-` and `.`,
 * starting with a letter or digit, at most 64 characters. Names are folder names, so nothing that
 * could climb out of the data directory or hide a file (`..`, `/`, NUL) can pass.
 */
export const kbNamePattern = /^[\p{L}\p{N}][\p{L}\p{N}_.-]{0,63}$/u;

export function validateKbName(name: string): string {
    if (!kbNamePattern.test(name)) {
        throw new KnowledgeBaseNameError(
            `"${name}" is not a valid knowledge-base name: use 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
        );
    }
    return name;
}
