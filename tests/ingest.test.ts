import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { IngestProgress, IngestReport } from "../ingest/ingestFiles.js";
import type { ChunkRecord } from "../src/store/records.js";
import type { KnowledgeBaseReader } from "../src/store/storage.js";
import { Yizhi } from "../src/yizhi.js";
import { fixture, fixturesDir, makeTempDir } from "./helpers.js";
import { allChunks } from "./storageContract.js";
import { testConfig } from "./testConfig.js";

const expectedFailures: Record<string, RegExp> = {
    "en/pdf/encrypted_user_password_password.pdf": /encrypted with a password/i,
    "en/pdf/encrypted_user_password_test.pdf": /encrypted with a password/i,
};
const expectedSkips: Record<string, RegExp> = {
    "zh/html/zh_gb2312_rss_cnblog.xml": /unsupported file type \.xml/i,
    "en/html/readability_wikipedia/expected-metadata.json": /unsupported file type \.json/i,
    "zh/html/readability_gmw/expected-metadata.json": /unsupported file type \.json/i,
    "zh/html/readability_qq/expected-metadata.json": /unsupported file type \.json/i,
    "zh/html/readability_youth/expected-metadata.json": /unsupported file type \.json/i,
};
// The news file is ingested by bench/ingest (it takes minutes with the test model); it is tested below on a slice.
const newsFile = "zh/crud_news_documents_dup_part_1_part_1.txt";

/** A document's chunks in document order, as the service gives them. */
async function chunksOf(yizhi: Yizhi, kb: string, documentId: string): Promise<ChunkRecord[]> {
    const document = (await yizhi.knowledgeBases.documents(kb)).find((item) => item.id === documentId);
    return document != null ? yizhi.knowledgeBases.chunksOf(kb, document) : [];
}

/** Every chunk dense search finds for `vector`, best first, with k = all of them. */
async function searchAll(reader: KnowledgeBaseReader, vector: readonly number[]): Promise<ChunkRecord[]> {
    const hits = await reader.denseSearch(vector, 100_000);
    const chunks = await reader.getChunks(hits.map((hit) => hit.label));
    return hits.map((hit) => chunks.get(hit.label)!);
}

