import type { Config } from "../config/schema.js";

export type Language = "zh" | "en";

const hanCharacter = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;

/** The language to answer in: the configured one, or with `auto`, Chinese when the question has a Chinese character. */
export function answerLanguageFor(question: string, setting: Config["answerLanguage"]): Language {
    if (setting !== "auto") return setting;
    return hanCharacter.test(question) ? "zh" : "en";
}

/** The fixed answer when nothing relevant was found; it is never generated. */
export const refusalText: Record<Language, string> = {
    zh: "根据已知信息无法回答该问题",
    en: "The question cannot be answered from the known information.",
};
