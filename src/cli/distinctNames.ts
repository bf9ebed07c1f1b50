/**
 * Each of `paths` by its last few segments: the file name alone, unless another path has the
 * same one, then as many folders above it as it takes to tell them apart.
 */
export function distinctNames(paths: readonly string[]): string[] {
    const segments = paths.map((item) => item.split(/[\\/]/).filter((segment) => segment !== ""));
    const tail = (parts: readonly string[], count: number) => parts.slice(-count).join("/");
    return segments.map((parts, i) => {
        for (let count = 1; count < parts.length; count++) {
            const name = tail(parts, count);
            if (segments.every((other, j) => j === i || paths[j] === paths[i] || tail(other, count) !== name)) return name;
        }
        return parts.join("/");
    });
}
