import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { describe, it } from "node:test";
import { normalizeText } from "../ingest/normalize.js";
import { splitSections, type SplitterOptions, type SplitterSection, type TextChunk } from "../ingest/splitter.js";
import { fixture, mulberry32 } from "./helpers.js";

/** Length in Unicode code points, the splitter's unit. */
function codePoints(text: string): number {
    return [...text].length;
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks the properties every split must have, for one section split on its own: size, offsets,
 * well-formed text, overlap that is the previous chunk's tail and at most `chunkOverlap`, forward
 * progress, and no non-whitespace character left out.
 */
function assertSplitInvariants(text: string, options: SplitterOptions, chunks: readonly TextChunk[]): void {
    const covered = new Uint8Array(text.length);
    chunks.forEach((chunk, i) => {
        assert.equal(chunk.index, i, "indexes run from 0 in order");
        assert.ok(codePoints(chunk.text) <= options.chunkSize, `chunk ${i} has ${codePoints(chunk.text)} > ${options.chunkSize} code points`);
        assert.ok(chunk.text.length > 0, `chunk ${i} is empty`);
        assert.equal(chunk.text, chunk.text.trim(), `chunk ${i} is not trimmed`);
        assert.ok(text.slice(chunk.start).startsWith(chunk.text), `chunk ${i} is not at its start offset ${chunk.start}`);
        assert.doesNotMatch(chunk.text, loneSurrogate, `chunk ${i} splits a surrogate pair`);
        covered.fill(1, chunk.start, chunk.start + chunk.text.length);

        const previous = chunks[i - 1];
        if (previous == null) return;
        const previousEnd = previous.start + previous.text.length;
        assert.ok(chunk.start > previous.start, `chunk ${i} does not start after chunk ${i - 1}`);
        assert.ok(chunk.start + chunk.text.length > previousEnd, `chunk ${i} adds nothing after chunk ${i - 1}`);
        if (chunk.start < previousEnd) {
            const overlap = text.slice(chunk.start, previousEnd);
            assert.ok(codePoints(overlap) <= options.chunkOverlap,
                `chunks ${i - 1} and ${i} share ${codePoints(overlap)} > ${options.chunkOverlap} characters`);
            assert.ok(previous.text.endsWith(overlap), `the overlap of chunk ${i} is not the tail of chunk ${i - 1}`);
            assert.ok(chunk.text.startsWith(overlap));
        }
    });
    for (let i = 0; i < text.length; i++) {
        if (covered[i] === 0 && /\S/.test(text[i]!))
            assert.fail(`character ${JSON.stringify(text[i])} at ${i} is in no chunk: …${text.slice(Math.max(0, i - 20), i + 20)}…`);
    }
}

function split(text: string, options: SplitterOptions): TextChunk[] {
    const chunks = splitSections([{ text }], options);
    assertSplitInvariants(text, options, chunks);
    return chunks;
}

function texts(chunks: readonly TextChunk[]): string[] {
    return chunks.map((chunk) => chunk.text);
}

describe("splitSections: size", () => {
    it("measures size in code points, so a chunk of emoji may hold chunkSize of them", () => {
        const text = "😀".repeat(45);
        const chunks = split(text, { chunkSize: 20, chunkOverlap: 0 });
        assert.deepEqual(chunks.map((chunk) => codePoints(chunk.text)), [20, 20, 5]);
        assert.deepEqual(chunks.map((chunk) => chunk.start), [0, 40, 80]);
    });

    it("never cuts a surrogate pair, whatever the mix of emoji, Chinese and separators", () => {
        const random = mulberry32(7);
        const alphabet = ["😀", "𠀀", "👍🏽", "汉", "字", "a", "b", " ", "。", "，", "；", "！", "\n", "\n\n", ". "];
        for (let round = 0; round < 200; round++) {
            const length = 1 + Math.floor(random() * 300);
            let text = "";
            for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)]!;
            const chunkSize = 2 + Math.floor(random() * 40);
            const chunkOverlap = Math.floor(random() * chunkSize);
            split(text, { chunkSize, chunkOverlap });
        }
    });

    it("rejects chunkOverlap >= chunkSize", () => {
        assert.throws(() => splitSections([{ text: "文本。" }], { chunkSize: 10, chunkOverlap: 10 }), RangeError);
        assert.throws(() => splitSections([{ text: "文本。" }], { chunkSize: 10, chunkOverlap: 11 }), RangeError);
        assert.doesNotThrow(() => splitSections([{ text: "文本。" }], { chunkSize: 10, chunkOverlap: 9 }));
    });

    it("keeps a text that fits as one chunk, trimmed, with its offset", () => {
        const chunks = split("  \n短短的一句话。\n ", { chunkSize: 50, chunkOverlap: 10 });
        assert.deepEqual(chunks, [{ text: "短短的一句话。", index: 0, start: 3 }]);
    });

    it("gives no chunks for empty or blank text", () => {
        assert.deepEqual(splitSections([{ text: "" }, { text: " \n\n \t" }], { chunkSize: 10, chunkOverlap: 0 }), []);
    });
});

