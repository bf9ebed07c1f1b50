import fs from "node:fs/promises";
import path from "node:path";
import { YizhiError } from "../errors.js";
import { packageRoot } from "../packageRoot.js";
import type { PromptOverride } from "../store/storage.js";
import type { Language } from "./language.js";

const CONTEXT = "{context}";
const QUESTION = "{question}";

/** A prompt template with `{context}` and `{question}` placeholders, each appearing once. */
export class PromptTemplate {
    private constructor(private readonly before: string, private readonly between: string, private readonly after: string) {}

    public static parse(text: string, origin: string): PromptTemplate {
        const contextAt = text.indexOf(CONTEXT);
        const questionAt = text.indexOf(QUESTION);
        const once = (at: number, placeholder: string) => at >= 0 && text.indexOf(placeholder, at + 1) < 0;
        if (!once(contextAt, CONTEXT) || !once(questionAt, QUESTION) || questionAt < contextAt) {
            throw new YizhiError("invalid_prompt_template",
                `The prompt template ${origin} must contain ${CONTEXT} once, followed by ${QUESTION} once.`);
        }
        return new PromptTemplate(
            text.slice(0, contextAt),
            text.slice(contextAt + CONTEXT.length, questionAt),
            text.slice(questionAt + QUESTION.length),
        );
    }

    /** The template with its placeholders replaced; nothing in `context` or `question` is interpreted. */
    public fill(context: string, question: string): string {
        return this.before + context + this.between + question + this.after;
    }
}

/** The template for a language: the knowledge base's own when it has one, else Yizhi's `prompts/<language>.txt`. */
export async function loadPromptTemplate(language: Language, override?: PromptOverride): Promise<PromptTemplate> {
    if (override != null) return PromptTemplate.parse(override.text, override.origin);
    const file = path.join(packageRoot, "prompts", `${language}.txt`);
    let text: string;
    try {
        text = await fs.readFile(file, "utf8");
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new YizhiError("missing_prompt_template", `No prompt template for "${language}" in ${file}.`);
        throw error;
    }
    return PromptTemplate.parse(text, file);
}
