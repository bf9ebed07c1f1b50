import { EmbedderMismatchError } from "../errors.js";
import type { EmbedderIdentity } from "../models/models.js";
import { cosineSimilarity } from "./cosineSimilarity.js";

/**
 * Cosine similarity two fingerprints of the same weights keep: a server computes the same probe
 * vector again up to rounding (batching, threads), while another model, even of the same dimension,
 * lands far below it.
 */
const SAME_WEIGHTS_SIMILARITY = 0.99;

/**
 * Throws `EmbedderMismatchError` unless `configured` gives the vectors of `stored`, the embedder a
 * knowledge base was built with: the same id and dimension, and where both have a fingerprint
 * (remote embedders), nearly the same vector for the probe text.
 */
export function assertSameEmbedder(kb: string, stored: EmbedderIdentity, configured: EmbedderIdentity): void {
    if (stored.id !== configured.id || stored.dimension !== configured.dimension) {
        throw new EmbedderMismatchError(kb, describeEmbedder(stored), describeEmbedder(configured));
    }
    if (stored.fingerprint == null || configured.fingerprint == null) return;
    const similarity = cosineSimilarity(stored.fingerprint, configured.fingerprint);
    if (stored.fingerprint.length !== configured.fingerprint.length || similarity < SAME_WEIGHTS_SIMILARITY) {
        throw new EmbedderMismatchError(kb, describeEmbedder(stored), describeEmbedder(configured),
            `its vector of a probe text has a cosine similarity of ${similarity.toFixed(3)} to the one stored when the knowledge base was built`);
    }
}

function describeEmbedder(embedder: EmbedderIdentity): string {
    return `"${embedder.id}" (${embedder.dimension}-dim)`;
}