describe("splitSections: very large inputs", () => {
    const options = { chunkSize: 400, chunkOverlap: 50 };

    it("splits a 150,000-line log file (more lines than a call takes arguments)", () => {
        const lines = Array.from({ length: 150_000 }, (_, i) => `2026-12-01 12:00:${String(i % 60).padStart(2, "0")} INFO request ${i} ok`);
        const text = lines.join("\n");
        const chunks = splitSections([{ text }], options);
        assertSplitInvariants(text, options, chunks);
        assert.ok(chunks.at(-1)!.text.endsWith("request 149999 ok"));
    });

    it("splits a 20 MB line with no separator at all", () => {
        const text = "日志".repeat(10_000_000);
        const chunks = splitSections([{ text }], options);
        assert.equal(chunks.length, Math.ceil(text.length / options.chunkSize));
        assert.ok(chunks.every((chunk) => chunk.text.length <= options.chunkSize));
    });
});

describe("splitSections: sentence punctuation", () => {
    it("keeps 。！？ with the sentence before them", () => {
        const sentences = [
            "今天天气很好，我们去公园散步。", "公园里人很多！", "你想一起去吗？", "我们下午三点出发。",
            "记得带水和帽子！", "路上小心。", "晚上见？", "好的。",
        ];
        const text = sentences.join("");
        for (const chunkSize of [15, 20, 25, 30, 45]) {
            const chunks = split(text, { chunkSize, chunkOverlap: 0 });
            assert.ok(chunks.length > 1);
            for (const chunk of chunks) {
                assert.match(chunk.text, /[。！？]$/, `chunk "${chunk.text}" (chunkSize ${chunkSize}) does not end a sentence`);
                assert.doesNotMatch(chunk.text, /^[。！？，；]/, `chunk "${chunk.text}" starts with punctuation`);
            }
        }
    });

    it("keeps a closing quotation mark with the sentence end inside it", () => {
        const text = "他说：“明天见。”她笑了：“好的！”然后他们分开了。";
        assert.deepEqual(texts(split(text, { chunkSize: 10, chunkOverlap: 0 })), ["他说：“明天见。”", "她笑了：“好的！”", "然后他们分开了。"]);
    });

    it("never starts a chunk with a sentence end, with overlap", () => {
        const text = "第一句话。第二句话！第三句话？第四句话。第五句话。第六句话！第七句话。".repeat(5);
        const chunks = split(text, { chunkSize: 22, chunkOverlap: 10 });
        for (const chunk of chunks) {
            assert.match(chunk.text, /[。！？]$/);
            assert.doesNotMatch(chunk.text, /^[。！？]/);
        }
    });
});

