/**
 * OCR, for real: PP-OCRv4 on ONNX Runtime reading the fixture pages in tests/fixtures/ocr (see
 * PROVENANCE.md there), through the loaders, the parser processes and ingest.
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import type { IngestProgress } from "../ingest/ingestFiles.js";
import { defaultParseLimits } from "../ingest/limits.js";
import { loaderFor } from "../ingest/loaders/index.js";
import { OCR_PAGE_WIDTH, renderPageForOcr } from "../ingest/loaders/pdf.js";
import type { LoadedFile } from "../ingest/loaders/types.js";
import { defaultOcrSettings, type OcrSettings } from "../ingest/ocr/ocrEngine.js";
import { prepareImage } from "../ingest/ocr/images.js";
import { OCR_LONG_SIDE, type OcrProgress } from "../ingest/ocr/ocrReader.js";
import { INK, InkMap, type Region } from "../ingest/ocr/inkMap.js";
import { pageBlocks } from "../ingest/ocr/pageLayout.js";
import { readingOrder } from "../ingest/ocr/readingOrder.js";
import { isUsableTextLayer } from "../ingest/ocr/textLayer.js";
import { ParserPool } from "../ingest/sandbox/parserPool.js";
import { Yizhi } from "../src/yizhi.js";
import { assertUnreadable, fixturesDir, loadContext, makeTempDir, repoRoot } from "./helpers.js";
import { testConfig } from "./testConfig.js";

const ocrDir = path.join(repoRoot, "tests", "fixtures", "ocr");
const formatsDir = path.join(repoRoot, "tests", "fixtures", "formats");
const readFixture = async (dir: string, name: string) => new Uint8Array(await fs.readFile(path.join(dir, name)));

async function load(name: string, bytes: Uint8Array, settings: Partial<OcrSettings> = {}, onProgress?: (progress: OcrProgress) => void): Promise<LoadedFile> {
    const loader = loaderFor(name);
    assert.ok(loader, `no loader for ${name}`);
    return loader(bytes, name, defaultParseLimits, loadContext(settings, onProgress));
}

/** Text without the spaces and line breaks that layout puts in. */
const squeeze = (text: string) => text.replace(/\s+/g, "");
/** What the top of the scanned page says, in lines the recogniser reads reliably. */
const scanLines = ["史的事情", "为有用物的量找到社会尺度", "部分是由于被计量的物的性质不同", "于约定俗成", "物的有用性使物成为使用价值"];

function assertScanText(text: string): void {
    for (const line of scanLines) assert.ok(squeeze(text).includes(line), `missing ${line} in ${text}`);
}

