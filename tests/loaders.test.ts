import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { parseHTML } from "linkedom";
import { loaderFor, supportedExtensions } from "../ingest/loaders/index.js";
import type { LoadedFile, LoadedSection } from "../ingest/loaders/types.js";
import { defaultParseLimits } from "../ingest/limits.js";
import { assertUnreadable, fixture, loadContext } from "./helpers.js";

async function readFixture(...parts: string[]): Promise<Uint8Array> {
    return new Uint8Array(await fs.readFile(fixture(...parts)));
}

/** Loads bytes with the loader `loaderFor` picks for `fileName`, as the ingest pipeline does. */
async function loadBytes(bytes: Uint8Array, fileName: string): Promise<LoadedFile> {
    const load = loaderFor(fileName);
    assert.ok(load, `no loader for ${fileName}`);
    return load(bytes, fileName, defaultParseLimits, loadContext());
}

async function loadFixture(...parts: string[]): Promise<LoadedFile> {
    return loadBytes(await readFixture(...parts), parts.at(-1) ?? "");
}

function allText(file: LoadedFile): string {
    return file.sections.map((section) => section.text).join("\n");
}

function sectionUnder(file: LoadedFile, headingPath: string[]): LoadedSection {
    const section = file.sections.find((s) => JSON.stringify(s.headingPath) === JSON.stringify(headingPath));
    assert.ok(section, `no section under ${headingPath.join(" > ")}`);
    return section;
}

/** Paragraph texts of readability's own expected extraction, whitespace removed for comparison. */
async function expectedParagraphs(...dir: string[]): Promise<string[]> {
    const { document }: { document: { querySelectorAll(selector: string): Iterable<{ textContent: string | null }> } } =
        parseHTML(await fs.readFile(fixture(...dir, "expected.html"), "utf8"));
    return [...document.querySelectorAll("p")]
        .map((p) => (p.textContent ?? "").replace(/\s+/g, ""))
        .filter((text) => text.length >= 20);
}

describe("loaderFor", () => {
    it("picks a loader by extension, ignoring case", () => {
        for (const name of ["a.txt", "a.md", "a.markdown", "a.PDF", "a.docx", "a.html", "a.htm", "a.xhtml", "a.csv", "a.tsv", "a.xlsx"]) {
            assert.ok(loaderFor(name), name);
            assert.ok(supportedExtensions.includes(path.extname(name).toLowerCase()), name);
        }
        assert.equal(loaderFor("a.exe"), undefined);
        assert.equal(loaderFor("README"), undefined);
    });
});

describe("text loader", () => {
    it("reads GB2312, Big5 and UTF-8 text files", async () => {
        const gb = await loadFixture("zh", "txt", "zh_gb2312_encoded_wikipedia_classical.txt");
        assert.equal(gb.encoding, "gb18030");
        assert.equal(gb.sections.length, 1);
        assert.ok(allText(gb).includes("现代标准汉语，为中华人民共和国的普通话"));

        const big5 = await loadFixture("zh", "txt", "zh_big5_encoded_sample.txt");
        assert.equal(big5.encoding, "big5");
        assert.ok(allText(big5).includes("維基一詞，出焉白話維基"));

        const utf8 = await loadFixture("zh", "txt", "zh_cas_regulations_compilation.txt");
        assert.equal(utf8.encoding, "utf-8");
        assert.ok(allText(utf8).includes("中国科学院章程"));
    });
});

describe("markdown loader", () => {
    it("splits at headings and gives each section the headings above it", async () => {
        const file = await loadFixture("zh", "md", "zh_regulation_procuratorate_admin_litigation_supervision_2016.md");
        const section = sectionUnder(file, ["人民检察院行政诉讼监督规则（试行）", "第四章 对生效判决、裁定、调解书的监督", "第一节 一般规定"]);
        assert.ok(section.text.startsWith("### 第一节 一般规定\n"));
        assert.ok(section.text.includes("第十四条 申请监督人提供的新的证据"));
        assert.ok(!section.text.includes("第二节"));
        sectionUnder(file, ["人民检察院行政诉讼监督规则（试行）", "第七章 附 则"]);
    });

    it("keeps fenced code with its section", async () => {
        const file = await loadFixture("en", "md", "en_pdfplumber_README.md");
        const section = sectionUnder(file, ["pdfplumber", "Extracting tables", "Table-extraction settings"]);
        assert.ok(section.text.includes("\"vertical_strategy\": \"lines\""));
        assert.ok(section.text.includes("\"text_*\": …, # See below"));
    });

    it("does not take # lines inside ``` or ~~~ fences for headings", async () => {
        const markdown = "# Setup\n```sh\n# install it\npip install x\n```\n~~~\n## not a heading either\n~~~\n## Usage\nRun it.\n";
        const file = await loadBytes(new TextEncoder().encode(markdown), "notes.md");
        assert.deepEqual(file.sections.map((s) => s.headingPath), [["Setup"], ["Setup", "Usage"]]);
        assert.ok(file.sections[0]?.text.includes("# install it\npip install x"));
        assert.ok(file.sections[0]?.text.includes("## not a heading either"));
    });
});

