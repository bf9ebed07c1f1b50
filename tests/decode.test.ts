import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import iconv from "iconv-lite";
import { decodeText } from "../ingest/decode.js";
import { fixture, makeTempDir } from "./helpers.js";

async function readFixture(...parts: string[]): Promise<Uint8Array> {
    return new Uint8Array(await fs.readFile(fixture(...parts)));
}

describe("decodeText", () => {
    it("reads GB2312 text as GB18030", async () => {
        const { text, encoding } = decodeText(await readFixture("zh", "txt", "zh_gb2312_encoded_wikipedia_classical.txt"));
        assert.equal(encoding, "gb18030");
        assert.ok(text.startsWith("汉语，又称中文"));
        assert.ok(text.includes("汉语族为分析语的一支家族，属汉藏语系"));
        assert.ok(!text.includes("\uFFFD"));
    });

    it("reads Big5 text as traditional characters", async () => {
        const { text, encoding } = decodeText(await readFixture("zh", "txt", "zh_big5_encoded_sample.txt"));
        assert.equal(encoding, "big5");
        assert.ok(text.includes("維基大典（Wikipedia）者，網路為礎"));
        assert.ok(text.includes("文言維基始於丙戌年七夕"));
    });

    it("reads GB18030 HTML that declares no charset", async () => {
        const { text, encoding } = decodeText(await readFixture("zh", "html", "zh_gb18030_html_no_charset.html"));
        assert.equal(encoding, "gb18030");
        assert.ok(text.includes("<title>中国制造的领军者3名</title>"));
        assert.ok(text.includes("马兴瑞，中国航天科技集团公司总经理"));
    });

    it("trusts valid UTF-8 bytes over a page's false gb2312 declaration", async () => {
        const { text, encoding } = decodeText(await readFixture("zh", "html", "readability_qq", "source.html"), { declaredCharset: "gb2312" });
        assert.equal(encoding, "utf-8");
        assert.ok(text.includes("DeepMind新电脑已可利用记忆自学 人工智能迈上新台阶"));
    });

    it("uses a declared charset that decodes cleanly, widening gb2312 to gb18030", async () => {
        const { text, encoding } = decodeText(await readFixture("zh", "html", "zh_gb2312_rss_cnblog.xml"), { declaredCharset: "GB2312" });
        assert.equal(encoding, "gb18030");
        assert.ok(!text.includes("\uFFFD"));
        assert.equal(text.length, 19_057);
    });

    it("ignores a declared charset that the bytes do not decode in, or that is unknown", async () => {
        const big5 = await readFixture("zh", "txt", "zh_big5_encoded_sample.txt");
        assert.equal(decodeText(big5, { declaredCharset: "shift_jis" }).encoding, "big5");
        assert.equal(decodeText(big5, { declaredCharset: "x-no-such-charset" }).encoding, "big5");
    });

    it("honours UTF-8, UTF-16LE and UTF-16BE byte-order marks and strips them", async () => {
        const original = decodeText(await readFixture("zh", "txt", "zh_gb2312_encoded_wikipedia_classical.txt")).text;
        const { dir, cleanup } = await makeTempDir();
        try {
            for (const encoding of ["utf-8", "utf-16le", "utf-16be"] as const) {
                const file = path.join(dir, `${encoding}.txt`);
                await fs.writeFile(file, iconv.encode(original, encoding, { addBOM: true }));
                const decoded = decodeText(new Uint8Array(await fs.readFile(file)));
                assert.equal(decoded.encoding, encoding);
                assert.equal(decoded.text, original);
            }
        } finally {
            await cleanup();
        }
    });

    it("recognises mostly-ASCII UTF-16 without a byte-order mark", async () => {
        const english = decodeText(await readFixture("en", "txt", "en_norwich_city_wikipedia_article.txt")).text.slice(0, 3000);
        for (const encoding of ["utf-16le", "utf-16be"] as const) {
            const decoded = decodeText(iconv.encode(english, encoding));
            assert.equal(decoded.encoding, encoding);
            assert.equal(decoded.text, english);
        }
    });

    it("reads plain UTF-8 as UTF-8", async () => {
        const { text, encoding } = decodeText(await readFixture("zh", "txt", "zh_prompt_engineering_guide_utf8.txt"));
        assert.equal(encoding, "utf-8");
        assert.ok(text.includes("# 如何向 ChatGPT 提问以获得高质量答案：提示技巧工程完全指南"));
    });
});
