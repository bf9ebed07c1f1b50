import fs from "node:fs/promises";
import { z } from "zod";
import { YizhiError } from "../errors.js";

export type EvalFormat = "squad" | "rgb";

/** A passage to index: one document of the temporary knowledge base. */
export interface EvalPassage {
    id: string;
    text: string;
}

export interface EvalQuestion {
    id: string;
    question: string;
    /** Passages whose chunks count as hits. */
    goldPassageIds: string[];
    /** Gold answer texts; for `squad`, a hit chunk must also contain one of them. */
    answers: string[];
    /** SQuAD v2 `is_impossible`: the question is for refusal, not recall. */
    impossible: boolean;
}

export interface EvalSet {
    format: EvalFormat;
    passages: EvalPassage[];
    questions: EvalQuestion[];
    /** Questions left out: empty, or (when answerable) without a gold answer or passage. */
    skippedQuestions: number;
}

/** An evaluation file that cannot be read as the format it was given as. */
export class EvalFileError extends YizhiError {
    public constructor(file: string, problem: string, options?: ErrorOptions) {
        super("invalid_eval_file", `${file}: ${problem}`, options);
    }
}

const squadSchema = z.object({
    data: z.array(z.object({
        paragraphs: z.array(z.object({
            context: z.string(),
            qas: z.array(z.object({
                id: z.union([z.string(), z.number()]).optional(),
                question: z.string(),
                answers: z.array(z.object({ text: z.string() })).default([]),
                is_impossible: z.boolean().optional(),
            })),
        })),
    })),
});

const rgbLineSchema = z.object({
    id: z.union([z.string(), z.number()]).optional(),
    query: z.string().min(1),
    answer: z.array(z.union([z.string(), z.array(z.string())])),
    positive: z.array(z.string()),
    negative: z.array(z.string()).default([]),
});

/** The file's format from its name: `.jsonl` is RGB, anything else SQuAD. */
export function guessEvalFormat(file: string): EvalFormat {
    return file.toLowerCase().endsWith(".jsonl") ? "rgb" : "squad";
}

/**
 * Reads an evaluation file:
 * - `squad`: SQuAD v1/v2 JSON; each paragraph is a passage, its questions' gold passage;
 * - `rgb`: JSON Lines `{ query, answer, positive, negative }`; the passages are every positive and
 *   negative passage of the file (the same text once), a question's gold passages its positives.
 */
export async function readEvalFile(file: string, format: EvalFormat): Promise<EvalSet> {
    let text: string;
    try {
        text = await fs.readFile(file, "utf8");
    } catch (error) {
        throw new EvalFileError(file, `cannot be read (${(error as Error).message}).`, { cause: error });
    }
    return format === "squad" ? parseSquad(file, text) : parseRgb(file, text);
}

function parseSquad(file: string, text: string): EvalSet {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (error) {
        throw new EvalFileError(file, `is not JSON (${(error as Error).message}). A SQuAD file is one JSON object; for JSON Lines use --format rgb.`, { cause: error });
    }
    const parsed = squadSchema.safeParse(json);
    if (!parsed.success) throw new EvalFileError(file, `is not in SQuAD format: ${describeIssues(parsed.error)}`);
    const passages: EvalPassage[] = [];
    const questions: EvalQuestion[] = [];
    let skippedQuestions = 0;
    for (const article of parsed.data.data) {
        for (const paragraph of article.paragraphs) {
            const passageId = `p${passages.length}`;
            passages.push({ id: passageId, text: paragraph.context });
            for (const qa of paragraph.qas) {
                const impossible = qa.is_impossible === true;
                const answers = unique(qa.answers.map((answer) => answer.text).filter((answer) => answer.trim() !== ""));
                if (qa.question.trim() === "" || (!impossible && answers.length === 0)) {
                    skippedQuestions++;
                    continue;
                }
                questions.push({ id: String(qa.id ?? `q${questions.length}`), question: qa.question, goldPassageIds: [passageId], answers, impossible });
            }
        }
    }
    return requireContent(file, { format: "squad", passages, questions, skippedQuestions });
}

function parseRgb(file: string, text: string): EvalSet {
    const passageIds = new Map<string, string>();
    const passageId = (passage: string) => {
        let id = passageIds.get(passage);
        if (id == null) passageIds.set(passage, id = `p${passageIds.size}`);
        return id;
    };
    const questions: EvalQuestion[] = [];
    let skippedQuestions = 0;
    for (const [i, line] of text.split(/\r?\n/).entries()) {
        if (line.trim() === "") continue;
        let json: unknown;
        try {
            json = JSON.parse(line);
        } catch (error) {
            throw new EvalFileError(file, `line ${i + 1} is not JSON (${(error as Error).message}).`, { cause: error });
        }
        const parsed = rgbLineSchema.safeParse(json);
        if (!parsed.success) throw new EvalFileError(file, `line ${i + 1} is not an RGB record { query, answer, positive, negative }: ${describeIssues(parsed.error)}`);
        const record = parsed.data;
        const goldPassageIds = unique(record.positive.filter((passage) => passage.trim() !== "").map(passageId));
        for (const passage of record.negative) if (passage.trim() !== "") passageId(passage);
        if (goldPassageIds.length === 0 || record.query.trim() === "") {
            skippedQuestions++;
            continue;
        }
        questions.push({
            id: String(record.id ?? `q${questions.length}`),
            question: record.query,
            goldPassageIds,
            answers: unique(record.answer.flat().filter((answer) => answer.trim() !== "")),
            impossible: false,
        });
    }
    const passages = [...passageIds].map(([passage, id]) => ({ id, text: passage }));
    return requireContent(file, { format: "rgb", passages, questions, skippedQuestions });
}

function requireContent(file: string, set: EvalSet): EvalSet {
    if (set.passages.length === 0 || set.questions.length === 0)
        throw new EvalFileError(file, `has ${set.passages.length} passages and ${set.questions.length} usable questions; both must be at least 1.`);
    return set;
}

function describeIssues(error: z.ZodError): string {
    return error.issues.slice(0, 3).map((issue) => `${issue.path.join(".") || "(top level)"}: ${issue.message}`).join("; ");
}

function unique<T>(items: readonly T[]): T[] {
    return [...new Set(items)];
}