describe("splitSections: the separator ladder", () => {
    it("cuts at blank lines first, even when line breaks would pack more", () => {
        const first = "一二三四。\n五六七八。";
        const second = "甲乙丙丁。\n天地玄黄宇宙洪荒日月盈昃辰宿列张。";
        const text = `${first}\n\n${second}`;
        assert.deepEqual(texts(split(text, { chunkSize: 30, chunkOverlap: 0 })), [first, second]);
    });

    it("cuts at line breaks when a paragraph is too long", () => {
        const lines = ["春眠不觉晓，处处闻啼鸟。", "夜来风雨声，花落知多少。", "床前明月光，疑是地上霜。"];
        assert.deepEqual(texts(split(lines.join("\n"), { chunkSize: 20, chunkOverlap: 0 })), lines);
    });

    it("cuts at 。！？ when a line is too long", () => {
        const sentences = ["今天天气很好，我们去公园散步。", "公园里人很多，大家都很开心！", "你想一起去吗？"];
        assert.deepEqual(texts(split(sentences.join(""), { chunkSize: 20, chunkOverlap: 0 })), sentences);
    });

    it("cuts at ； when a sentence is too long", () => {
        const clauses = ["第一条规定适用于全体员工，包括临时工；", "第二条规定适用于管理人员，包括部门经理；", "第三条另行规定。"];
        assert.deepEqual(texts(split(clauses.join(""), { chunkSize: 20, chunkOverlap: 0 })), clauses);
    });

    it("cuts at ， when a clause is too long", () => {
        const parts = ["虽然今天下着大雨，", "但是我们还是按时出发了，", "一路上大家有说有笑，", "终于在中午到达了目的地。"];
        assert.deepEqual(texts(split(parts.join(""), { chunkSize: 15, chunkOverlap: 0 })), parts);
    });

    it("cuts at English sentence ends, not inside a decimal number", () => {
        const sentences = ["The cat sat on the mat.", "The dog ran in the park!", "Did the bird sing today?", "Pi is about 3.14 today."];
        assert.deepEqual(texts(split(sentences.join(" "), { chunkSize: 30, chunkOverlap: 0 })), sentences);
    });

    it("cuts English text at sentence ends before commas, and never inside 1,000,000", () => {
        const sentences = ["Well, the cat sat, then it slept.", "Sales rose to 1,000,000 units; costs fell.", "Yes, really."];
        const chunks = split(sentences.join(" "), { chunkSize: 45, chunkOverlap: 0 });
        assert.deepEqual(texts(chunks), sentences);
        const clauses = split(sentences[1]!, { chunkSize: 30, chunkOverlap: 0 });
        assert.deepEqual(texts(clauses), ["Sales rose to 1,000,000 units;", "costs fell."]);
    });

    it("cuts at spaces when an English sentence is too long", () => {
        const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split(" ");
        const chunks = split(words.join(" "), { chunkSize: 20, chunkOverlap: 0 });
        assert.ok(chunks.length > 1);
        assert.equal(texts(chunks).join(" "), words.join(" "));
        for (const chunk of chunks) for (const word of chunk.text.split(" ")) assert.ok(words.includes(word), `"${word}" is a cut word`);
    });

    it("cuts hard, at exactly chunkSize, when there is no separator at all", () => {
        const text = "天地玄黄宇宙洪荒日月盈昃".repeat(5);
        const chunks = split(text, { chunkSize: 20, chunkOverlap: 5 });
        assert.deepEqual(chunks.map((chunk) => codePoints(chunk.text)), [20, 20, 20]);
        assert.equal(texts(chunks).join(""), text);
    });
});

describe("splitSections: overlap", () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `这是第${i + 1}个句子。`);
    const text = sentences.join("");

    it("repeats whole trailing sentences of the previous chunk, at most chunkOverlap characters", () => {
        const options = { chunkSize: 40, chunkOverlap: 15 };
        const chunks = split(text, options);
        let overlapping = 0;
        for (let i = 1; i < chunks.length; i++) {
            const previous = chunks[i - 1]!;
            const chunk = chunks[i]!;
            const previousEnd = previous.start + previous.text.length;
            if (chunk.start >= previousEnd) continue;
            overlapping++;
            const overlap = text.slice(chunk.start, previousEnd);
            assert.match(overlap, /^这是第\d+个句子。(这是第\d+个句子。)*$/, `overlap "${overlap}" is not whole sentences`);
        }
        assert.equal(overlapping, chunks.length - 1, "every chunk after the first repeats the previous one's last sentence");
    });

    it("repeats nothing when chunkOverlap is 0", () => {
        const chunks = split(text, { chunkSize: 40, chunkOverlap: 0 });
        assert.equal(texts(chunks).join(""), text);
    });
});

describe("splitSections: sections", () => {
    it("carries page and heading path, numbers chunks across sections, and never spans two sections", () => {
        const sections: SplitterSection[] = [
            { text: "第一章的内容。很短。", page: 1, headingPath: ["第一章"] },
            { text: "第一节的第一句话比较长一些。第一节的第二句话也比较长。第一节的第三句话。", page: 2, headingPath: ["第一章", "第一节"] },
            { text: "  ", page: 3, headingPath: ["空"] },
            { text: "没有标题的一段。", page: 4, headingPath: [] },
            { text: "没有页码的一段。" },
        ];
        const chunks = splitSections(sections, { chunkSize: 20, chunkOverlap: 0 });
        assert.deepEqual(chunks.map((chunk) => chunk.index), chunks.map((_, i) => i));
        assert.deepEqual(chunks.map((chunk) => [chunk.text, chunk.page, chunk.headingPath]), [
            ["第一章的内容。很短。", 1, ["第一章"]],
            ["第一节的第一句话比较长一些。", 2, ["第一章", "第一节"]],
            ["第一节的第二句话也比较长。", 2, ["第一章", "第一节"]],
            ["第一节的第三句话。", 2, ["第一章", "第一节"]],
            ["没有标题的一段。", 4, undefined],
            ["没有页码的一段。", undefined, undefined],
        ]);
        assert.ok(!("headingPath" in chunks[4]!), "an empty heading path is left out");
        assert.ok(!("page" in chunks[5]!));
        for (const chunk of chunks) {
            const section = sections.find((candidate) => candidate.page === chunk.page)!;
            assert.ok(section.text.slice(chunk.start).startsWith(chunk.text));
        }
    });

    it("does not pack two short sections into one chunk", () => {
        const chunks = splitSections([{ text: "短。", page: 1 }, { text: "也短。", page: 2 }], { chunkSize: 100, chunkOverlap: 10 });
        assert.deepEqual(chunks.map((chunk) => [chunk.text, chunk.page, chunk.start]), [["短。", 1, 0], ["也短。", 2, 0]]);
    });
});

