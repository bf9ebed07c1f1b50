import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { safeFileName } from "../src/server/safeFileName.js";
import { startServer, type RunningServer } from "../src/server/startServer.js";
import { filesHeldUnder, fixture, makeTempDir, writerClosed } from "./helpers.js";
import { testConfig, testSettings } from "./testConfig.js";

interface ServerEvent {
    event: string;
    data: unknown;
}

/** Reads a Server-Sent Events body to its end (or until `stopAfter` says so), as a browser would. */
async function readEvents(response: Response, stopAfter?: (event: ServerEvent) => boolean): Promise<ServerEvent[]> {
    const events: ServerEvent[] = [];
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const bytes of response.body!) {
        buffer += decoder.decode(bytes, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
            const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
            events.push({ event, data: data === "[DONE]" ? data : JSON.parse(data) });
            if (stopAfter?.(events[events.length - 1]!) === true) return events;
        }
    }
    return events;
}

function upload(url: string, files: { name: string; content: string | Uint8Array }[], headers: Record<string, string> = {}): Promise<Response> {
    const form = new FormData();
    for (const file of files) form.append("files", new Blob([file.content]), file.name);
    return fetch(url, { method: "POST", body: form, headers });
}

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
    const body = await response.json() as { error: { code: string; message: string } };
    return { status: response.status, ...body.error };
}

