import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { KeyStore } from "../src/keys/keyStore.js";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { fixture, makeTempDir, repoRoot } from "./helpers.js";
import { testConfig } from "./testConfig.js";

const chromiumPath = "/usr/bin/chromium";
const artifactsDir = path.join(repoRoot, "tests", "artifacts");
const evilName = "<img src=x onerror=alert(1)>.txt";
const htmlChunk = "<b>粗体</b><script>window.__pwned=1</script>";

interface AskBody {
    question: string;
    kb: string;
    stream?: boolean;
    topK?: number;
    mode?: string;
    scoreThreshold?: number;
    history?: { role: string; content: string }[];
}

/** A page in a fresh browser context, recording anything that must not happen on it. */
interface OpenedPage {
    page: Page;
    /** Messages of alert/confirm/prompt dialogs and uncaught page errors. */
    problems: string[];
}

async function openPage(browser: Browser, url: string, options: { width?: number; height?: number; colorScheme?: "light" | "dark" } = {}): Promise<OpenedPage> {
    const context = await browser.newContext({
        viewport: { width: options.width ?? 1280, height: options.height ?? 900 }, locale: "zh-CN", colorScheme: options.colorScheme ?? "light",
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on("dialog", (dialog) => {
        problems.push(`dialog: ${dialog.message()}`);
        void dialog.dismiss();
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    await page.goto(url);
    return { page, problems };
}

async function closePage({ page, problems }: OpenedPage): Promise<void> {
    await page.context().close();
    assert.deepEqual(problems, []);
}

async function createKb(page: Page, name: string): Promise<void> {
    await page.getByTestId("kb-name-input").fill(name);
    await page.getByTestId("kb-create-button").click();
    await page.getByTestId("current-kb").filter({ hasText: name }).waitFor();
}

async function selectKb(page: Page, name: string): Promise<void> {
    await page.getByTestId("kb-item").filter({ hasText: name }).click();
    await page.getByTestId("current-kb").filter({ hasText: name }).waitFor();
}

/** Records every text an upload row's result shows, as it changes, in `window.__uploadTexts`. */
async function recordUploadTexts(page: Page): Promise<void> {
    await page.evaluate(`(() => {
        window.__uploadTexts = [];
        new MutationObserver(() => {
            for (const result of document.querySelectorAll("[data-testid=upload-result]")) window.__uploadTexts.push(result.textContent);
        }).observe(document.getElementById("upload-list"), { subtree: true, childList: true, characterData: true });
    })()`);
}

/** Waits until every upload row has a result, and returns the rows' statuses by file name. */
async function uploadResults(page: Page, count: number): Promise<Map<string, { status: string; result: string }>> {
    const finished = page.locator("[data-testid=upload-item]:is([data-status=ingested], [data-status=unchanged], [data-status=failed])");
    await waitForCount(finished, count);
    const results = new Map<string, { status: string; result: string }>();
    for (const row of await page.getByTestId("upload-item").all()) {
        results.set(await row.getByTestId("upload-name").innerText(), {
            status: (await row.getAttribute("data-status")) ?? "",
            result: await row.getByTestId("upload-result").innerText(),
        });
    }
    return results;
}

async function waitForCount(locator: Locator, count: number): Promise<void> {
    await locator.nth(count - 1).waitFor();
    assert.equal(await locator.count(), count);
}

async function setAdvanced(page: Page, settings: { topK: string; scoreThreshold: string; mode?: string; lexicalThreshold?: string }): Promise<void> {
    const advanced = page.getByTestId("advanced");
    if ((await advanced.getAttribute("open")) == null) await advanced.locator("summary").click();
    await page.getByTestId("topk-input").fill(settings.topK);
    await page.getByTestId("threshold-input").fill(settings.scoreThreshold);
    await page.getByTestId("lexical-threshold-input").fill(settings.lexicalThreshold ?? "");
    await page.getByTestId("mode-input").selectOption(settings.mode ?? "");
}

/** Polls `condition` (the page's CSP forbids the string functions of page.waitForFunction) for up to 10 s. */
async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
    for (let tries = 0; tries < 100; tries++) {
        if (await condition()) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail("the page never got there");
}

/** Whitespace collapsed: markdown shows paragraphs where the model wrote blank lines. */
function words(text: string): string {
    return text.replace(/\s+/g, " ").trim();
}

/** Asks through the page; resolves with the request body once the answer block has finished. */
async function ask(page: Page, question: string): Promise<{ body: AskBody; contentType: string; answer: Locator }> {
    const turns = page.getByTestId("answer-block");
    const before = await turns.count();
    const requested = page.waitForRequest((request) => request.url().endsWith("/ask"));
    await page.getByTestId("question-input").fill(question);
    await page.getByTestId("question-input").press("Enter");
    const request = await requested;
    const response = await request.response();
    const answer = turns.nth(before);
    await answer.and(page.locator(":not([data-state=streaming])")).waitFor();
    return {
        body: request.postDataJSON() as AskBody,
        contentType: (await response?.headerValue("content-type")) ?? "",
        answer,
    };
}

function sseBody(events: [string, unknown][]): string {
    return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
}

function scriptedSource(n: number, text: string): Record<string, unknown> {
    return { n, documentId: `doc-${n}`, chunkIndex: 0, source: `/docs/文件${n}.md`, name: `文件${n}.md`, score: 0.5 + n / 10, scores: { fused: 0.5 }, text };
}

/** Runs in the browser, which has it; this test program is compiled without the DOM library. */
declare function getComputedStyle(element: unknown): { backgroundColor: string };

function backgroundOf(locator: Locator): Promise<string> {
    return locator.evaluate((element) => getComputedStyle(element).backgroundColor);
}

describe("the web page", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    let browser: Browser;

    before(async () => {
        temp = await makeTempDir();
        await fs.mkdir(artifactsDir, { recursive: true });
        server = await startServer({ config: testConfig(path.join(temp.dir, "storage")), port: 0, log: () => undefined });
        browser = await chromium.launch({
            executablePath: chromiumPath,
            args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await server.ready;
    });
    after(async () => {
        await browser?.close();
        await server?.close();
        await temp?.cleanup();
    });

    it("creates a knowledge base and uploads files, showing each one's result and chunk count", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await page.getByTestId("ready-status").and(page.locator("[data-state=ready]")).waitFor();
        await createKb(page, "测试库");
        const evilFile = path.join(temp.dir, evilName);
        await fs.writeFile(evilFile, "这是一个名字很危险的文件。它的内容是普通的中文文本，讲的是知识库问答。");
        await page.getByTestId("file-input").setInputFiles([
            fixture("zh/md/zh_llm_inference_optimization.md"),
            fixture("zh/txt/zh_big5_encoded_sample.txt"),
            evilFile,
        ]);

        const results = await uploadResults(page, 3);
        for (const name of ["zh_llm_inference_optimization.md", "zh_big5_encoded_sample.txt", evilName]) {
            assert.equal(results.get(name)?.status, "ingested", name);
            assert.match(results.get(name)?.result ?? "", /^已导入，[1-9]\d* 个片段$/, name);
        }
        await waitForCount(page.getByTestId("doc-item"), 3);
        const names = await page.getByTestId("doc-name").allInnerTexts();
        assert.deepEqual([...names].sort(), [evilName, "zh_big5_encoded_sample.txt", "zh_llm_inference_optimization.md"].sort());
        for (const chunks of await page.getByTestId("doc-chunks").allInnerTexts()) assert.match(chunks, /^[1-9]\d* 个片段$/);
        assert.equal(await page.locator("img[src=x]").count(), 0);
        await page.getByTestId("kb-item").filter({ hasText: "测试库" }).filter({ hasText: "3 篇文档" }).waitFor();

        await page.getByTestId("file-input").setInputFiles([fixture("zh/txt/zh_big5_encoded_sample.txt")]);
        assert.equal((await uploadResults(page, 4)).get("zh_big5_encoded_sample.txt")?.status, "unchanged");
        await closePage(opened);
    });

    it("streams an answer with its source cards, then shows a refusal differently, sending earlier turns as history", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        await setAdvanced(page, { topK: "3", scoreThreshold: "-1", mode: "hybrid" });

        const first = await ask(page, "大模型推理有哪些优化方法？");
        assert.equal(await first.answer.getAttribute("data-state"), "done");
        assert.deepEqual(first.body, { question: "大模型推理有哪些优化方法？", kb: "测试库", history: [], topK: 3, mode: "hybrid", scoreThreshold: -1, stream: true });
        assert.match(first.contentType, /^text\/event-stream/);
        const answerText = await first.answer.getByTestId("answer").innerText();
        assert.notEqual(answerText.trim(), "");
        const cards = first.answer.getByTestId("source-card");
        assert.ok((await cards.count()) >= 1);
        for (const score of await cards.getByTestId("source-score").allInnerTexts()) assert.match(score, /^得分 -?\d\.\d{3}$/);
        assert.notEqual((await cards.first().getByTestId("source-text").innerText()).trim(), "");
        await page.screenshot({ path: path.join(artifactsDir, "chat.png") });

        await setAdvanced(page, { topK: "3", scoreThreshold: "1", mode: "dense" });
        const refused = await ask(page, "今天天气怎么样？");
        assert.equal(refused.body.mode, "dense");
        assert.equal(await refused.answer.getAttribute("data-state"), "refused");
        assert.deepEqual(refused.body.history?.map(({ role, content }) => [role, words(content)]), [
            ["user", "大模型推理有哪些优化方法？"],
            ["assistant", words(answerText)],
        ]);
        assert.equal(await refused.answer.getByTestId("refusal-label").innerText(), "未找到相关内容");
        assert.equal((await refused.answer.getByTestId("answer").innerText()).trim(), "根据已知信息无法回答该问题");
        assert.equal(await refused.answer.getByTestId("source-card").count(), 0);
        assert.notEqual(await backgroundOf(refused.answer), await backgroundOf(first.answer));
        await page.screenshot({ path: path.join(artifactsDir, "refusal.png") });
        await closePage(opened);
    });

    it("shows HTML in chunk text literally and never runs it", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await createKb(page, "网页注入");
        await page.getByTestId("file-input").setInputFiles([
            { name: "注入.txt", mimeType: "text/plain", buffer: Buffer.from(`这段文字带有标记：${htmlChunk}`) },
        ]);
        assert.equal((await uploadResults(page, 1)).get("注入.txt")?.status, "ingested");
        await setAdvanced(page, { topK: "5", scoreThreshold: "-1" });
        const { answer } = await ask(page, "这段文字里有什么？");

        const sourceText = answer.getByTestId("source-text").first();
        assert.match(await sourceText.innerText(), new RegExp(htmlChunk.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
        assert.equal(await sourceText.locator("b, script").count(), 0);
        assert.equal(await page.evaluate("typeof window.__pwned"), "undefined");
        await closePage(opened);
    });

    it("renders HTML in an answer as text, links its citations to the source cards, and stops on request", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        // The tiny test model never writes HTML or citations, so this answer is scripted.
        const answerText = "答案<script>window.__pwned=1</script>见[2]和【1】，[7]不是出处。";
        await page.route(`${server.url}/ask`, (route) => route.fulfill({
            status: 200,
            contentType: "text/event-stream",
            body: sseBody([
                ["sources", { sources: [scriptedSource(1, "第一段<b>正文</b>"), { ...scriptedSource(2, "第二段正文"), page: 3 }] }],
                ["token", { text: answerText.slice(0, 12) }],
                ["token", { text: answerText.slice(12) }],
                ["done", { answer: answerText, refused: false, language: "zh", timings: { retrievalMs: 1, generationMs: 1, totalMs: 2 } }],
            ]),
        }));
        const { answer } = await ask(page, "有 HTML 吗？");
        assert.equal((await answer.getByTestId("answer").innerText()).trim(), answerText);
        assert.equal(await answer.locator("script, b").count(), 0);
        assert.equal(await page.evaluate("typeof window.__pwned"), "undefined");
        assert.deepEqual(await answer.getByTestId("citation").allInnerTexts(), ["[2]", "【1】"]);
        assert.deepEqual(await answer.getByTestId("source-card").nth(1).locator(".source-page").allInnerTexts(), ["第 3 页"]);

        await answer.getByTestId("citation").first().click();
        await answer.locator("[data-testid=source-card][data-source='2'].highlight").waitFor();

        await page.unroute(`${server.url}/ask`);
        await page.route(`${server.url}/ask`, () => undefined); // never answers: the stop button must end it
        await page.getByTestId("question-input").fill("这个问题会被停止");
        await page.getByTestId("question-input").press("Enter");
        await page.getByTestId("stop-button").click();
        await page.locator("[data-testid=answer-block][data-state=stopped]").waitFor();
        assert.equal(await page.getByTestId("stop-button").isVisible(), false);
        assert.equal(await page.getByTestId("ask-button").isEnabled(), true);
        await closePage(opened);
    });

    it("renders an answer as sanitised markdown: formatting shown, nothing that runs or loads, citations outside code only", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        const answerText = [
            "**要点**如下 [1]：", "", "- 第一条", "- 第二条 `代码 [2]`", "",
            "[点我](javascript:window.__pwned=1) ![图](http://127.0.0.1:9/track.png) <img src=x onerror=\"window.__pwned=1\">",
        ].join("\n");
        await page.route(`${server.url}/ask`, (route) => route.fulfill({
            status: 200,
            contentType: "text/event-stream",
            body: sseBody([
                ["sources", { sources: [scriptedSource(1, "第一段"), scriptedSource(2, "第二段")] }],
                ["token", { text: answerText }],
                ["done", { answer: answerText, refused: false, language: "zh", timings: { retrievalMs: 1, generationMs: 1, totalMs: 2 } }],
            ]),
        }));
        const { answer } = await ask(page, "markdown？");
        const rendered = answer.getByTestId("answer");
        assert.equal(await rendered.locator("strong").innerText(), "要点");
        assert.equal(await rendered.locator("li").count(), 2);
        assert.equal(await rendered.locator("code").innerText(), "代码 [2]");
        assert.deepEqual(await answer.getByTestId("citation").allInnerTexts(), ["[1]"], "a citation inside code stays code");
        assert.equal(await rendered.locator("img, script, [onerror]").count(), 0);
        assert.equal(await rendered.locator("a[href^='javascript']").count(), 0);
        assert.match(await rendered.innerText(), /<img src=x onerror=/, "HTML the model wrote is shown as text");
        assert.equal(await page.evaluate("typeof window.__pwned"), "undefined");
        assert.equal(await answer.getByTestId("score-meaning").innerText(), "得分是向量与关键词两种排名的融合（RRF，0 到 1，越高越相关）。");
        await closePage(opened);
    });

    it("copies an answer, regenerates the last one in place with the same question and history, and labels each turn with its knowledge base", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
        await selectKb(page, "测试库");
        await setAdvanced(page, { topK: "2", scoreThreshold: "-1" });
        const first = await ask(page, "第一个问题");
        const second = await ask(page, "第二个问题");
        assert.deepEqual(await page.getByTestId("turn-kb").allInnerTexts(), ["测试库", "测试库"]);
        const secondAnswer = await second.answer.getByTestId("answer").innerText();

        await second.answer.getByTestId("copy-answer").click();
        await second.answer.getByTestId("copy-answer").filter({ hasText: "已复制" }).waitFor();
        assert.equal(words(await page.evaluate("navigator.clipboard.readText()") as string), words(secondAnswer));

        const again = page.waitForRequest((request) => request.url().endsWith("/ask"));
        await second.answer.getByTestId("regenerate").click();
        const body = (await again).postDataJSON() as AskBody;
        assert.equal(body.question, "第二个问题");
        assert.deepEqual(body.history, second.body.history, "the same history as the first try");
        await second.answer.and(page.locator("[data-state=done]")).waitFor();
        assert.equal(await page.getByTestId("answer-block").count(), 2, "in place: no new turn");

        // Only the last answer can be regenerated: the first one's button does nothing.
        let asked = false;
        page.on("request", (request) => {
            if (request.url().endsWith("/ask")) asked = true;
        });
        await first.answer.getByTestId("regenerate").click();
        await page.waitForTimeout(300);
        assert.equal(asked, false);
        await closePage(opened);
    });

    it("opens a source's document at the cited chunk, lists documents with their time and filters them by name", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        await setAdvanced(page, { topK: "3", scoreThreshold: "-1" });
        const { answer } = await ask(page, "大模型推理有哪些优化方法？");
        const card = answer.getByTestId("source-card").first();
        const cited = await card.getByTestId("source-text").innerText();
        await card.getByTestId("source-open").click();
        const dialog = page.getByTestId("document-dialog");
        await dialog.waitFor();
        const highlighted = dialog.locator("[data-testid=document-chunk][data-highlighted=true]");
        assert.equal(await highlighted.count(), 1);
        // The card shows what went into the prompt: the chunk, or the part of it that fitted.
        assert.ok(words(await highlighted.locator(".chunk-text").innerText()).startsWith(words(cited)));
        assert.ok(await dialog.getByTestId("document-chunk").count() >= 1);
        assert.equal(await dialog.getByTestId("document-title").innerText(), await card.getByTestId("source-name").innerText());
        await page.screenshot({ path: path.join(artifactsDir, "document-viewer.png") });
        await page.getByTestId("document-close").click();
        await dialog.waitFor({ state: "hidden" });

        for (const time of await page.getByTestId("doc-time").allInnerTexts()) assert.match(time, /^导入于 \d{4}/);
        await page.getByTestId("doc-filter").fill("BIG5");
        assert.deepEqual(await page.locator("[data-testid=doc-item]:visible [data-testid=doc-name]").allInnerTexts(), ["zh_big5_encoded_sample.txt"]);
        await page.getByTestId("doc-filter").fill("没有这个");
        await page.getByText("没有名称匹配的文档。").waitFor();
        await page.getByTestId("doc-filter").fill("");
        assert.equal(await page.locator("[data-testid=doc-item]:visible").count(), 3);
        await page.getByTestId("doc-name").filter({ hasText: "zh_big5_encoded_sample.txt" }).click();
        await dialog.getByTestId("document-title").filter({ hasText: "zh_big5_encoded_sample.txt" }).waitFor();
        await closePage(opened);
    });

    it("shows each upload's progress on the server (parsing, embedding n/m), updates the counts file by file, and clears finished rows", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await createKb(page, "进度");
        await recordUploadTexts(page);
        const articles = (await fs.readFile(fixture("zh/crud_news_documents_dup_part_1_part_1.txt"), "utf8")).split("\n");
        await page.getByTestId("file-input").setInputFiles([
            { name: "新闻.txt", mimeType: "text/plain", buffer: Buffer.from(articles.slice(0, 40).join("\n\n")) },
            { name: "short.txt", mimeType: "text/plain", buffer: Buffer.from("一份很短的文件。") },
        ]);
        const results = await uploadResults(page, 2);
        assert.equal(results.get("新闻.txt")?.status, "ingested");
        const texts = await page.evaluate("window.__uploadTexts") as string[];
        assert.ok(texts.some((text) => /^正在向量化 \d+\/\d+$/.test(text)), texts.join(" | "));
        await page.getByTestId("kb-item").filter({ hasText: "进度" }).filter({ hasText: "2 篇文档" }).waitFor();
        await page.getByTestId("upload-clear").click();
        assert.equal(await page.getByTestId("upload-item").count(), 0);
        assert.equal(await page.getByTestId("upload-clear").isVisible(), false);
        await closePage(opened);
    });

    it("uploads a scanned page, shows its OCR progress, and marks its source card as read by OCR", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await createKb(page, "扫描件");
        await recordUploadTexts(page);
        await page.getByTestId("file-input").setInputFiles(path.join(repoRoot, "tests", "fixtures", "ocr", "zh_scan_top.png"));
        assert.equal((await uploadResults(page, 1)).get("zh_scan_top.png")?.status, "ingested");
        const texts = await page.evaluate("window.__uploadTexts") as string[];
        assert.ok(texts.some((text) => /^正在识别扫描页 \d\/1$/.test(text)), texts.join(" | "));
        await setAdvanced(page, { topK: "3", scoreThreshold: "-1" });
        const { answer } = await ask(page, "物的有用性使物成为什么？");
        const card = answer.getByTestId("source-card").first();
        assert.match(await card.getByTestId("source-ocr").innerText(), /^OCR 识别 · 置信度 (9\d|100)%$/);
        assert.match(words(await card.getByTestId("source-text").innerText()), /使用价值/);
        await closePage(opened);
    });

    it("shows a failed action in a banner in the page's language, which can be dismissed and clears on the next success", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await page.getByTestId("kb-item").first().waitFor();
        const banner = page.getByTestId("banner");
        await page.getByTestId("kb-name-input").fill("测试库");
        await page.getByTestId("kb-create-button").click();
        await banner.filter({ hasText: "已有同名知识库。" }).waitFor();
        await page.getByTestId("lang-toggle").click();
        assert.equal(await page.getByTestId("banner-text").innerText(), "A knowledge base of that name exists already.");
        await page.getByTestId("lang-toggle").click();
        await page.getByTestId("banner-close").click();
        assert.equal(await banner.isVisible(), false);

        await page.getByTestId("kb-name-input").fill("测试库");
        await page.getByTestId("kb-create-button").click();
        await banner.waitFor();
        await createKb(page, "横幅之后");
        assert.equal(await banner.isVisible(), false, "the next success clears it");
        await closePage(opened);
    });

    it("asks the API for refusals by the threshold of the chosen mode, says which one decides, and focuses the question box on /", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        await setAdvanced(page, { topK: "3", scoreThreshold: "-1", lexicalThreshold: "0.5", mode: "bm25" });
        assert.match(await page.getByTestId("threshold-hint").innerText(), /^关键词检索：只用关键词相关度阈值/);
        await page.getByTestId("mode-input").selectOption("dense");
        assert.match(await page.getByTestId("threshold-hint").innerText(), /^向量检索/);
        await page.getByTestId("mode-input").selectOption("bm25");
        const { body, answer } = await ask(page, "量子纠缠实验的原理");
        assert.deepEqual([body.mode, (body as AskBody & { lexicalThreshold?: number }).lexicalThreshold], ["bm25", 0.5]);
        assert.equal(await answer.getAttribute("data-state"), "refused");
        const select = await page.getByTestId("mode-input").boundingBox();
        const panel = await page.getByTestId("advanced").boundingBox();
        assert.ok(select != null && panel != null && select.x + select.width <= panel.x + panel.width + 1, "the mode selector is not clipped");

        await page.reload();
        const kept = await Promise.all(["topk-input", "threshold-input", "lexical-threshold-input", "mode-input"].map((id) => page.getByTestId(id).inputValue()));
        assert.deepEqual(kept, ["3", "-1", "0.5", "bm25"], "the settings survive a reload");
        await setAdvanced(page, { topK: "", scoreThreshold: "" });

        await page.locator("body").click({ position: { x: 5, y: 5 } });
        await page.keyboard.press("/");
        assert.equal(await page.evaluate("document.activeElement?.id"), "question-input");
        assert.equal(await page.getByTestId("question-input").inputValue(), "", "the / is not typed");
        await closePage(opened);
    });

    for (const width of [1280, 390]) {
        it(`lays the page out at ${width} px${width < 900 ? ": chat first, knowledge bases in a drawer, a header on one line" : ""}, light and dark`, async () => {
            const opened = await openPage(browser, server.url, { width, height: 844, colorScheme: "dark" });
            const { page } = opened;
            await page.getByTestId("kb-item").first().waitFor({ state: "attached" });
            assert.equal(await page.evaluate("document.documentElement.dataset.theme"), "dark", "dark follows the system");
            const header = await page.locator("header.topbar").boundingBox();
            assert.ok(header != null && header.height < 70, `the header stays one line (${header?.height} px)`);
            const title = await page.locator("header h1").boundingBox();
            assert.ok(title != null && title.height < 40, `the title is not one character a line (${title?.height} px)`);
            assert.ok(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "nothing wider than the screen");
            const chat = await page.locator(".chat").boundingBox();
            assert.ok(chat != null && chat.x >= 0 && chat.x + chat.width <= width + 1);
            if (width < 900) {
                assert.equal(await page.getByTestId("kb-item").first().isVisible(), true, "laid out, but off screen");
                const side = await page.getByTestId("side").boundingBox();
                assert.ok(side != null && side.x + side.width <= 0, "the drawer starts closed");
                await page.screenshot({ path: path.join(artifactsDir, `page-${width}-dark.png`) });
                await page.getByTestId("drawer-toggle").click();
                await waitUntil(async () => ((await page.getByTestId("side").boundingBox())?.x ?? -1) >= 0);
                await page.screenshot({ path: path.join(artifactsDir, `page-${width}-drawer.png`) });
                await page.getByTestId("kb-item").filter({ hasText: "测试库" }).click();
                await waitUntil(async () => {
                    const box = await page.getByTestId("side").boundingBox();
                    return box != null && box.x + box.width <= 0;
                });
            } else {
                await selectKb(page, "测试库");
                await page.screenshot({ path: path.join(artifactsDir, `page-${width}-dark.png`) });
            }
            await page.getByTestId("theme-toggle").click();
            assert.equal(await page.evaluate("document.documentElement.dataset.theme"), "light");
            await page.reload();
            assert.equal(await page.evaluate("document.documentElement.dataset.theme"), "light", "the choice is remembered");
            await page.screenshot({ path: path.join(artifactsDir, `page-${width}.png`) });
            await closePage(opened);
        });
    }

    it("keeps conversations on the server: continued after a reload and from another browser, renamed and deleted", async () => {
        const first = await openPage(browser, server.url);
        const { page } = first;
        await createKb(page, "对话库");
        await page.getByTestId("file-input").setInputFiles([{ name: "制度.txt", mimeType: "text/plain", buffer: Buffer.from("员工每年享有十天带薪年假。报销需要发票和审批单。") }]);
        assert.equal((await uploadResults(page, 1)).get("制度.txt")?.status, "ingested");
        await setAdvanced(page, { topK: "2", scoreThreshold: "-1" });
        await ask(page, "年假有几天？");
        await ask(page, "报销要什么？");
        const item = page.getByTestId("conversation-item");
        await item.filter({ hasText: "2 轮" }).waitFor();
        assert.deepEqual(await page.getByTestId("conversation-title").allInnerTexts(), ["年假有几天？"]);
        const answers = await page.getByTestId("answer").allInnerTexts();

        await page.reload();
        await waitForCount(page.getByTestId("answer-block"), 2);
        assert.deepEqual(await page.getByTestId("question").allInnerTexts(), ["年假有几天？", "报销要什么？"]);
        assert.deepEqual(await page.getByTestId("answer").allInnerTexts(), answers, "the same answers, rendered again");
        assert.ok(await page.getByTestId("source-card").count() >= 2, "with their sources");
        await closePage(first);

        const other = await openPage(browser, server.url);
        const second = other.page;
        await selectKb(second, "对话库");
        assert.equal(await second.getByTestId("answer-block").count(), 0, "another browser starts with a new conversation");
        await second.getByTestId("conversation-title").filter({ hasText: "年假有几天？" }).click();
        await waitForCount(second.getByTestId("answer-block"), 2);
        await setAdvanced(second, { topK: "2", scoreThreshold: "-1" });
        const continued = await ask(second, "病假呢？");
        assert.deepEqual(continued.body.history?.map((message) => message.role), ["user", "assistant", "user", "assistant"], "the saved turns are its history");
        await second.getByTestId("conversation-item").filter({ hasText: "3 轮" }).waitFor();

        await second.getByTestId("conversation-rename").click();
        await second.getByTestId("conversation-rename-input").fill("假期与报销");
        await second.getByTestId("conversation-rename-input").press("Enter");
        await second.getByTestId("conversation-title").filter({ hasText: "假期与报销" }).waitFor();

        await second.getByTestId("conversation-new").click();
        assert.equal(await second.getByTestId("answer-block").count(), 0);
        await second.getByTestId("conversation-delete").click();
        await second.getByTestId("confirm-ok").click();
        await second.getByTestId("conversation-item").first().waitFor({ state: "detached" });
        const { conversations } = await (await fetch(`${server.url}/kbs/${encodeURIComponent("对话库")}/conversations`)).json() as { conversations: unknown[] };
        assert.deepEqual(conversations, []);
        await second.screenshot({ path: path.join(artifactsDir, "conversations.png") });
        await closePage(other);
    });

    it("at 390 px works through the drawer: choose a knowledge base, ask, read the answer's source in its document, start a new conversation", async () => {
        const opened = await openPage(browser, server.url, { width: 390, height: 844 });
        const { page } = opened;
        const side = page.getByTestId("side");
        const drawerOpen = async () => ((await side.boundingBox())?.x ?? -1) >= 0;
        await page.getByTestId("drawer-toggle").click();
        await waitUntil(drawerOpen);
        await page.getByTestId("kb-item").filter({ hasText: "测试库" }).click();
        await waitUntil(async () => !(await drawerOpen()));

        await setAdvanced(page, { topK: "2", scoreThreshold: "-1" });
        const { answer } = await ask(page, "大模型推理有哪些优化方法？");
        assert.equal(await answer.getAttribute("data-state"), "done");
        const card = answer.getByTestId("source-card").first();
        const cardBox = await card.boundingBox();
        assert.ok(cardBox != null && cardBox.x >= 0 && cardBox.x + cardBox.width <= 390, "the source card fits the screen");
        await card.getByTestId("source-open").click();
        const dialog = page.getByTestId("document-dialog");
        await dialog.locator("[data-highlighted=true]").waitFor();
        const dialogBox = await dialog.boundingBox();
        assert.ok(dialogBox != null && dialogBox.x >= 0 && dialogBox.x + dialogBox.width <= 390, "the document fits the screen");
        const close = await page.getByTestId("document-close").boundingBox();
        assert.ok(close != null && close.y >= 0 && close.y + close.height <= 844, "the close button stays in view beside the highlighted chunk");
        await page.screenshot({ path: path.join(artifactsDir, "page-390-document.png") });
        await page.getByTestId("document-close").click();

        await page.getByTestId("drawer-toggle").click();
        await waitUntil(drawerOpen);
        await page.getByTestId("conversation-item").first().waitFor();
        await page.getByTestId("conversation-new").click();
        assert.equal(await page.getByTestId("answer-block").count(), 0);
        await page.keyboard.press("Escape");
        await waitUntil(async () => !(await drawerOpen()));
        await page.screenshot({ path: path.join(artifactsDir, "page-390-chat.png") });
        await closePage(opened);
    });

    it("switches to English and back, remembering the choice", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        await page.getByTestId("lang-toggle").click();
        assert.equal(await page.locator("#kb-heading").innerText(), "Knowledge bases");
        assert.equal(await page.getByTestId("ask-button").innerText(), "Send");
        assert.equal(await page.getAttribute("html", "lang"), "en");

        await page.reload();
        assert.equal(await page.getByTestId("ask-button").innerText(), "Send");
        await setAdvanced(page, { topK: "3", scoreThreshold: "1", mode: "dense" });
        const { answer } = await ask(page, "What is the weather like?");
        assert.equal(await answer.getByTestId("refusal-label").innerText(), "No relevant information found");
        await page.screenshot({ path: path.join(artifactsDir, "english.png") });

        await page.getByTestId("lang-toggle").click();
        assert.equal(await page.getByTestId("ask-button").innerText(), "发送");
        assert.equal(await answer.getByTestId("refusal-label").innerText(), "未找到相关内容");
        assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
        await closePage(opened);
    });

    it("deletes a document and a knowledge base after confirming in the page", async () => {
        const opened = await openPage(browser, server.url);
        const { page } = opened;
        await selectKb(page, "测试库");
        const evilRow = page.getByTestId("doc-item").filter({ hasText: evilName });
        await evilRow.getByTestId("doc-delete").click();
        await page.getByTestId("confirm-dialog").getByText(`确定删除文档「${evilName}」吗？`, { exact: false }).waitFor();
        await page.getByTestId("confirm-ok").click();
        await evilRow.waitFor({ state: "detached" });
        assert.equal(await page.getByTestId("doc-item").count(), 2);

        await selectKb(page, "网页注入");
        await page.getByTestId("kb-delete-button").click();
        await page.getByTestId("confirm-cancel").click();
        assert.equal(await page.getByTestId("kb-item").filter({ hasText: "网页注入" }).count(), 1);
        await page.getByTestId("kb-delete-button").click();
        await page.getByTestId("confirm-ok").click();
        await page.getByTestId("kb-item").filter({ hasText: "网页注入" }).waitFor({ state: "detached" });
        await closePage(opened);
    });

    it("offers only what the key may do: a reader sees only its knowledge base, and no upload, delete or create", async () => {
        const dataDir = path.join(temp.dir, "roles");
        const roles = await startServer({ config: testConfig(dataDir), port: 0, log: () => undefined });
        try {
            for (const kb of ["可读", "不可见"]) {
                assert.equal((await fetch(`${roles.url}/kbs`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: kb }) })).status, 201);
                const form = new FormData();
                form.append("files", new Blob([`${kb}的文件：报销需要发票。`]), `${kb}.txt`);
                assert.equal((await fetch(`${roles.url}/kbs/${encodeURIComponent(kb)}/documents`, { method: "POST", body: form })).status, 200);
            }
            const { key } = await KeyStore.of(dataDir).add("读者", "reader", ["可读"]);

            const opened = await openPage(browser, roles.url);
            const { page } = opened;
            await page.getByTestId("api-key-dialog").waitFor();
            await page.getByTestId("api-key-input").fill(key);
            await page.getByTestId("api-key-submit").click();
            await page.getByTestId("kb-item").filter({ hasText: "可读" }).waitFor();
            await page.getByTestId("doc-item").first().waitFor();
            assert.deepEqual(await page.getByTestId("kb-item").locator(".kb-name").allTextContents(), ["可读"], "the other knowledge base is not listed");
            for (const control of ["kb-create-form", "kb-delete-button", "dropzone", "doc-delete"]) {
                assert.equal(await page.getByTestId(control).first().isVisible(), false, `${control} is not offered to a reader`);
            }
            await page.screenshot({ path: path.join(artifactsDir, "reader-key.png") });
            await closePage(opened);
        } finally {
            await roles.close();
        }
    });

    it("asks for the API key when the server wants one, and sends it from then on", async () => {
        const keyed = await startServer({ config: testConfig(path.join(temp.dir, "keyed")), port: 0, apiKey: "secret", log: () => undefined });
        try {
            const created = await fetch(`${keyed.url}/kbs`, {
                method: "POST",
                headers: { "Content-Type": "application/json", Authorization: "Bearer secret" },
                body: JSON.stringify({ name: "受保护" }),
            });
            assert.equal(created.status, 201);

            const opened = await openPage(browser, keyed.url);
            const { page } = opened;
            await page.getByTestId("api-key-dialog").waitFor();
            await page.getByTestId("api-key-input").fill("wrong");
            await page.getByTestId("api-key-submit").click();
            await page.getByText("密钥无效，请重新输入。").waitFor();
            await page.getByTestId("api-key-input").fill("secret");
            await page.getByTestId("api-key-submit").click();
            await page.getByTestId("kb-item").filter({ hasText: "受保护" }).waitFor();
            assert.equal(await page.getByTestId("api-key-dialog").isVisible(), false);

            await page.getByTestId("file-input").setInputFiles([{ name: "钥匙.txt", mimeType: "text/plain", buffer: Buffer.from("带着密钥上传的文件。") }]);
            assert.equal((await uploadResults(page, 1)).get("钥匙.txt")?.status, "ingested");
            assert.equal(await page.getByTestId("api-key-dialog").isVisible(), false);
            await closePage(opened);
        } finally {
            await keyed.close();
        }
    });
});

describe("the web page of a server without its model files", () => {
    it("says what to do instead of loading for ever", async () => {
        const temp = await makeTempDir();
        const server = await startServer({
            config: testConfig(path.join(temp.dir, "storage"), { embeddingModel: path.join(temp.dir, "missing.gguf"), llmModel: path.join(temp.dir, "missing.gguf") }),
            port: 0,
            log: () => undefined,
        });
        const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
        try {
            const opened = await openPage(browser, server.url);
            const { page } = opened;
            await page.getByTestId("ready-status").and(page.locator("[data-state=error]")).waitFor();
            assert.equal(await page.getByTestId("ready-status").innerText(), "模型文件缺失");
            assert.match(await page.getByTestId("banner-text").innerText(), /请在服务器上运行 yizhi models pull/);
            await page.screenshot({ path: path.join(artifactsDir, "models-missing.png") });
            await closePage(opened);
        } finally {
            await browser.close();
            await server.close();
            await temp.cleanup();
        }
    });
});
