/**
 * The formats beyond the first ones: slides, OpenDocument, EPUB, e-mail, Word 97–2003, RTF and zip
 * archives, read from the fixtures in tests/fixtures/formats (see PROVENANCE.md there), each also
 * damaged; and archives and e-mails ingested, their files as documents of their own.
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { strToU8, zipSync } from "fflate";
import { loaderFor, supportedExtensions } from "../ingest/loaders/index.js";
import type { ContainedFile, LoadedFile } from "../ingest/loaders/types.js";
import { defaultParseLimits, type ParseLimits } from "../ingest/limits.js";
import { Yizhi } from "../src/yizhi.js";
import { assertUnreadable, loadContext, makeTempDir, repoRoot } from "./helpers.js";
import { testConfig } from "./testConfig.js";

const formatsDir = path.join(repoRoot, "tests", "fixtures", "formats");

async function load(name: string, bytes?: Uint8Array, limits: ParseLimits = defaultParseLimits): Promise<LoadedFile> {
    const loader = loaderFor(name);
    assert.ok(loader, `no loader for ${name}`);
    return loader(bytes ?? new Uint8Array(await fs.readFile(path.join(formatsDir, name))), name, limits, loadContext());
}

/** The fixture cut to its first half: what a broken download or a full disk leaves. */
async function truncated(name: string): Promise<Uint8Array> {
    const bytes = await fs.readFile(path.join(formatsDir, name));
    return new Uint8Array(bytes.subarray(0, Math.floor(bytes.length / 2)));
}

const text = (file: LoadedFile) => file.sections.map((section) => section.text).join("\n");
const names = (files: readonly ContainedFile[] | undefined) => (files ?? []).map((file) => file.name);

/** The travel policy's headings, as every word-processor format that keeps them must give them. */
const policyHeadings = [["第一章 总则"], ["第二章 交通与住宿", "第一节 交通工具"], ["第二章 交通与住宿", "第二节 住宿标准"], ["第三章 报销"]];

describe("the page's file picker", () => {
    it("offers exactly the extensions that have a loader", async () => {
        const page = await fs.readFile(path.join(repoRoot, "web", "index.html"), "utf8");
        const accepted = /id="file-input"[^>]*accept="([^"]+)"/.exec(page)?.[1]?.split(",");
        assert.deepEqual(accepted?.sort(), [...supportedExtensions].sort());
    });
});

describe("PPTX and ODP", () => {
    for (const name of ["zh_product_deck.pptx", "zh_product_deck.odp"]) {
        it(`${name}: one section per slide, in order, page = slide number, tables as rows, speaker notes after the slide's text`, async () => {
            const { sections } = await load(name);
            assert.deepEqual(sections.map((section) => section.page), [1, 2]);
            assert.match(sections[0]!.text, /^已知：本地知识库问答\n文档不出本机，回答附带出处。/);
            assert.match(sections[0]!.text, /备注：讲解时先说明数据安全/);
            assert.match(sections[1]!.text, /版本 \| 每年价格\n团队版 \| 九千八百元\n企业版 \| 三万六千元/);
            assert.match(sections[1]!.text, /备注：企业版含私有部署支持。$/);
            // The notes page's slide-number field is not text.
            assert.doesNotMatch(text({ sections }), /<number>|备注：\d/);
        });
    }

    it("rejects a damaged presentation with the format's name", async () => {
        await assertUnreadable(load("zh_product_deck.pptx", await truncated("zh_product_deck.pptx")), /not a valid PowerPoint \.pptx/);
        await assertUnreadable(load("zh_product_deck.odp", await truncated("zh_product_deck.odp")), /not a valid OpenDocument presentation/);
    });
});