describe("ingesting every fixture", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;
    let report: IngestReport;
    const relative = (file: string) => path.relative(fixturesDir, file);

    before(async () => {
        temp = await makeTempDir();
        // 30 s is less than the 8-page scan takes to read by OCR (about 7 s a page), and more than any one of its pages takes:
        // the time limit applies to each page.
        yizhi = new Yizhi(testConfig(temp.dir, { parseTimeoutSeconds: 30 }));
        const inputs = (await fs.readdir(fixturesDir)).map((entry) => path.join(fixturesDir, entry));
        const folders = [];
        for (const input of inputs) {
            if (!(await fs.stat(input)).isDirectory()) continue;
            for (const entry of await fs.readdir(input)) {
                const child = path.join(input, entry);
                if ((await fs.stat(child)).isDirectory()) folders.push(child);
            }
        }
        report = await yizhi.knowledgeBases.ingest("fixtures", folders);
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("fails exactly the unreadable files and skips exactly the unsupported ones, each with a reason a person understands", () => {
        for (const [status, expected] of [["failed", expectedFailures], ["skipped", expectedSkips]] as const) {
            const found = Object.fromEntries(report.files.filter((file) => file.status === status).map((file) => [relative(file.path), file.reason]));
            assert.deepEqual(Object.keys(found).sort(), Object.keys(expected).sort(), status);
            for (const [file, pattern] of Object.entries(expected)) assert.match(found[file] ?? "", pattern, file);
        }
    });

    it("accounts for its time: parsing and embedding while they ran, the rest while neither did", () => {
        const { totalMs, parsingMs, embeddingMs, otherMs } = report.timings;
        assert.ok(parsingMs > 0 && embeddingMs > 0 && otherMs > 0, JSON.stringify(report.timings));
        assert.ok(parsingMs < totalMs && embeddingMs < totalMs, JSON.stringify(report.timings));
        // Parsing and embedding overlap (files are ingested side by side), so together they cover at least total − other.
        assert.ok(parsingMs + embeddingMs + otherMs >= totalMs - 1, JSON.stringify(report.timings));
    });

    it("reads the scanned PDF by OCR, every page, each chunk marked with its confidence", async () => {
        const scan = report.files.find((file) => relative(file.path) === "zh/pdf/scanned_zh_small_ocr.pdf");
        assert.equal(scan?.status, "ingested");
        const chunks = await chunksOf(yizhi, "fixtures", scan.documentId ?? "");
        assert.deepEqual([...new Set(chunks.map((chunk) => chunk.page))], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert.ok(chunks.every((chunk) => (chunk.ocr?.confidence ?? 0) > 0.8), "every chunk read by OCR");
        assert.ok(chunks.map((chunk) => chunk.text).join("").includes("使用价值"));
    });

    it("ingests every other file with chunks, the owner-password-only PDF included", () => {
        const ingested = report.files.filter((file) => file.status === "ingested").map((file) => relative(file.path));
        assert.ok(ingested.includes("en/pdf/encrypted_owner_only_copy_protected.pdf"));
        for (const file of report.files.filter((item) => item.status === "ingested")) assert.ok(file.chunks > 0, relative(file.path));
        assert.ok(!report.files.some((file) => relative(file.path) === newsFile), "the news file is not in the folders ingested here");
    });

    it("ingests the XLSX beside the CSV of the same issues: the XLSX kept emoji the CSV lost, so the texts differ", async () => {
        const xlsx = report.files.find((file) => file.path.endsWith(".xlsx"));
        assert.equal(xlsx?.status, "ingested");
        const chunks = await chunksOf(yizhi, "fixtures", xlsx?.documentId ?? "");
        assert.ok(chunks.length >= 172, "at least one chunk per row");
        assert.ok(chunks.every((chunk) => chunk.headingPath?.[0] === "Sheet1"));
        assert.ok(chunks.some((chunk) => chunk.text.includes("🤣")));
    });

    it("stores readable Chinese from GB2312, Big5 and GB18030 files", async () => {
        const kb = await yizhi.knowledgeBases.openReader("fixtures");
        const textOf = async (name: string) => {
            const document = (await kb.documents()).find((item) => item.source.endsWith(name));
            assert.ok(document != null, name);
            return { document, text: (await chunksOf(yizhi, "fixtures", document.id)).map((chunk) => chunk.text).join("") };
        };
        const gb2312 = await textOf("zh_gb2312_encoded_wikipedia_classical.txt");
        assert.match(gb2312.text, /现代标准汉语，为中华人民共和国的普通话/);
        assert.equal(gb2312.document.encoding, "gb18030");
        const big5 = await textOf("zh_big5_encoded_sample.txt");
        assert.match(big5.text, /維基大典（Wikipedia）者，網路為礎/);
        assert.equal(big5.document.encoding, "big5");
        assert.match((await textOf("zh_gb18030_html_no_charset.html")).text, /马兴瑞，中国航天科技集团公司总经理/);
        for (const { text } of [gb2312, big5]) assert.ok(!text.includes("\ufffd"), "no replacement characters");
    });

    it("NFKC-normalises PDF text: Kangxi radicals become the ideographs", async () => {
        const kb = await yizhi.knowledgeBases.openReader("fixtures");
        const pumpkin = (await kb.documents()).find((item) => item.source.endsWith("zh_pumpkin_book_ml_formulas.pdf"));
        assert.ok(pumpkin != null);
        const chunks = await chunksOf(yizhi, "fixtures", pumpkin.id);
        assert.ok(chunks.some((chunk) => chunk.text.includes("南瓜书")));
        assert.ok(chunks.every((chunk) => !/[\u2f00-\u2fdf]/.test(chunk.text)), "no Kangxi radicals left");
        assert.ok(chunks.every((chunk) => chunk.page != null && chunk.page >= 1 && chunk.page <= 196));
    });

    it("records heading paths for Markdown and DOCX chunks", async () => {
        const kb = await yizhi.knowledgeBases.openReader("fixtures");
        for (const name of ["zh_llm_tech_stack_algorithms.md", "zh_mineru_docx_feature_test.docx"]) {
            const document = (await kb.documents()).find((item) => item.source.endsWith(name));
            assert.ok(document != null, name);
            assert.ok((await chunksOf(yizhi, "fixtures", document.id)).some((chunk) => (chunk.headingPath?.length ?? 0) > 0), name);
        }
    });

    it("does nothing when the same files are ingested again", async () => {
        const version = await yizhi.storage.version("fixtures");
        const folders = [...new Set(report.files.map((file) => path.dirname(file.path)))];
        const again = await yizhi.knowledgeBases.ingest("fixtures", folders);
        assert.equal(again.files.filter((file) => file.status === "ingested").length, 0);
        assert.equal(again.chunksEmbedded, 0);
        assert.equal(await yizhi.storage.version("fixtures"), version, "nothing was committed");
    });
});

describe("re-ingesting a changed or deleted file", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let yizhi: Yizhi;
    let docsDir: string;

    before(async () => {
        temp = await makeTempDir();
        yizhi = new Yizhi(testConfig(temp.dir, { chunkSize: 120, chunkOverlap: 20 }));
        docsDir = path.join(temp.dir, "docs");
        await fs.mkdir(docsDir);
        const news = (await fs.readFile(fixture(newsFile), "utf8")).split("\n");
        await fs.writeFile(path.join(docsDir, "a.txt"), news.slice(0, 3).join("\n\n"));
        await fs.writeFile(path.join(docsDir, "b.txt"), news.slice(3, 6).join("\n\n"));
        await fs.copyFile(fixture("zh/pdf/zh_textbook_credits_page.pdf"), path.join(docsDir, "c.pdf"));
    });
    after(async () => {
        await yizhi.dispose();
        await temp.cleanup();
    });

    it("replaces a changed file's chunks, and its old chunks never come back from search", async () => {
        await yizhi.knowledgeBases.ingest("kb", [docsDir]);
        const file = path.join(docsDir, "a.txt");
        let kb = await yizhi.knowledgeBases.openReader("kb");
        const before = (await kb.documents()).find((item) => item.source === file)!;
        const oldChunks = await chunksOf(yizhi, "kb", before.id);

        await fs.writeFile(file, "第一段全新的内容，与之前完全不同。\n\n第二段也是新的。");
        const report = await yizhi.knowledgeBases.ingest("kb", [docsDir]);
        assert.deepEqual(report.files.map((item) => [path.basename(item.path), item.status]), [["a.txt", "ingested"], ["b.txt", "unchanged"], ["c.pdf", "unchanged"]]);

        kb = await yizhi.knowledgeBases.openReader("kb");
        const afterChange = (await kb.getDocument(before.id))!;
        assert.notEqual(afterChange.hash, before.hash);
        assert.deepEqual((await chunksOf(yizhi, "kb", before.id)).map((chunk) => chunk.text), ["第一段全新的内容，与之前完全不同。\n\n第二段也是新的。"]);
        const oldLabels = new Set(oldChunks.map((chunk) => chunk.label));
        for (const chunk of oldChunks) {
            const vector = await yizhi.models.embeddings.embedQuery(chunk.text);
            const hits = await searchAll(kb, vector);
            assert.ok(hits.every((hit) => !oldLabels.has(hit.label) && hit.text !== chunk.text));
        }
    });

    it("keeps what is stored when a file that was ingested becomes unreadable", async () => {
        const pdf = path.join(docsDir, "c.pdf");
        let kb = await yizhi.knowledgeBases.openReader("kb");
        const stored = (await kb.documents()).find((item) => item.source === pdf)!;
        const storedTexts = (await chunksOf(yizhi, "kb", stored.id)).map((chunk) => chunk.text);

        const bytes = await fs.readFile(pdf);
        await fs.writeFile(pdf, bytes.subarray(0, 1000));
        const report = await yizhi.knowledgeBases.ingest("kb", [docsDir]);
        assert.equal(report.files.find((item) => item.path === pdf)?.status, "failed");

        kb = await yizhi.knowledgeBases.openReader("kb");
        assert.equal((await kb.getDocument(stored.id))?.hash, stored.hash);
        assert.deepEqual((await chunksOf(yizhi, "kb", stored.id)).map((chunk) => chunk.text), storedTexts);
        await fs.writeFile(pdf, bytes);
    });

    it("stores a file whose text another stored file already has only once", async () => {
        const copy = path.join(temp.dir, "copy-of-b.txt");
        await fs.copyFile(path.join(docsDir, "b.txt"), copy);
        const report = await yizhi.knowledgeBases.ingest("kb", [copy]);
        assert.equal(report.files[0]?.status, "unchanged");
        assert.match(report.files[0]?.reason ?? "", /Same content as .*b\.txt/);
        const kb = await yizhi.knowledgeBases.openReader("kb");
        assert.ok(!(await kb.documents()).some((item) => item.source === copy));
        await fs.rm(copy);
    });

    it("prunes documents whose files are gone, only with --prune and only under the given folders", async () => {
        const gone = path.join(docsDir, "b.txt");
        const elsewhere = path.join(temp.dir, "elsewhere.md");
        await fs.writeFile(elsewhere, "# 标题\n\n另一个目录里的文件。");
        await yizhi.knowledgeBases.ingest("kb", [elsewhere]);
        await fs.rm(gone);

        let report = await yizhi.knowledgeBases.ingest("kb", [docsDir]);
        assert.deepEqual(report.pruned, []);
        let kb = await yizhi.knowledgeBases.openReader("kb");
        assert.ok((await kb.documents()).some((item) => item.source === gone), "kept without --prune");

        report = await yizhi.knowledgeBases.ingest("kb", [docsDir], { prune: true });
        assert.deepEqual(report.pruned.map((item) => item.source), [gone]);
        kb = await yizhi.knowledgeBases.openReader("kb");
        assert.deepEqual((await kb.documents()).map((item) => item.source).sort(), [path.join(docsDir, "a.txt"), path.join(docsDir, "c.pdf"), elsewhere].sort());
        assert.ok((await allChunks(kb)).every((chunk) => chunk.source !== gone));
    });

    it("a deleted document never comes back from search, even after later ingests", async () => {
        const writer = await yizhi.knowledgeBases.openWriter("kb");
        const victim = (await writer.documents()).find((item) => item.source.endsWith("c.pdf"))!;
        const texts = (await chunksOf(yizhi, "kb", victim.id)).map((chunk) => chunk.text);
        assert.ok(await writer.removeDocument(victim.id));
        await writer.commit();
        await writer.close();

        await fs.writeFile(path.join(docsDir, "d.txt"), "新加入的文件，在删除之后才加入。");
        await yizhi.knowledgeBases.ingest("kb", [path.join(docsDir, "d.txt")]);
        const kb = await yizhi.knowledgeBases.openReader("kb");
        assert.equal((await kb.getDocument(victim.id)), undefined);
        for (const text of texts) {
            const hits = await searchAll(kb, await yizhi.models.embeddings.embedQuery(text));
            assert.ok(hits.length > 0);
            assert.ok(hits.every((chunk) => chunk.documentId !== victim.id));
        }
    });
});

describe("ingesting several files at once", () => {
    it("keeps, of files with the same text, the first in order, and reports outcomes in the files' order", async () => {
        const temp = await makeTempDir();
        const yizhi = new Yizhi(testConfig(temp.dir));
        try {
            const docs = path.join(temp.dir, "docs");
            await fs.mkdir(docs);
            const names = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt"];
            const texts = ["第一份：长一些的内容。".repeat(30), "重复的内容。", "第三份。", "重复的内容。", "第五份。".repeat(20), "重复的内容。"];
            for (const [i, name] of names.entries()) await fs.writeFile(path.join(docs, name), texts[i]!);
            const report = await yizhi.knowledgeBases.ingest("kb", [docs]);
            assert.deepEqual(report.files.map((file) => [path.basename(file.path), file.status]), [
                ["a.txt", "ingested"], ["b.txt", "ingested"], ["c.txt", "ingested"], ["d.txt", "unchanged"], ["e.txt", "ingested"], ["f.txt", "unchanged"],
            ]);
            const kept = report.files[1]!.documentId;
            assert.deepEqual([report.files[3]!.duplicateOf, report.files[5]!.duplicateOf], [kept, kept]);
            assert.equal((await yizhi.knowledgeBases.documents("kb")).length, 4);
        } finally {
            await yizhi.dispose();
            await temp.cleanup();
        }
    });

    it("reports progress inside a file: its chunks embedded so far, and the bytes done moving between its start and its end", async () => {
        const temp = await makeTempDir();
        const yizhi = new Yizhi(testConfig(temp.dir, { chunkSize: 120, chunkOverlap: 20 }));
        try {
            const docs = path.join(temp.dir, "docs");
            await fs.mkdir(path.join(docs, "子目录"), { recursive: true });
            const news = (await fs.readFile(fixture(newsFile), "utf8")).split("\n");
            await fs.writeFile(path.join(docs, "子目录", "large.txt"), news.slice(0, 12).join("\n\n"));
            await fs.writeFile(path.join(docs, "small.txt"), "一份很短的文件。");
            const events: IngestProgress[] = [];
            const report = await yizhi.knowledgeBases.ingest("kb", [docs], { onProgress: (progress) => events.push(progress) });
            const large = report.files.find((file) => file.path.endsWith("large.txt"))!;
            assert.ok(large.chunks > 32, `the large file has several embedding batches (${large.chunks} chunks)`);

            const inside = events.flatMap((event) => event.active.filter((file) => file.file === "docs/子目录/large.txt").map((file) => ({ event, file })));
            assert.ok(inside.some(({ file }) => file.stage === "parsing"));
            const partway = inside.filter(({ file }) => file.stage === "embedding" && file.chunksEmbedded > 0 && file.chunksEmbedded < file.chunks);
            assert.ok(partway.length > 0, "a report while the large file was half embedded");
            assert.ok(partway.every(({ file }) => file.chunks === large.chunks));
            assert.ok(partway.some(({ event }) => event.bytesDone > 0 && event.bytesDone < event.bytesTotal));
            for (let i = 1; i < events.length; i++) assert.ok(events[i]!.bytesDone >= events[i - 1]!.bytesDone, "bytes done never go back");

            const last = events.at(-1)!;
            const sizes = await Promise.all(["子目录/large.txt", "small.txt"].map(async (name) => (await fs.stat(path.join(docs, name))).size));
            assert.deepEqual(last, {
                filesDone: 2, filesTotal: 2, chunksEmbedded: report.chunksEmbedded,
                bytesDone: sizes[0]! + sizes[1]!, bytesTotal: sizes[0]! + sizes[1]!, active: [],
            });
        } finally {
            await yizhi.dispose();
            await temp.cleanup();
        }
    });
});