/** A 24-bit bottom-up BMP of a picture, as scanners and Paint write them. */
async function toBmp(png: Uint8Array): Promise<Uint8Array> {
    const { data, info } = await sharp(png).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    const rowBytes = Math.ceil(info.width * 3 / 4) * 4;
    const bmp = Buffer.alloc(54 + rowBytes * info.height);
    bmp.write("BM", 0, "latin1");
    bmp.writeUInt32LE(bmp.length, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(info.width, 18);
    bmp.writeInt32LE(info.height, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    for (let y = 0; y < info.height; y++) {
        for (let x = 0; x < info.width; x++) {
            const from = ((info.height - 1 - y) * info.width + x) * info.channels;
            const to = 54 + y * rowBytes + x * 3;
            bmp[to] = data[from + 2]!;
            bmp[to + 1] = data[from + 1]!;
            bmp[to + 2] = data[from]!;
        }
    }
    return new Uint8Array(bmp);
}

describe("pictures", () => {
    for (const name of ["zh_scan_top.png", "zh_scan_top.jpg", "zh_scan_top.tiff"]) {
        it(`${name}: its text, marked as read by OCR with its confidence`, async () => {
            const { sections } = await load(name, await readFixture(ocrDir, name));
            assert.equal(sections.length, 1);
            assertScanText(sections[0]!.text);
            assert.ok(sections[0]!.ocr != null && sections[0]!.ocr.confidence > 0.9 && sections[0]!.ocr.confidence <= 1, JSON.stringify(sections[0]!.ocr));
        });
    }

    it("reads a BMP, and tells pictures apart by their bytes, not their names (a JPEG named .png, a TIFF named .jpg)", async () => {
        assertScanText((await load("scan.bmp", await toBmp(await readFixture(ocrDir, "zh_scan_top.png")))).sections[0]!.text);
        assertScanText((await load("photo.png", await readFixture(ocrDir, "zh_scan_top.jpg"))).sections[0]!.text);
        assertScanText((await load("photo.jpg", await readFixture(ocrDir, "zh_scan_top.tiff"))).sections[0]!.text);
    });

    it("rejects a damaged picture, a file that is no picture, a blank one, and any picture with ocr off", async () => {
        const png = await readFixture(ocrDir, "zh_scan_top.png");
        await assertUnreadable(load("cut.png", png.subarray(0, png.length / 3)), /picture \(png\) is damaged/);
        await assertUnreadable(load("fake.jpg", new TextEncoder().encode("not a picture")), /not a PNG, JPEG, WebP, TIFF or BMP/);
        const blank = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#ffffff" } }).png().toBuffer();
        await assertUnreadable(load("blank.png", new Uint8Array(blank)), /OCR found no text/);
        await assertUnreadable(load("scan.png", png, { mode: "off" }), /OCR is off/);
    });

    it("refuses a picture over maxImagePixels before decoding it", async () => {
        const loader = loaderFor("scan.png")!;
        await assertUnreadable(
            loader(await readFixture(ocrDir, "zh_scan_top.png"), "scan.png", { ...defaultParseLimits, maxImagePixels: 100_000 }, loadContext({}, undefined, 100_000)),
            /more than 100,000 pixels.*maxImagePixels/,
        );
    });

    it("reads two columns one after the other, not line by line across the page", async () => {
        const text = squeeze((await load("two.png", await readFixture(ocrDir, "zh_two_columns.png"))).sections[0]!.text);
        const left = ["史的事情", "部分是由于被计量的物", "于约定俗成", "物的有用性使物成为使用价值"].map((line) => text.indexOf(line));
        const right = ["内在的交换价值", "现在我们进一", "某种特殊的商品", "同别的"].map((line) => text.indexOf(line));
        assert.ok([...left, ...right].every((at) => at >= 0), text);
        assert.deepEqual([...left].sort((a, b) => a - b), left, `left column in order: ${text}`);
        assert.deepEqual([...right].sort((a, b) => a - b), right, `right column in order: ${text}`);
        assert.ok(Math.max(...left) < Math.min(...right), `the whole left column before the right one: ${text}`);
    });
});

describe("PDF pages", () => {
    it("reads a page without a text layer by OCR, reporting each page, marked with its confidence", async () => {
        const progress: OcrProgress[] = [];
        const { sections } = await load("scan.pdf", await readFixture(ocrDir, "zh_scan_top.pdf"), {}, (step) => progress.push(step));
        assert.equal(sections.length, 1);
        assert.equal(sections[0]!.page, 1);
        assertScanText(sections[0]!.text);
        assert.ok((sections[0]!.ocr?.confidence ?? 0) > 0.9);
        assert.deepEqual(progress, [{ pagesDone: 0, pagesTotal: 1 }, { pagesDone: 1, pagesTotal: 1 }]);
    });

    it("never OCRs a page with a good text layer unless forced; with ocr off, a scan fails saying so", async () => {
        const policy = await readFixture(formatsDir, "zh_travel_policy.pdf");
        const progress: OcrProgress[] = [];
        const auto = await load("policy.pdf", policy, {}, (step) => progress.push(step));
        assert.ok(auto.sections.every((section) => section.ocr == null));
        assert.deepEqual(progress, [{ pagesDone: 0, pagesTotal: 0 }]);
        const forced = await load("policy.pdf", policy, { mode: "force" });
        assert.ok(forced.sections.every((section) => section.ocr != null));
        assert.ok(squeeze(forced.sections[0]!.text).includes("差旅费报销须在出差结束后十五个工作日内提交"), forced.sections[0]!.text);
        await assertUnreadable(load("scan.pdf", await readFixture(ocrDir, "zh_scan_top.pdf"), { mode: "off" }), /no text layer.*OCR is off/);
    });
});

describe("DOCX pictures", () => {
    it("puts a picture's text in its place, and marks the section that holds it", async () => {
        const { sections } = await load("report.docx", await readFixture(ocrDir, "zh_docx_with_scan.docx"));
        const text = squeeze(sections.map((section) => section.text).join("\n"));
        const [before, scan, afterIt] = ["下图是原书第十二页的扫描件", "为有用物的量找到社会尺度", "扫描件之后的正文"].map((part) => text.indexOf(part));
        assert.ok(before! >= 0 && before! < scan! && scan! < afterIt!, text);
        assert.ok(sections.some((section) => section.ocr != null));
        const off = await load("report.docx", await readFixture(ocrDir, "zh_docx_with_scan.docx"), { mode: "off" });
        assert.ok(!squeeze(off.sections.map((section) => section.text).join("")).includes("为有用物的量"));
        assert.ok(off.sections.every((section) => section.ocr == null));
    });
});

describe("isUsableTextLayer", () => {
    it("keeps real text, simplified, traditional or English", () => {
        assert.ok(isUsableTextLayer("差旅费报销须在出差结束后十五个工作日内提交，并附上发票、行程单和审批单。"));
        assert.ok(isUsableTextLayer("差旅費報銷須在出差結束後十五個工作日內提交，並附上發票、行程單和審批單。"));
        assert.ok(isUsableTextLayer("Expense claims must be submitted within fifteen working days."));
    });

    it("flags too little text, and garbled layers: control, private-use or replacement characters, rare ideographs", () => {
        assert.ok(!isUsableTextLayer("12"));
        assert.ok(!isUsableTextLayer("\u0003\u0011\u0007\u0002".repeat(20) + "第一章"));
        assert.ok(!isUsableTextLayer("\ue001\ue017\ue0a3".repeat(15) + "差旅费报销须在出差结束后"));
        assert.ok(!isUsableTextLayer("\ufffd".repeat(30) + "报销"));
        // Glyph ids read as code points: ideographs, but rare ones (Extension A, and outside GB2312 and Big5's common set).
        assert.ok(!isUsableTextLayer("㐀㐁㐂㐃㐄㐅㐆㐇㐈㐉㐊㐋㐌㐍㐎㐏㐐㐑㐒㐓㐔㐕"));
        assert.ok(!isUsableTextLayer("乥乪乫乬乭乮乯乲乴乵乶乷乸乹乺乻乼乽亁亃亄亅"));
    });
});

describe("pageBlocks", () => {
    /** The blocks found on a page of a shared fixture PDF, rendered as the PDF loader renders it for OCR. */
    async function blocksOfPage(file: string, page: number): Promise<Region[]> {
        const picture = await renderPageForOcr(await readFixture(fixturesDir, file), page);
        return pageBlocks((await prepareImage(picture, { maxSide: OCR_LONG_SIDE, maxPixels: defaultParseLimits.maxImagePixels })).grey);
    }
    /** Whether `blocks` stand side by side, left to right (their white padding may overlap), each beside most of the next one's height. */
    const sideBySide = (blocks: readonly Region[]) => blocks.every((block, i) => {
        const next = blocks[i + 1];
        if (next == null) return true;
        const overlap = Math.min(block.top + block.height, next.top + next.height) - Math.max(block.top, next.top);
        return block.left + block.width <= next.left + 20 && overlap > 0.8 * Math.min(block.height, next.height);
    });

    it("finds a running head across a page, then three columns under it, left to right (a rule between them)", async () => {
        const [head, ...columns] = await blocksOfPage("en/pdf/en_federal_register_2020-17221_3col.pdf", 2);
        assert.equal(columns.length, 3, JSON.stringify(columns));
        assert.ok(sideBySide(columns), JSON.stringify(columns));
        assert.ok(head!.top + head!.height < columns[0]!.top && head!.width > columns.reduce((sum, column) => sum + column.width, 0), JSON.stringify(head));
    });

    it("finds two columns, and a sidebar beside a main column across a narrow gutter, each whole", async () => {
        const paper = await blocksOfPage("en/pdf/en_ieee_two_column_paper.pdf", 2);
        assert.equal(paper.length, 2);
        assert.ok(sideBySide(paper), JSON.stringify(paper));
        // A white band crosses the sidebar and the main column at the same height: each is still read whole.
        const report = await blocksOfPage("zh/pdf/zh_securities_research_report_688556.pdf", 1);
        const [head, sidebar, main] = report;
        assert.ok(head != null && head.width > OCR_PAGE_WIDTH * 0.8, `the running head across the page first: ${JSON.stringify(report)}`);
        assert.ok(sidebar != null && main != null && sideBySide([sidebar, main]) && sidebar.width < main.width / 2, `a sidebar, then the main column beside it: ${JSON.stringify(report)}`);
        // Most of the A4 page's height (1.41 times its width).
        assert.ok(sidebar.height > OCR_PAGE_WIDTH && main.height > OCR_PAGE_WIDTH, `each down the page: ${JSON.stringify(report)}`);
    });

    it("reads a table without rules as one block, row by row; two tables side by side, each whole", async () => {
        const picture = await readFixture(ocrDir, "zh_table_without_rules.png");
        const { grey } = await prepareImage(picture, { maxSide: OCR_LONG_SIDE, maxPixels: defaultParseLimits.maxImagePixels });
        assert.equal(pageBlocks(grey).length, 1);
        const rows = (await load("table.png", picture)).sections[0]!.text.split("\n");
        const income = rows.find((row) => row.includes("营业收入"));
        assert.ok(income != null && ["1,567", "3,684", "5,056", "5,752"].every((figure) => income.includes(figure)), rows.join("\n"));
        const tables = (await blocksOfPage("zh/pdf/zh_securities_research_report_688556.pdf", 3)).filter((block) => block.width > OCR_PAGE_WIDTH * 0.4 && block.height > 1000);
        assert.equal(tables.length, 2, JSON.stringify(tables));
        assert.ok(sideBySide(tables), JSON.stringify(tables));
    });

    it("leaves a single column one block where gaps after commas line up on two lines", async () => {
        const picture = await readFixture(ocrDir, "zh_two_columns_right.png");
        const { grey } = await prepareImage(picture, { maxSide: OCR_LONG_SIDE, maxPixels: defaultParseLimits.maxImagePixels });
        assert.equal(pageBlocks(grey).length, 1);
        const lines = (await load("column.png", picture)).sections[0]!.text.split("\n");
        assert.deepEqual(lines.map((line) => line.slice(0, 4)), ["内在的交", "现在我们", "某种特殊", "同别的商"]);
    });
});

describe("InkMap", () => {
    it("answers where a picture has ink as a scan of its pixels does", () => {
        // A picture of random specks, and random regions of it; a fixed seed, so a failure repeats.
        let seed = 7;
        const random = (below: number) => {
            seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
            return seed % below;
        };
        const width = 61;
        const height = 47;
        const data = new Uint8Array(width * height).fill(255);
        for (let i = 0; i < 40; i++) data[random(data.length)] = random(INK);
        const map = new InkMap({ data, width, height });
        const inkAt = (x: number, y: number) => data[y * width + x]! < INK;
        for (let i = 0; i < 500; i++) {
            const left = random(width);
            const top = random(height);
            const region = { left, top, width: 1 + random(width - left), height: 1 + random(height - top) };
            const xs = Array.from({ length: region.width }, (_, k) => left + k);
            const ys = Array.from({ length: region.height }, (_, k) => top + k);
            for (const y of ys) assert.equal(map.rowHasInk(region, y), xs.some((x) => inkAt(x, y)));
            for (const x of xs) assert.equal(map.columnHasInk(region, x), ys.some((y) => inkAt(x, y)));
            const inked = ys.flatMap((y) => xs.filter((x) => inkAt(x, y)).map((x) => [x, y] as const));
            let expected: Region | undefined;
            if (inked.length > 0) {
                const [minX, maxX] = [Math.min(...inked.map(([x]) => x)), Math.max(...inked.map(([x]) => x))];
                const [minY, maxY] = [Math.min(...inked.map(([, y]) => y)), Math.max(...inked.map(([, y]) => y))];
                expected = { left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
            }
            assert.deepEqual(map.inkBounds(region), expected, JSON.stringify(region));
        }
    });
});

describe("readingOrder", () => {
    const box = (text: string, left: number, top: number, right: number, bottom: number) => ({ text, confidence: 1, left, top, right, bottom });

    it("joins the boxes of one line left to right, and orders lines top to bottom", () => {
        assert.deepEqual(readingOrder([
            box("部分是由", 500, 52, 900, 90),
            box("于约定俗成。", 100, 102, 400, 140),
            box("尺度之所以不同，", 100, 50, 420, 88),
        ]), ["尺度之所以不同， 部分是由", "于约定俗成。"]);
    });
});

describe("OCR in a parser process, and in ingest", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;

    before(async () => {
        temp = await makeTempDir();
        yizhi = new Yizhi(testConfig(path.join(temp.dir, "data")));
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("reports OCR progress from the parser process, and the page's time limit applies to each page", async () => {
        const pool = new ParserPool({ limits: defaultParseLimits, ocr: defaultOcrSettings, processes: 1, timeoutMs: 1 });
        try {
            await assertUnreadable(pool.parse({ bytes: await readFixture(ocrDir, "zh_scan_top.pdf"), fileName: "scan.pdf" }, { chunkSize: 400, chunkOverlap: 0 }),
                /one of its pages, by OCR\) took longer than 0 s.*parseTimeoutSeconds/);
        } finally {
            await pool.dispose();
        }
        const progress: OcrProgress[] = [];
        const parsed = await yizhi.parser.parse({ bytes: await readFixture(ocrDir, "zh_scan_top.pdf"), fileName: "scan.pdf" }, { chunkSize: 400, chunkOverlap: 0 }, (step) => progress.push(step));
        assert.deepEqual(progress, [{ pagesDone: 0, pagesTotal: 1 }, { pagesDone: 1, pagesTotal: 1 }]);
        assert.ok(parsed.chunks.every((chunk) => chunk.ocr != null && chunk.page === 1));
    });

    it("stores OCR'd chunks with their confidence, shows the ocr stage with pages in the progress, and answers with them as sources", async () => {
        const docs = path.join(temp.dir, "docs");
        await fs.mkdir(docs);
        await fs.copyFile(path.join(ocrDir, "zh_scan_top.pdf"), path.join(docs, "扫描件.pdf"));
        await fs.copyFile(path.join(ocrDir, "zh_scan_top.jpg"), path.join(docs, "照片.jpg"));
        const stages: IngestProgress["active"] = [];
        const report = await yizhi.knowledgeBases.ingest("scans", [docs], { onProgress: (progress) => stages.push(...progress.active) });
        assert.deepEqual(report.files.map((file) => file.status), ["ingested", "ingested"]);
        assert.ok(stages.some((file) => file.stage === "ocr" && file.pages?.total === 1), JSON.stringify(stages));
        for (const document of await yizhi.knowledgeBases.documents("scans")) {
            const chunks = await yizhi.knowledgeBases.chunksOf("scans", document);
            assert.ok(chunks.length > 0 && chunks.every((chunk) => (chunk.ocr?.confidence ?? 0) > 0.9), JSON.stringify(chunks));
        }
        const sources = await yizhi.knowledgeBases.search("scans", { question: "物的有用性使物成为什么？", mode: "bm25" });
        assert.ok(sources.length > 0 && sources.every((source) => source.ocr != null), JSON.stringify(sources));
    });
});
