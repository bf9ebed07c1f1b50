/**
 * Tokens `text` takes, estimated for a server that cannot count them: 1.2 per character outside
 * ASCII (Chinese takes 0.6–1.5 a character in the tokenizers of Qwen, Llama 3 and BGE) and one per
 * 3 ASCII characters (about 4 in English), so that what is packed by it fits.
 */
export function estimateTokens(text: string): number {
    let ascii = 0;
    let other = 0;
    for (const character of text) {
        if (character.charCodeAt(0) < 0x80) ascii++;
        else other++;
    }
    return Math.ceil(other * 1.2 + ascii / 3) + 1;
}
