import { decodeText } from "../decode.js";
import type { Loader } from "./types.js";

/** Plain text, as one section. */
export const loadText: Loader = async (bytes) => {
    const { text, encoding } = decodeText(bytes);
    return { sections: [{ text }], encoding };
};