describe("pdf loader", () => {
    it("gives one section per page, numbered from 1", async () => {
        const file = await loadFixture("en", "pdf", "en_dpr_paper_two_column.pdf");
        assert.deepEqual(file.sections.map((s) => s.page), Array.from({ length: 13 }, (_, i) => i + 1));
        assert.ok(file.sections[0]?.text.includes("Dense Passage Retrieval for Open-Domain Question Answering"));
    });

    it("reads Chinese text, including fonts that need pdf.js's CMap files", async () => {
        const credits = await loadFixture("zh", "pdf", "zh_textbook_credits_page.pdf");
        assert.ok(allText(credits).includes("中华人民共和国国务院侨务办公室"));

        const pumpkin = await loadFixture("zh", "pdf", "zh_pumpkin_book_ml_formulas.pdf");
        assert.equal(pumpkin.sections.length, 196);
        assert.ok(pumpkin.sections[1]?.text.includes("周志华老师的《机器学习》（西瓜书）是机器学习领域的经典入门教材之一"));
    });

    it("reads a PDF with only an owner password", async () => {
        const file = await loadFixture("en", "pdf", "encrypted_owner_only_copy_protected.pdf");
        assert.deepEqual(file.sections.map((s) => s.page), [1, 2]);
        assert.ok(allText(file).includes("LayoutParser: A Unified Toolkit for Deep"));
    });

    it("reads the OCR text layer of a scanned magazine page", async () => {
        const file = await loadFixture("zh", "pdf", "zh_magazine_scan_with_garbled_ocr_layer.pdf");
        assert.equal(file.sections.length, 1);
        assert.ok(allText(file).includes("阳阳"));
        assert.ok(allText(file).includes("高僧"));
    });

    it("leaves the caller's bytes intact", async () => {
        const bytes = await readFixture("en", "pdf", "en_reliance_annual_report_3p.pdf");
        const size = bytes.byteLength;
        const file = await loadBytes(bytes, "report.pdf");
        assert.deepEqual(file.sections.map((s) => s.page), [1, 2, 3]);
        assert.equal(bytes.byteLength, size);
    });

    it("rejects PDFs that need a password to open", async () => {
        for (const name of ["encrypted_user_password_password.pdf", "encrypted_user_password_test.pdf"]) {
            await assertUnreadable(loadFixture("en", "pdf", name), /encrypted with a password/);
        }
    });

    it("with ocr off, rejects a scanned PDF, saying that it has no text layer (tests/ocr.test.ts reads it by OCR)", async () => {
        const scan = await readFixture("zh", "pdf", "scanned_zh_small_ocr.pdf");
        await assertUnreadable(loaderFor("scan.pdf")!(scan, "scan.pdf", defaultParseLimits, loadContext({ mode: "off" })), /no text layer.*scanned.*OCR is off/s);
    });

    it("rejects a truncated PDF and a file that is not a PDF", async () => {
        const truncated = (await readFixture("en", "pdf", "en_reliance_annual_report_3p.pdf")).subarray(0, 1000);
        await assertUnreadable(loadBytes(truncated, "truncated.pdf"), /not a valid PDF|damaged/);
        await assertUnreadable(loadBytes(new TextEncoder().encode("just some text"), "fake.pdf"), /not a valid PDF|damaged/);
    });
});

describe("docx loader", () => {
    it("groups text under the document's headings", async () => {
        const file = await loadFixture("zh", "docx", "zh_mineru_docx_feature_test.docx");
        const nested = sectionUnder(file, ["1 这是第一章标题", "Many Tables", "1.2.2 Table with nested table"]);
        assert.ok(nested.text.includes("Simple cell upper left | Simple cell with bold and italic text"));
        const formulas = sectionUnder(file, ["2 这是第二章标题", "混合公式", "2.1.7 公式示例"]);
        assert.ok(formulas.text.startsWith("2.1.7 公式示例"));
        const intro = sectionUnder(file, ["后面是正常的章节标题"]);
        assert.ok(intro.text.includes("在这个日新月异、瞬息万变的时代背景下"));
    });

    it("writes table rows as cells joined by ' | ' and keeps list structure", async () => {
        const tables = await loadFixture("en", "docx", "en_docx_tables_nested.docx");
        assert.ok(allText(tables).includes("Header Col 1 | Header Col 2\nLorem ipsum | A link example"));

        const contract = await loadFixture("zh", "docx", "zh_contract_style_test.docx");
        const lists = sectionUnder(contract, ["续号标题"]);
        assert.ok(lists.text.includes("1. 如有未尽事宜，由双方依法订立补充合同。\n2. 本合同双方应加盖骑缝章。\n  1. 本合同一式四份"));
        sectionUnder(contract, ["一级标题大叔大叔大叔", "二级标题您创造财富快递了斯洛伐克", "三级标题聚一聚一聚"]);
    });

    it("rejects random bytes named .docx", async () => {
        await assertUnreadable(loadBytes(new Uint8Array(randomBytes(4096)), "random.docx"), /not a valid Word \.docx/);
    });
});