describe("ODT, RTF, DOC and EPUB (the travel policy, converted by LibreOffice)", () => {
    for (const name of ["zh_travel_policy.odt", "zh_travel_policy.rtf"]) {
        it(`${name}: sections under the document's headings, the table as rows`, async () => {
            const file = await load(name);
            assert.deepEqual(file.sections.map((section) => section.headingPath), policyHeadings);
            assert.match(file.sections[2]!.text, /城市级别 \| 每晚住宿上限\n一线城市 \| 六百元\n其他城市 \| 四百元/);
        });
    }

    it("EPUB: the chapters in spine order, each under its title from the table of contents", async () => {
        const file = await load("zh_travel_policy.epub");
        assert.deepEqual(file.sections.map((section) => section.headingPath), [["第一章 总则"], ["第二章 交通与住宿"], ["第三章 报销"]]);
        // LibreOffice writes the title as a styled paragraph: it is in the text once.
        assert.equal(file.sections[1]!.text.match(/第二章 交通与住宿/g)?.length, 1);
        assert.match(file.sections[1]!.text, /一线城市 \| 六百元/);
    });

    it("DOC: the body's text, table cells joined by ' | '", async () => {
        const file = await load("zh_travel_policy.doc");
        assert.match(text(file), /第一章 总则\n为规范公司员工出差管理/);
        assert.match(text(file), /一线城市 \| 六百元/);
        assert.match(text(file), /十五个工作日内提交/);
    });

    it("RTF in GBK (\\ansicpg936, \\'xx escapes), as Chinese Word writes it, comes out as Chinese text", async () => {
        const file = await load("zh_meeting_gbk.rtf");
        assert.equal(text(file), "会议纪要\n时间：2026年11月20日下午三点\n一、项目进度：知识库问答系统已完成文档导入和检索模块。\n二、下一步：十二月底前完成扫描件识别功能的测试。");
    });

    it("rejects damaged copies with the format's name", async () => {
        await assertUnreadable(load("zh_travel_policy.odt", await truncated("zh_travel_policy.odt")), /not a valid OpenDocument text/);
        await assertUnreadable(load("zh_travel_policy.doc", await truncated("zh_travel_policy.doc")), /not a valid Word 97–2003 \.doc/);
        await assertUnreadable(load("zh_travel_policy.epub", await truncated("zh_travel_policy.epub")), /not a valid (zip archive|EPUB)/);
        await assertUnreadable(load("fake.rtf", strToU8("这不是RTF文件")), /not a valid RTF/);
    });

    it("refuses an RTF whose groups nest deeper than maxNestingDepth", async () => {
        const deep = strToU8(`{\\rtf1 ${"{".repeat(100)}x${"}".repeat(100)}}`);
        await assertUnreadable(load("deep.rtf", deep, { ...defaultParseLimits, maxNestingDepth: 50 }), /maxNestingDepth/);
    });
});

describe("ODS", () => {
    it("reads each row as a CSV row is, under the sheet's name", async () => {
        const { sections } = await load("zh_price_list.ods");
        assert.equal(sections.length, 3);
        assert.equal(sections[1]!.text, "产品: 扫描仪\n型号: SC-80\n单价（元）: 1299\n库存: 12");
        assert.deepEqual(sections[1]!.headingPath, ["source_zh_price_list"]);
    });

    it("rejects a damaged spreadsheet", async () => {
        await assertUnreadable(load("zh_price_list.ods", await truncated("zh_price_list.ods")), /not a valid OpenDocument spreadsheet/);
    });
});

describe("EML", () => {
    it("gives subject (GB2312-encoded), sender, date and body as one document, and the attachments as files of their own", async () => {
        const file = await load("zh_quote_mail.eml");
        assert.deepEqual(file.sections.map((section) => section.headingPath), [["关于第四季度报价的确认"], ["关于第四季度报价的确认"]]);
        assert.match(file.sections[0]!.text, /^关于第四季度报价的确认\nFrom: 王经理 <wang@example\.com>\nTo: team@example\.com\nDate: Fri, 20 Nov 2026 15:30:00 \+0800$/);
        assert.match(file.sections[1]!.text, /企业版报价调整为三万六千元每年/);
        assert.deepEqual(names(file.contained), ["zh_travel_policy.docx", "附件说明.txt"]);
        const docx = await fs.readFile(path.join(formatsDir, "zh_travel_policy.docx"));
        const attached = file.contained?.[0];
        assert.ok(attached != null && "bytes" in attached && Buffer.from(attached.bytes).equals(docx), "the attachment's bytes are the file's");
    });

    it("rejects a file that is not an e-mail", async () => {
        await assertUnreadable(load("photo.eml", await fs.readFile(path.join(formatsDir, "zh_product_deck.pptx"))), /not an e-mail message/);
    });
});

describe("ZIP", () => {
    it("lists each file inside by its path, GBK names decoded, folders and __MACOSX left out, a name climbing out refused", async () => {
        const file = await load("zh_archive.zip");
        assert.deepEqual(file.sections, []);
        assert.deepEqual(names(file.contained), ["制度/差旅管理办法.docx", "会议纪要.rtf", "nested/inner.zip", "data.json", "%2E%2E/outside.txt"]);
        const refused = file.contained?.at(-1);
        assert.ok(refused != null && "refused" in refused && /"\.\.\/outside\.txt"\) points outside the archive/.test(refused.refused));
    });

    it("holds its entries to maxArchiveEntries and maxInflatedBytes", async () => {
        const many = zipSync(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`${i}.txt`, strToU8(`第${i}个`)])));
        await assertUnreadable(load("many.zip", many, { ...defaultParseLimits, maxArchiveEntries: 20 }), /maxArchiveEntries/);
        const big = zipSync({ "big.txt": new Uint8Array(5_000_000).fill(0x41) });
        await assertUnreadable(load("big.zip", big, { ...defaultParseLimits, maxInflatedBytes: 1_000_000 }), /maxInflatedBytes/);
    });

    it("rejects a file that is not a zip, and a damaged one", async () => {
        await assertUnreadable(load("fake.zip", strToU8("not an archive at all")), /not a zip archive/);
        await assertUnreadable(load("zh_archive.zip", await truncated("zh_archive.zip")), /not a valid zip archive|damaged/);
    });
});