describe("the HTTP API", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;
    let url: string;
    const kbUrl = () => `${url}/kbs/${encodeURIComponent("团队文档")}`;

    before(async () => {
        temp = await makeTempDir();
        // A 2048-token context holds two 100-character Chinese chunks: the test model spends ~3 tokens a character.
        const config = testConfig(path.join(temp.dir, "storage"), {
            maxUploadBytes: 64 * 1024, contextSize: 2048, chunkSize: 100, chunkOverlap: 10, parallelAnswers: 1, maxQueuedQuestions: 0,
        });
        server = await startServer({ config, port: 0, log: () => undefined });
        url = server.url;
        await server.ready;
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    it("answers /healthz, /readyz and /openapi.json", async () => {
        assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: "ok" });
        assert.deepEqual(await (await fetch(`${url}/readyz`)).json(), {
            status: "ready",
            models: [{ role: "embedding", provider: "local", ok: true }, { role: "llm", provider: "local", ok: true }],
        });
        const openapi = await (await fetch(`${url}/openapi.json`)).json() as { paths: Record<string, unknown> };
        for (const route of ["/ask", "/kbs", "/kbs/{kb}", "/kbs/{kb}/documents", "/kbs/{kb}/documents/{id}", "/kbs/{kb}/conversations", "/kbs/{kb}/conversations/{id}", "/v1/chat/completions", "/v1/models"])
            assert.ok(route in openapi.paths, route);
    });

    it("creates, lists and refuses duplicate or invalid knowledge bases", async () => {
        const created = await postJson(`${url}/kbs`, { name: "团队文档" });
        assert.equal(created.status, 201);
        assert.deepEqual(await errorOf(await postJson(`${url}/kbs`, { name: "团队文档" })), { status: 409, code: "kb_exists", message: "Knowledge base \"团队文档\" already exists." });
        const invalid = await errorOf(await postJson(`${url}/kbs`, { name: "../escape" }));
        assert.equal(invalid.status, 400);
        assert.match(invalid.message, /not a valid knowledge-base name/);
        const missing = await errorOf(await postJson(`${url}/kbs`, {}));
        assert.equal(missing.status, 400);
        assert.match(missing.message, /^name: /);
        const { kbs } = await (await fetch(`${url}/kbs`)).json() as { kbs: { name: string; documents: number }[] };
        assert.deepEqual(kbs.map((kb) => [kb.name, kb.documents]), [["团队文档", 0]]);
        assert.ok(!(await fs.readdir(temp.dir)).includes("escape"));
    });

    it("ingests several uploaded files and reports each", async () => {
        const markdown = await fs.readFile(fixture("zh/md/zh_llm_inference_optimization.md"));
        const big5 = await fs.readFile(fixture("zh/txt/zh_big5_encoded_sample.txt"));
        const response = await upload(`${kbUrl()}/documents`, [
            { name: "优化.md", content: markdown },
            { name: "big5.txt", content: big5 },
            { name: "empty.txt", content: "" },
        ]);
        assert.equal(response.status, 200);
        const { files } = await response.json() as { files: { name: string; status: string; chunks: number; reason?: string }[] };
        assert.deepEqual(files.map((file) => [file.name, file.status]), [["优化.md", "ingested"], ["big5.txt", "ingested"], ["empty.txt", "failed"]]);
        assert.ok(files[0]!.chunks > 1);
        assert.equal(files[2]!.reason, "The file is empty.");

        const again = await (await upload(`${kbUrl()}/documents`, [{ name: "优化.md", content: markdown }])).json() as { files: { status: string }[] };
        assert.equal(again.files[0]?.status, "unchanged");
        const { documents } = await (await fetch(`${kbUrl()}/documents`)).json() as { documents: { name: string; chunks: number }[] };
        assert.deepEqual(documents.map((document) => document.name).sort(), ["big5.txt", "优化.md"]);
    });

    it("gives a document with its chunks in order by id, a start of it or its name, as docs show does; a miss is a 404 without command-line advice", async () => {
        const { documents } = await (await fetch(`${kbUrl()}/documents`)).json() as { documents: { id: string; name: string; chunks: number }[] };
        const markdown = documents.find((document) => document.name === "优化.md")!;
        for (const given of [markdown.id, markdown.id.slice(0, 5), "优化.md"]) {
            const response = await fetch(`${kbUrl()}/documents/${encodeURIComponent(given)}`);
            assert.equal(response.status, 200, given);
            const body = await response.json() as {
                document: { id: string; name: string; source: string; chunks: number };
                chunks: { index: number; text: string; headingPath?: string[] }[];
            };
            assert.deepEqual([body.document.id, body.document.name, body.document.source], [markdown.id, "优化.md", "优化.md"]);
            assert.deepEqual(body.chunks.map((chunk) => chunk.index), Array.from({ length: markdown.chunks }, (_, i) => i));
            assert.ok(body.chunks.every((chunk) => chunk.text.length > 0));
            assert.ok(body.chunks.some((chunk) => (chunk.headingPath?.length ?? 0) > 0), "Markdown headings come with the chunks");
        }
        const missing = await errorOf(await fetch(`${kbUrl()}/documents/no-such-document`));
        assert.deepEqual(missing, { status: 404, code: "document_not_found", message: "Knowledge base \"团队文档\" has no document \"no-such-document\"." });
        assert.equal((await errorOf(await fetch(`${url}/kbs/nope/documents/${markdown.id}`))).code, "kb_not_found");
    });

    it("streams an upload's progress when asked to (Accept: text/event-stream): each file's stage and chunks embedded, then the outcomes", async () => {
        const articles = (await fs.readFile(fixture("zh/crud_news_documents_dup_part_1_part_1.txt"), "utf8")).split("\n");
        const response = await upload(`${kbUrl()}/documents`, [
            { name: "进度.txt", content: articles.slice(200, 230).join("\n\n").slice(0, 20_000) },
            { name: "notes.json", content: "{}" },
        ], { accept: "text/event-stream" });
        assert.equal(response.status, 200);
        assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
        const events = await readEvents(response);
        const done = events.at(-1)!;
        assert.equal(done.event, "done");
        const { files } = done.data as { files: { name: string; status: string; chunks: number }[] };
        assert.deepEqual(files.map((file) => [file.name, file.status]), [["进度.txt", "ingested"], ["notes.json", "skipped"]]);
        const progress = events.slice(0, -1).map((event) => {
            assert.equal(event.event, "progress");
            return event.data as { filesDone: number; filesTotal: number; bytesDone: number; active: { file: string; stage: string; chunksEmbedded: number; chunks: number }[] };
        });
        assert.ok(progress.some((event) => event.active.some((file) => file.file === "进度.txt" && file.stage === "embedding" && file.chunks === files[0]!.chunks)), JSON.stringify(progress));
        const last = progress.at(-1)!;
        assert.deepEqual(last, { filesDone: 2, filesTotal: 2, chunksEmbedded: files[0]!.chunks, bytesDone: last.bytesDone, bytesTotal: last.bytesDone, active: [] });

        const refused = await upload(`${url}/kbs/nope/documents`, [{ name: "a.txt", content: "内容" }], { accept: "text/event-stream" });
        assert.equal((await errorOf(refused)).code, "kb_not_found", "a missing knowledge base is a plain 404, before any stream");
        // The tests after this one count on the documents before it.
        assert.equal((await fetch(`${kbUrl()}/documents/${encodeURIComponent("进度.txt")}`, { method: "DELETE" })).status, 204);
    });

    it("never lets an uploaded file's name decide where anything lands", async () => {
        const long = `${"长".repeat(300)}.txt`;
        const names = ["../../escape.txt", "/etc/passwd.txt", "..\\..\\windows.txt", "a<b>c:d*e?.txt", long];
        const response = await upload(`${kbUrl()}/documents`, names.map((name, i) => ({ name, content: `第${i}个文件的内容。` })));
        assert.equal(response.status, 200);
        const { files } = await response.json() as { files: { name: string; status: string }[] };
        assert.deepEqual(files.map((file) => file.status), names.map(() => "ingested"));
        const stored = files.map((file) => file.name);
        assert.deepEqual(stored.slice(0, 4), ["escape.txt", "passwd.txt", "windows.txt", "a<b>c:d*e?.txt"]);
        assert.equal([...stored[4]!].length, 200);
        assert.ok(stored[4]!.endsWith(".txt"));
        // eslint-disable-next-line no-control-regex -- a NUL in a stored name is what this checks for
        for (const name of stored) assert.ok(!/[/\\\u0000]/.test(name));
        await fs.access(path.join(temp.dir, "escape.txt")).then(() => assert.fail("a file was written outside"), () => undefined);
        const storageEntries = await fs.readdir(path.join(temp.dir, "storage"));
        assert.deepEqual(storageEntries, ["团队文档"]);

        // Control characters cannot be carried in a multipart header; the name sanitiser drops them all the same.
        assert.equal(safeFileName("tab\tand\u0007bell\u0000.txt"), "tabandbell.txt");
        assert.throws(() => safeFileName("../.."), /names no file/);
        // A NUL byte cannot even be carried in a multipart header: the upload is malformed, a 400.
        const nul = await errorOf(await upload(`${kbUrl()}/documents`, [{ name: "nul\u0000byte.txt", content: "内容" }]));
        assert.deepEqual([nul.status, nul.code], [400, "invalid_upload"]);
    });

    it("skips an unsupported file and stores the others of its upload; refuses oversize files (413), storing nothing", async () => {
        const mixed = await upload(`${kbUrl()}/documents`, [{ name: "ok-among-others.txt", content: "好的，这份可以存入。" }, { name: "tool.exe", content: "MZ" }]);
        assert.equal(mixed.status, 200);
        const { files } = await mixed.json() as { files: { name: string; status: string; reason?: string }[] };
        assert.deepEqual(files.map(({ name, status }) => [name, status]), [["ok-among-others.txt", "ingested"], ["tool.exe", "skipped"]]);
        assert.match(files[1]!.reason ?? "", /Unsupported file type \.exe/);
        const before = await (await fetch(`${kbUrl()}/documents`)).json();
        const oversize = await errorOf(await upload(`${kbUrl()}/documents`, [{ name: "big.txt", content: "大".repeat(40_000) }]));
        assert.equal(oversize.status, 413);
        assert.equal(oversize.code, "file_too_large");
        const noFiles = await errorOf(await fetch(`${kbUrl()}/documents`, { method: "POST", body: new FormData() }));
        assert.equal(noFiles.status, 400);
        assert.deepEqual(await (await fetch(`${kbUrl()}/documents`)).json(), before);
    });

    it("rejects malformed JSON, missing or invalid fields, and unknown knowledge bases", async () => {
        const malformed = await fetch(`${url}/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"question\": " });
        assert.deepEqual(await errorOf(malformed), { status: 400, code: "malformed_json", message: "The request body is not valid JSON." });
        const missing = await errorOf(await postJson(`${url}/ask`, { kb: "团队文档" }));
        assert.equal(missing.status, 400);
        assert.match(missing.message, /^question: /);
        const invalid = await errorOf(await postJson(`${url}/ask`, { question: "问题", kb: "团队文档", topK: 0, scoreThreshold: 5, mode: "sideways" }));
        assert.match(invalid.message, /topK: .*; mode: .*; scoreThreshold: /);
        const unknown = await errorOf(await postJson(`${url}/ask`, { question: "问题", kb: "团队文挡" }));
        assert.deepEqual(unknown, { status: 404, code: "kb_not_found", message: "Knowledge base \"团队文挡\" does not exist." }, "no server folder, no CLI advice, no other names");
        const route = await errorOf(await fetch(`${url}/no/such/route`));
        assert.deepEqual([route.status, route.code], [404, "not_found"]);
        const tooLarge = await errorOf(await postJson(`${url}/ask`, { question: "问".repeat(600_000), kb: "团队文档" }));
        assert.equal(tooLarge.status, 413);
    });

    it("answers /ask as JSON, and refuses when nothing passes the threshold", async () => {
        const answered = await (await postJson(`${url}/ask`, { question: "大模型推理怎么优化？", kb: "团队文档", scoreThreshold: -1, topK: 2 })).json() as { refused: boolean; answer: string; sources: { n: number; name: string; score: number }[] };
        assert.equal(answered.refused, false);
        assert.ok(answered.answer.length > 0);
        assert.deepEqual(answered.sources.map((source) => source.n), [1, 2]);
        assert.ok(answered.sources.every((source) => typeof source.name === "string" && typeof source.score === "number"));
        // Hybrid (the default): no chunk is close enough in meaning nor shares enough of the words.
        const refused = await (await postJson(`${url}/ask`, { question: "量子纠缠实验的原理", kb: "团队文档", scoreThreshold: 1 })).json() as { refused: boolean; answer: string };
        assert.deepEqual([refused.refused, refused.answer], [true, "根据已知信息无法回答该问题"]);
    });

    it("streams /ask as Server-Sent Events: sources, then tokens, then done", async () => {
        const response = await postJson(`${url}/ask`, { question: "大模型推理怎么优化？", kb: "团队文档", scoreThreshold: -1, topK: 2, stream: true });
        assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
        const events = await readEvents(response);
        assert.equal(events[0]?.event, "sources");
        const { sources } = events[0]!.data as { sources: { documentId: string; chunkIndex: number; text: string }[] };
        assert.equal(sources.length, 2);
        for (const source of sources) {
            const { chunks } = await (await fetch(`${kbUrl()}/documents/${source.documentId}`)).json() as { chunks: { index: number; text: string }[] };
            assert.equal(chunks[source.chunkIndex]?.text, source.text, "chunkIndex finds the source among its document's chunks");
        }
        const tokens = events.filter((event) => event.event === "token").map((event) => (event.data as { text: string }).text);
        assert.ok(tokens.length > 1);
        const done = events[events.length - 1]!;
        assert.equal(done.event, "done");
        assert.equal((done.data as { answer: string }).answer, tokens.join(""));
        assert.deepEqual(events.slice(1, -1).map((event) => event.event), tokens.map(() => "token"));
    });

    it("frees the answer slot of a client that disconnects mid-answer", async () => {
        const first = await postJson(`${url}/ask`, { question: "讲一个故事", kb: "团队文档", scoreThreshold: -1, stream: true });
        await readEvents(first, (event) => event.event === "token");
        await first.body?.cancel();
        // One slot, no queue: the next question is answered only once the slot is free again.
        let status = 0;
        for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
            const next = await postJson(`${url}/ask`, { question: "另一个问题", kb: "团队文档", scoreThreshold: -1 });
            status = next.status;
            await next.body?.cancel();
            if (status === 503) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(status, 200);
    });

    it("answers questions beyond the free slots and the queue with 503 queue_full and Retry-After", async () => {
        const responses = await Promise.all(Array.from({ length: 4 }, () => postJson(`${url}/ask`, { question: "大模型推理怎么优化？", kb: "团队文档", scoreThreshold: -1 })));
        assert.ok(responses.some((response) => response.status === 200));
        for (const response of responses.filter((item) => item.status !== 200)) {
            assert.equal(response.status, 503);
            assert.equal(response.headers.get("retry-after"), "5");
            assert.equal((await errorOf(response)).code, "queue_full");
        }
    });

    it("goes on answering from the last committed state while an upload is being ingested", async () => {
        // Several files under this server's 64 KB limit each: seconds of embedding in all.
        const articles = (await fs.readFile(fixture("zh/crud_news_documents_dup_part_1_part_1.txt"), "utf8")).split("\n");
        const files = Array.from({ length: 6 }, (_, i) => ({ name: i === 0 ? "新闻.txt" : `新闻${i}.txt`, content: articles.slice(i * 20, i * 20 + 20).join("\n\n").slice(0, 20_000) }));
        const before = await (await fetch(`${kbUrl()}/documents`)).json() as { documents: { id: string }[] };
        const finished: string[] = [];
        const uploading = upload(`${kbUrl()}/documents`, files).then(async (response) => {
            finished.push("upload");
            return response;
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        const answer = await postJson(`${url}/ask`, { question: "新闻里说了什么？", kb: "团队文档", scoreThreshold: -1, topK: 3 });
        finished.push("ask");
        assert.equal(answer.status, 200);
        const { sources } = await answer.json() as { sources: { documentId: string }[] };
        const known = new Set(before.documents.map((document) => document.id));
        assert.ok(sources.every((source) => known.has(source.documentId)), "answered from the documents committed before the upload");
        assert.equal((await uploading).status, 200);
        assert.deepEqual(finished, ["ask", "upload"], "the question did not wait for the upload");

        const afterUpload = await (await postJson(`${url}/ask`, { question: "新闻里说了什么？", kb: "团队文档", scoreThreshold: -1, topK: 50 })).json() as { sources: { name: string }[] };
        assert.ok(afterUpload.sources.some((source) => source.name === "新闻.txt"), "the next question sees the new document");
    });

    it("serves the OpenAI-compatible API to the official openai client, streaming and not", async () => {
        const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "not-needed" });
        const models = await client.models.list();
        assert.ok(models.data.some((model) => model.id === "团队文档"));

        const completion = await client.chat.completions.create({
            model: "团队文档",
            messages: [{ role: "user", content: "什么是批处理？" }, { role: "assistant", content: "批处理是……" }, { role: "user", content: "大模型推理怎么优化？" }],
        });
        const content = completion.choices[0]?.message.content ?? "";
        const extra = completion as unknown as { sources: { n: number }[]; refused: boolean };
        assert.equal(typeof content, "string");
        assert.equal(typeof extra.refused, "boolean");
        assert.ok(Array.isArray(extra.sources));
        assert.ok(extra.refused || content.length > 0);

        const stream = await client.chat.completions.create({ model: "团队文档", messages: [{ role: "user", content: "大模型推理怎么优化？" }], stream: true });
        let streamed = "";
        let last: unknown;
        for await (const chunk of stream) {
            streamed += chunk.choices[0]?.delta.content ?? "";
            last = chunk;
        }
        const final = last as { choices: { finish_reason: string | null }[]; sources?: unknown[] };
        assert.ok(["stop", "length"].includes(final.choices[0]?.finish_reason ?? ""));
        assert.ok(Array.isArray(final.sources));
        assert.equal(typeof streamed, "string");

        // max_tokens cuts the answer there, and says so; usage counts the model's tokens.
        const question = { model: "团队文档", messages: [{ role: "user" as const, content: "大模型推理怎么优化？" }] };
        const short = await client.chat.completions.create({ ...question, max_tokens: 4, temperature: 0 });
        assert.equal((short as unknown as { refused: boolean }).refused, false);
        assert.equal(short.choices[0]?.finish_reason, "length");
        assert.equal(short.usage?.completion_tokens, 4);
        assert.ok((short.usage?.prompt_tokens ?? 0) > 100, "the prompt holds the sources");
        assert.equal(short.usage?.total_tokens, short.usage!.prompt_tokens + 4);
        assert.ok((short.choices[0]?.message.content ?? "").length < content.length || content.length === 0);
        const counted = await client.chat.completions.create({ ...question, max_completion_tokens: 3, stream: true, stream_options: { include_usage: true } });
        const chunks = [];
        for await (const chunk of counted) chunks.push(chunk);
        assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, "length");
        assert.deepEqual(chunks.at(-1)?.choices, [], "the last chunk has only the usage");
        assert.equal(chunks.at(-1)?.usage?.completion_tokens, 3);
        await assert.rejects(client.chat.completions.create({ ...question, temperature: 3 }), (error: unknown) => error instanceof OpenAI.APIError && error.status === 400);

        await assert.rejects(client.chat.completions.create({ model: "不存在", messages: [{ role: "user", content: "问题" }] }), (error: unknown) => error instanceof OpenAI.APIError && error.status === 404);
    });

    it("keeps conversations per knowledge base: started, listed, renamed, continued, deleted; bad input is a 400 that changes nothing", async () => {
        const base = `${kbUrl()}/conversations`;
        const created = await postJson(base, { title: "年假的问题" });
        assert.equal(created.status, 201);
        const conversation = await created.json() as { id: string; title: string; turns: unknown[]; createdAt: string };
        assert.match(conversation.id, /^[0-9a-f]{16}$/);
        assert.deepEqual([conversation.title, conversation.turns], ["年假的问题", []]);

        const turn = { question: "年假几天？", answer: "十天 [1]", refused: false, askedAt: new Date().toISOString(), sources: [{ n: 1, documentId: "abc", chunkIndex: 0, name: "优化.md", score: 0.5, text: "片段" }] };
        const patch = (body: unknown) => fetch(`${base}/${conversation.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        assert.equal((await patch({ turns: [turn] })).status, 200);
        assert.equal((await patch({ title: "年假" })).status, 200);
        const saved = await (await fetch(`${base}/${conversation.id}`)).json() as { title: string; turns: unknown[]; createdAt: string };
        assert.deepEqual([saved.title, saved.turns, saved.createdAt], ["年假", [turn], conversation.createdAt]);
        const { conversations } = await (await fetch(base)).json() as { conversations: { id: string; title: string; turns: number }[] };
        assert.deepEqual(conversations.map(({ id, title, turns }) => [id, title, turns]), [[conversation.id, "年假", 1]]);

        const tooLong = await errorOf(await patch({ turns: [{ ...turn, question: "问".repeat(4_001) }] }));
        assert.equal(tooLong.status, 400);
        assert.match(tooLong.message, /^turns\.0\.question: /);
        assert.equal((await errorOf(await patch({ turns: [{ ...turn, extra: 1 }] }))).status, 400);
        assert.equal((await errorOf(await postJson(base, { title: "  " }))).status, 400);
        assert.deepEqual((await (await fetch(`${base}/${conversation.id}`)).json() as { turns: unknown[] }).turns, [turn], "nothing changed");
        assert.equal((await errorOf(await fetch(`${base}/..%2F..%2Fkb`))).code, "conversation_not_found");
        assert.equal((await errorOf(await fetch(`${url}/kbs/nope/conversations`))).code, "kb_not_found");

        assert.equal((await fetch(`${base}/${conversation.id}`, { method: "DELETE" })).status, 204);
        assert.equal((await errorOf(await fetch(`${base}/${conversation.id}`, { method: "DELETE" }))).status, 404);
    });

    it("deletes documents and knowledge bases", async () => {
        const { documents } = await (await fetch(`${kbUrl()}/documents`)).json() as { documents: { id: string; name: string }[] };
        const victim = documents.find((document) => document.name === "big5.txt")!;
        assert.equal((await fetch(`${kbUrl()}/documents/${victim.id}`, { method: "DELETE" })).status, 204);
        assert.equal((await errorOf(await fetch(`${kbUrl()}/documents/${victim.id}`, { method: "DELETE" }))).status, 404);
        const remaining = await (await fetch(`${kbUrl()}/documents`)).json() as { documents: { id: string }[] };
        assert.ok(!remaining.documents.some((document) => document.id === victim.id));
        assert.equal((await fetch(kbUrl(), { method: "DELETE" })).status, 204);
        assert.equal((await errorOf(await fetch(kbUrl(), { method: "DELETE" }))).status, 404);
        // Its disk space is free: neither the server nor the parser processes it started hold its files.
        const deletedButHeld = (await filesHeldUnder(path.join(temp.dir, "storage"))).filter((file) => file.endsWith(" (deleted)"));
        assert.deepEqual(deletedButHeld, []);
    });

    it("answers an unexpected failure with 500 and a message that shows no internals", async () => {
        await postJson(`${url}/kbs`, { name: "damaged" });
        await upload(`${url}/kbs/damaged/documents`, [{ name: "a.txt", content: "内容。" }]);
        const kbDir = path.join(temp.dir, "storage", "damaged");
        await writerClosed(kbDir);
        const graph = (await fs.readdir(kbDir)).find((entry) => entry.startsWith("graph-"))!;
        await fs.rm(path.join(kbDir, graph));
        const response = await postJson(`${url}/ask`, { question: "问题", kb: "damaged" });
        const body = await response.text();
        assert.equal(response.status, 500);
        assert.deepEqual(JSON.parse(body), { error: { code: "kb_corrupt", message: `Knowledge base "damaged" cannot be opened: its vector graph ${graph} is missing. Run: yizhi kb repair damaged` } });
        assert.ok(!body.includes("    at ") && !body.includes(temp.dir), "no stack trace, no server paths");
    });
});

describe("the HTTP API with an API key", () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let server: RunningServer;

    before(async () => {
        temp = await makeTempDir();
        server = await startServer({ config: testConfig(temp.dir), port: 0, apiKey: "s3cret", log: () => undefined });
    });
    after(async () => {
        await server.close();
        await temp.cleanup();
    });

    it("requires Authorization: Bearer <key> on every API route, but not on health probes", async () => {
        for (const [method, route] of [["GET", "/kbs"], ["POST", "/ask"], ["GET", "/v1/models"], ["POST", "/v1/chat/completions"], ["DELETE", "/kbs/x"]] as const) {
            const none = await fetch(`${server.url}${route}`, { method });
            assert.deepEqual([route, none.status, (await errorOf(none)).code], [route, 401, "unauthorized"]);
            const wrong = await fetch(`${server.url}${route}`, { method, headers: { authorization: "Bearer wrong" } });
            assert.equal(wrong.status, 401);
        }
        const right = await fetch(`${server.url}/kbs`, { headers: { authorization: "Bearer s3cret" } });
        assert.equal(right.status, 200);
        assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    });
});