describe("splitSections on a real document", () => {
    it("splits the CAS regulations without losing a character", async () => {
        const text = normalizeText(await fs.readFile(fixture("zh", "txt", "zh_cas_regulations_compilation.txt"), "utf8"));
        assert.ok(text.length > 100_000);
        for (const options of [{ chunkSize: 400, chunkOverlap: 50 }, { chunkSize: 120, chunkOverlap: 0 }, { chunkSize: 60, chunkOverlap: 30 }]) {
            const chunks = split(text, options);
            assert.ok(chunks.length > text.length / options.chunkSize);
            for (const chunk of chunks) assert.doesNotMatch(chunk.text, /^[。！？；，]/, `chunk starts with punctuation: ${chunk.text.slice(0, 30)}`);
        }
    });
});

describe("normalizeText", () => {
    it("turns Kangxi radicals into the ordinary characters (U+2F60 → 瓜)", () => {
        assert.equal(normalizeText("\u2F60果"), "瓜果");
        assert.equal(normalizeText("\u2F00\u2F08"), "一人");
    });

    it("makes full-width Latin letters and digits ASCII but keeps Chinese full-width punctuation", () => {
        assert.equal(normalizeText("ＡＢＣ１２３ｘｙｚ"), "ABC123xyz");
        assert.equal(normalizeText("价格（含税）：１００元，请确认；好吗？好！"), "价格（含税）：100元，请确认；好吗？好！");
    });

    it("removes zero-width and control characters", () => {
        assert.equal(normalizeText("\uFEFF中\u200B文\u200C字\u200D符\u2060串\u00AD"), "中文字符串");
        assert.equal(normalizeText("a\u0000b\u0007c\u001Fd\u007Fe\u000Bf\u000Cg"), "abcdefg");
    });

    it("removes spaces between Chinese characters but keeps them between English words", () => {
        assert.equal(normalizeText("中 国 科 学 院"), "中国科学院");
        assert.equal(normalizeText("中国，  科学院。\u3000好"), "中国，科学院。好");
        assert.equal(normalizeText("hello   world\tagain"), "hello world again");
        assert.equal(normalizeText("使用 Node.js 运行"), "使用 Node.js 运行");
    });

    it("makes one kind of newline and at most one blank line in a row", () => {
        assert.equal(normalizeText("一\r\n二\r三\n四"), "一\n二\n三\n四");
        assert.equal(normalizeText("一\n\n\n\n二\r\n\r\n\r\n三"), "一\n\n二\n\n三");
        assert.equal(normalizeText("一 \n \n \n 二"), "一\n\n二");
        assert.equal(normalizeText("\n\n  一  \n\n"), "一");
    });

    it("joins layout line breaks only when asked (reflowLines)", () => {
        const text = "中国科学院是中国自然科学最高\n学术机构。\n它成立于1949年。\nThe informa-\ntion was wrapped\nacross lines.\nNext";
        assert.equal(normalizeText(text), text);
        assert.equal(normalizeText(text, { reflowLines: true }),
            "中国科学院是中国自然科学最高学术机构。\n它成立于1949年。\nThe information was wrapped across lines.\nNext");
    });

    it("does not join a line break after 。, ！ or ？", () => {
        assert.equal(normalizeText("第一句。\n第二句！\n第三句？\n第四句", { reflowLines: true }), "第一句。\n第二句！\n第三句？\n第四句");
    });

    it("is idempotent on a real document", async () => {
        const raw = await fs.readFile(fixture("zh", "txt", "zh_cas_regulations_compilation.txt"), "utf8");
        for (const options of [{}, { reflowLines: true }]) {
            const once = normalizeText(raw, options);
            assert.equal(normalizeText(once, options), once);
            assert.doesNotMatch(once, /\r|\n{3,}|[\u200b\ufeff]/);
        }
    });
});
