import { createHash } from "node:crypto";

/** SHA-256 (hex) of a document's normalised text: the identity used to skip unchanged and duplicate files. */
export function contentHash(normalizedSections: readonly string[]): string {
    const hash = createHash("sha256");
    for (const text of normalizedSections) hash.update(text).update("\u0000");
    return hash.digest("hex");
}