describe("ingesting archives and e-mails", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;
    let docs: string;

    before(async () => {
        temp = await makeTempDir();
        docs = path.join(temp.dir, "docs");
        await fs.mkdir(docs);
        await fs.copyFile(path.join(formatsDir, "zh_archive.zip"), path.join(docs, "zh_archive.zip"));
        await fs.copyFile(path.join(formatsDir, "zh_quote_mail.eml"), path.join(docs, "zh_quote_mail.eml"));
        yizhi = new Yizhi(testConfig(path.join(temp.dir, "data")));
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("stores each file inside as a document named by the container's path and its own, nested archives included", async () => {
        const report = await yizhi.knowledgeBases.ingest("kb", [docs]);
        const status = Object.fromEntries(report.files.map((file) => [path.relative(docs, file.path), file.status]));
        assert.deepEqual(status, {
            "zh_archive.zip/制度/差旅管理办法.docx": "ingested",
            "zh_archive.zip/会议纪要.rtf": "ingested",
            "zh_archive.zip/nested/inner.zip/说明.txt": "ingested",
            "zh_archive.zip/data.json": "skipped",
            "zh_archive.zip/%2E%2E/outside.txt": "failed",
            "zh_quote_mail.eml": "ingested",
            // The same bytes as the archive's copy: stored once.
            "zh_quote_mail.eml/zh_travel_policy.docx": "unchanged",
            "zh_quote_mail.eml/附件说明.txt": "ingested",
        });
        const shown = (await yizhi.knowledgeBases.documents("kb")).map((document) => document.displayName).sort();
        assert.deepEqual(shown, [
            "docs/zh_archive.zip/nested/inner.zip/说明.txt", "docs/zh_archive.zip/会议纪要.rtf", "docs/zh_archive.zip/制度/差旅管理办法.docx",
            "docs/zh_quote_mail.eml", "docs/zh_quote_mail.eml/附件说明.txt",
        ]);
        // Nothing is stored outside the archive's own names.
        assert.ok((await yizhi.knowledgeBases.documents("kb")).every((document) => document.source.startsWith(docs + path.sep)));
    });

    it("on a second run reports the entries unchanged, keeps them under --prune, and drops an entry that left the archive", async () => {
        const again = await yizhi.knowledgeBases.ingest("kb", [docs], { prune: true });
        assert.deepEqual(again.pruned, []);
        assert.ok(again.files.filter((file) => file.status !== "skipped" && file.status !== "failed").every((file) => file.status === "unchanged"));

        const smaller = zipSync({ "会议纪要.rtf": await fs.readFile(path.join(formatsDir, "zh_meeting_gbk.rtf")) });
        await fs.writeFile(path.join(docs, "zh_archive.zip"), smaller);
        const report = await yizhi.knowledgeBases.ingest("kb", [docs]);
        assert.deepEqual(report.files.filter((file) => file.path.includes("zh_archive.zip")).map((file) => [path.relative(docs, file.path), file.status]),
            [["zh_archive.zip/会议纪要.rtf", "unchanged"]]);
        const sources = (await yizhi.knowledgeBases.documents("kb")).map((document) => path.relative(docs, document.source)).sort();
        assert.deepEqual(sources, ["zh_archive.zip/会议纪要.rtf", "zh_quote_mail.eml", "zh_quote_mail.eml/zh_travel_policy.docx", "zh_quote_mail.eml/附件说明.txt"]);
    });

    it("refuses archives nested deeper than maxArchiveNesting, and a damaged archive changes nothing stored", async () => {
        const before = (await yizhi.knowledgeBases.documents("kb")).map((document) => document.id).sort();
        let nested = zipSync({ "最里面.txt": strToU8("最里面的文件。") });
        for (let level = 0; level < 4; level++) nested = zipSync({ [`level${level}.zip`]: nested });
        await fs.writeFile(path.join(docs, "deep.zip"), nested);
        await fs.writeFile(path.join(docs, "zh_archive.zip"), await truncated("zh_archive.zip"));
        const report = await yizhi.knowledgeBases.ingest("kb", [docs]);
        const deepest = report.files.find((file) => file.path.startsWith(path.join(docs, "deep.zip")));
        assert.equal(deepest?.status, "failed");
        assert.match(deepest?.reason ?? "", /maxArchiveNesting/);
        assert.match(report.files.find((file) => file.path === path.join(docs, "zh_archive.zip"))?.reason ?? "", /zip/);
        assert.deepEqual((await yizhi.knowledgeBases.documents("kb")).map((document) => document.id).sort(), before);
    });
});