describe("a server started before its models are in place", () => {
    it("says in /readyz which models are missing without naming files, logs each one's file once, and is ready once they are copied in", async () => {
        const temp = await makeTempDir();
        const embeddingModel = path.join(temp.dir, "models", "embedding.gguf");
        const llmModel = path.join(temp.dir, "models", "answers.gguf");
        const logged: unknown[] = [];
        const server = await startServer({ config: testConfig(path.join(temp.dir, "storage"), { embeddingModel, llmModel }), port: 0, log: (error) => logged.push(error) });
        try {
            await assert.rejects(server.ready);
            const response = await fetch(`${server.url}/readyz`);
            assert.equal(response.status, 503);
            const body = await response.json() as { error: { code: string; message: string }; models: unknown[] };
            assert.deepEqual(body, {
                error: {
                    code: "not_ready",
                    message: "The embedding and LLM models are not on the server: run \"yizhi models pull\" there (or set the model paths) and the server picks them up within seconds; its log names the files.",
                },
                models: [{ role: "embedding", provider: "local", ok: false, error: "model_not_found" }, { role: "llm", provider: "local", ok: false, error: "model_not_found" }],
            });
            assert.equal(logged.length, 1);
            const message = (logged[0] as Error).message;
            assert.ok(message.includes(`The embedding model file ${embeddingModel} does not exist`) && message.includes(`The LLM model file ${llmModel} does not exist`), message);

            await fs.mkdir(path.dirname(embeddingModel), { recursive: true });
            for (const file of [embeddingModel, llmModel]) await fs.copyFile(testSettings.embeddingModel, file);
            // The server tries again every 5 s; a minute without success is a failure, not a wait.
            let ready = response;
            for (let tries = 0; tries < 120 && ready.status === 503; tries++) {
                await new Promise((resolve) => setTimeout(resolve, 500));
                ready = await fetch(`${server.url}/readyz`);
            }
            assert.equal(ready.status, 200);
            assert.equal(logged.length, 1, "a failure is logged once, not at every retry");
        } finally {
            await server.close();
            await temp.cleanup();
        }
    });
});