describe("html loader", () => {
    const newsPages: { dir: string; junk: string[] }[] = [
        { dir: "readability_qq", junk: ["一键登录", "QQ邮箱"] },
        { dir: "readability_gmw", junk: ["我要投稿", "光明日报社概况"] },
        { dir: "readability_youth", junk: ["返回首页", "教育资讯"] },
    ];
    for (const { dir, junk } of newsPages) {
        it(`keeps the article and drops the page furniture of ${dir}`, async () => {
            const file = await loadFixture("zh", "html", dir, "source.html");
            assert.equal(file.encoding, "utf-8");
            const text = allText(file);
            const compact = text.replace(/\s+/g, "");
            for (const paragraph of await expectedParagraphs("zh", "html", dir)) {
                assert.ok(compact.includes(paragraph), `missing: ${paragraph.slice(0, 40)}`);
            }
            for (const phrase of junk) {
                assert.ok(!text.includes(phrase), `kept page furniture: ${phrase}`);
            }
            assert.ok(!/<\/?[a-z]+[^>]*>/i.test(text), "left HTML tags in the text");
        });
    }

    it("reads the page that declares gb2312 but is UTF-8", async () => {
        const file = await loadFixture("zh", "html", "readability_qq", "source.html");
        const text = allText(file);
        assert.ok(text.includes("DeepMind表示，这款名为DNC（可微神经计算机）的AI模型"));
        assert.deepEqual(file.sections[0]?.headingPath, ["DeepMind新电脑已可利用记忆自学 人工智能迈上新台阶_科技_腾讯网"]);
    });

    it("splits at the article's headings under the page title", async () => {
        const file = await loadFixture("en", "html", "readability_wikipedia", "source.html");
        const history = sectionUnder(file, ["Mozilla - Wikipedia", "History[edit]"]);
        assert.ok(history.text.includes("On January 23, 1998, Netscape made two announcements"));
        sectionUnder(file, ["Mozilla - Wikipedia", "History[edit]", "Eich CEO promotion controversy[edit]"]);
    });

    it("reads a GB18030 page with no charset, falling back to the body when there is no article", async () => {
        const file = await loadFixture("zh", "html", "zh_gb18030_html_no_charset.html");
        assert.equal(file.encoding, "gb18030");
        assert.deepEqual(file.sections[0]?.headingPath, ["中国制造的领军者3名"]);
        assert.ok(allText(file).includes("马兴瑞，中国航天科技集团公司总经理"));
        assert.ok(allText(file).includes("韩三平，中国电影集团公司董事长"));
    });

    it("reads a bare fragment (a saved article's <div>, no <html> or <body>) that readability cannot handle", async () => {
        const file = await loadFixture("zh", "html", "readability_gmw", "expected.html");
        assert.ok(allText(file).includes("翱翔于距地球数千公里的太空中"));
    });
});

describe("csv and xlsx loaders", () => {
    const firstRow = [
        "title: 加油~以及一些建议",
        "file: 2023-03-31.0002",
        "url: https://github.com/imClumsyPanda/langchain-ChatGLM/issues/2",
        "detail: 加油，我认为你的方向是对的。",
        "id: 0",
    ].join("\n");

    it("gives one section per CSV row as 'column: value' lines, without the row-number column", async () => {
        const file = await loadFixture("zh", "csv", "zh_github_issues_langchain-ChatGLM_closed.csv");
        assert.equal(file.sections.length, 172);
        assert.equal(file.sections[0]?.text, firstRow);
        assert.ok(file.sections.at(-1)?.text.startsWith("title: KeyError: 3224\n"));
    });

    it("reads every xlsx row the same way, under the sheet's name", async () => {
        const file = await loadFixture("zh", "xlsx", "zh_github_issues_langchain-ChatGLM_closed.xlsx");
        assert.equal(file.sections.length, 172);
        assert.equal(file.sections[0]?.text, firstRow);
        assert.ok(file.sections.every((s) => JSON.stringify(s.headingPath) === JSON.stringify(["Sheet1"])));
    });

    it("rejects random bytes named .xlsx", async () => {
        await assertUnreadable(loadBytes(new Uint8Array(randomBytes(4096)), "random.xlsx"), /not a valid Excel \.xlsx/);
    });
});

describe("empty files", () => {
    it("rejects an empty file of every supported type", async () => {
        for (const extension of supportedExtensions) {
            await assertUnreadable(loadBytes(new Uint8Array(0), `empty${extension}`), /empty/);
        }
    });

    it("rejects text files that hold only whitespace", async () => {
        const blank = new TextEncoder().encode(" \n\t\r\n　\n");
        for (const name of ["blank.txt", "blank.md", "blank.html", "blank.csv"]) {
            await assertUnreadable(loadBytes(blank, name), /empty/);
        }
    });
});
