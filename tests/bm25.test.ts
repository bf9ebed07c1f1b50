import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { describe, it } from "node:test";
import { Bm25Index } from "../src/retrieval/bm25Index.js";
import { reciprocalRankFusion } from "../src/retrieval/reciprocalRankFusion.js";
import { tokenize } from "../src/retrieval/tokenize.js";
import { fixture, mulberry32 } from "./helpers.js";

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);

describe("tokenize", () => {
    it("cuts Chinese into words in search mode, keeps Latin words and numbers whole, lower-cased", () => {
        const terms = tokenize("大模型推理优化：KV Cache 与 Flash-Attention，提速 3.5 倍。");
        for (const term of ["模型", "推理", "优化", "kv", tokenize("cache")[0]!, "flash", tokenize("attention")[0]!, "提速", "3.5"]) assert.ok(terms.includes(term), term);
        assert.ok(!terms.includes("与"), "stop word");
        assert.ok(terms.every((term) => /[\p{L}\p{N}]/u.test(term) && term === term.trim()), "no punctuation or spaces");
    });

    it("emits the shorter words inside a long one, so a part matches the whole", () => {
        const terms = tokenize("中华人民共和国国务院");
        for (const term of ["共和国", "国务院", "人民"]) assert.ok(terms.includes(term), term);
    });

    it("reduces English words to their stem, so inflections match", () => {
        assert.deepEqual(tokenize("invented inventions Inventing"), ["invent", "invent", "invent"]);
        assert.deepEqual(tokenize("Who invented the telephone?"), tokenize("the invention of telephones"));
    });

    it("drops question words, which passages seldom contain", () => {
        assert.deepEqual(tokenize("谁发明了电话？"), tokenize("发明电话"));
        assert.deepEqual(tokenize("When was it built, and where?"), ["built"]);
    });

    it("folds full-width letters and digits (NFKC)", () => {
        assert.deepEqual(tokenize("ＧＰＵ １２３"), tokenize("gpu 123"));
    });
});

describe("Bm25Index", () => {
    it("scores by the Okapi BM25 formula with Lucene's IDF (a worked example)", () => {
        const index = new Bm25Index({ k1: 1.2, b: 0.75 });
        index.add(1, ["cat", "sat", "mat"]);
        index.add(2, ["dog", "sat", "log", "dog"]);
        index.add(3, ["cat", "cat", "cat", "dog", "bird"]);
        // N = 3, average length 4. "cat" is in 2 chunks: idf = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6.
        const idfCat = Math.log(1.6);
        const hits = index.search(["cat"], 10);
        assert.deepEqual(hits.map((hit) => hit.label), [3, 1]);
        // chunk 3: tf 3, length 5 → 3 × 2.2 / (3 + 1.2 × (0.25 + 0.75 × 5/4)) ; chunk 1: tf 1, length 3.
        close(hits[0]!.score, idfCat * 3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 5 / 4)));
        close(hits[1]!.score, idfCat * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / 4)));
        // A two-term query adds the terms' contributions; "bird" (1 chunk) weighs more than "dog" (2 chunks).
        const idfBird = Math.log(1 + 2.5 / 1.5);
        close(index.search(["bird"], 1)[0]!.score, idfBird * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 5 / 4)));
        assert.ok(idfBird > Math.log(1.6));
    });

    it("ranks a chunk with a rare query term above one with a common term, and a short chunk above a long one", () => {
        const index = new Bm25Index();
        index.add(1, ["报销", "流程", "说明"]);
        index.add(2, ["差旅", "报销", "标准"]);
        index.add(3, ["差旅", "住宿", "标准"]);
        index.add(4, ["会议", "纪要"]);
        index.add(5, ["会议", "纪要", "附件", "目录", "说明", "补充", "材料"]);
        assert.equal(index.search(["报销", "住宿"], 1)[0]?.label, 3, "住宿 is rarer than 报销");
        assert.deepEqual(index.search(["纪要"], 2).map((hit) => hit.label), [4, 5]);
        assert.deepEqual(index.search(["不存在"], 5), []);
        assert.deepEqual(index.search([], 5), []);
    });

    it("saturates term frequency: repeating a term helps less and less", () => {
        const index = new Bm25Index();
        for (let count = 1; count <= 4; count++) index.add(count, Array.from({ length: count }, () => "词"));
        index.add(99, ["别的"]);
        const byLabel = new Map(index.search(["词"], 10).map((hit) => [hit.label, hit.score]));
        const gains = [2, 3, 4].map((count) => byLabel.get(count)! - byLabel.get(count - 1)!);
        assert.ok(gains[0]! > gains[1]! && gains[1]! > gains[2]! && gains[2]! > 0, String(gains));
    });

    it("never returns a removed chunk, and updates the statistics", () => {
        const index = new Bm25Index();
        index.add(1, ["a1", "shared"]);
        index.add(2, ["a2", "shared"]);
        index.add(3, ["a3"]);
        const before = index.search(["shared"], 5)[0]!.score;
        index.remove(2);
        assert.deepEqual(index.search(["a2"], 5), []);
        assert.deepEqual(index.search(["shared"], 5).map((hit) => hit.label), [1]);
        assert.notEqual(index.search(["shared"], 5)[0]!.score, before, "document frequency and lengths changed");
        index.remove(2);
        assert.equal(index.size, 2);
    });

    it("re-adding a label replaces its terms", () => {
        const index = new Bm25Index();
        index.add(1, ["old"]);
        index.add(1, ["new"]);
        assert.deepEqual(index.search(["old"], 5), []);
        assert.equal(index.search(["new"], 5)[0]?.label, 1);
        assert.equal(index.size, 1);
    });

    it("relevance is the score over that of an average-length chunk holding each query term once, capped at 1", () => {
        const index = new Bm25Index({ k1: 1.2, b: 0.75 });
        index.add(1, ["cat", "sat", "mat"]);
        index.add(2, ["dog", "sat", "log", "dog"]);
        index.add(3, ["cat", "cat", "cat", "dog", "bird"]);
        const idf = (df: number) => Math.log(1 + (3 - df + 0.5) / (df + 0.5));
        const [top, second] = index.search(["cat", "mat"], 10);
        assert.equal(top!.label, 1);
        // Chunk 1 is shorter than average and holds both terms: over 1 before the cap.
        assert.ok(top!.score / (idf(2) + idf(1)) > 1);
        assert.equal(top!.relevance, 1);
        close(second!.relevance, second!.score / (idf(2) + idf(1)));
        assert.ok(second!.relevance < 1);
        // A query term found nowhere counts with the highest IDF, so coverage drops.
        const [withUnknown] = index.search(["cat", "mat", "zebra"], 10);
        close(withUnknown!.relevance, top!.score / (idf(2) + idf(1) + idf(0)));
        assert.ok(withUnknown!.relevance < top!.relevance);
        assert.deepEqual(index.search(["zebra"], 10), []);
    });

    it("scores given chunks exactly as search does", () => {
        const index = new Bm25Index();
        index.add(1, ["cat", "sat", "mat"]);
        index.add(2, ["dog", "sat", "log", "dog"]);
        const hits = index.search(["dog", "sat"], 10);
        assert.deepEqual(index.scoreChunks(["dog", "sat"], hits.map((hit) => hit.label)), hits);
        assert.deepEqual(index.scoreChunks(["zebra"], [1]), [{ label: 1, score: 0, relevance: 0 }]);
        assert.deepEqual(index.scoreChunks(["dog"], [99, 2]).map((hit) => hit.label), [2], "unknown labels are left out");
    });

    it("returns the k best of many matching chunks in order, ties by label, as a full sort would", () => {
        const index = new Bm25Index();
        const random = mulberry32(7);
        const words = ["年", "国家", "帝国", "铁路", "港口", "河流", "山脉", "城市"];
        for (let label = 0; label < 3000; label++) {
            index.add(label, Array.from({ length: 5 + Math.floor(random() * 30) }, () => words[Math.floor(random() * words.length)]!));
        }
        const query = ["年", "国家", "港口"];
        const all = index.search(query, 5000);
        const sorted = [...all].sort((x, y) => y.score - x.score || x.label - y.label);
        assert.deepEqual(all, sorted);
        for (const k of [1, 7, 20, 100]) assert.deepEqual(index.search(query, k), sorted.slice(0, k));
    });

    it("round-trips through its snapshot with identical results", async () => {
        const text = await fs.readFile(fixture("zh/txt/zh_cas_regulations_compilation.txt"), "utf8");
        const paragraphs = text.split(/\n+/).filter((paragraph) => paragraph.trim().length > 20).slice(0, 400);
        const index = new Bm25Index();
        paragraphs.forEach((paragraph, label) => index.add(label, tokenize(paragraph)));
        const restored = Bm25Index.fromSnapshot(JSON.parse(JSON.stringify(index.toSnapshot())));
        for (const query of ["科研经费管理办法", "出国访问审批", "研究生招生"]) assert.deepEqual(restored.search(tokenize(query), 10), index.search(tokenize(query), 10));
    });

    it("finds Chinese passages by their words through jieba", async () => {
        const text = await fs.readFile(fixture("zh/txt/zh_cas_regulations_compilation.txt"), "utf8");
        const paragraphs = text.split(/\n+/).filter((paragraph) => paragraph.trim().length > 20);
        const index = new Bm25Index();
        paragraphs.forEach((paragraph, label) => index.add(label, tokenize(paragraph)));
        const target = paragraphs.findIndex((paragraph) => paragraph.includes("差旅费"));
        assert.ok(target >= 0);
        const top = index.search(tokenize("差旅费怎么报销"), 5).map((hit) => paragraphs[hit.label]!);
        assert.ok(top.some((paragraph) => paragraph.includes("差旅费")), top.join("\n"));
    });
});

describe("reciprocalRankFusion", () => {
    it("adds 1 / (k + rank) over the lists and normalises by the best possible sum", () => {
        const fused = reciprocalRankFusion([[10, 20, 30], [20, 40]], 60);
        const best = 2 / 61;
        assert.deepEqual(fused.map((hit) => hit.label), [20, 10, 40, 30]);
        close(fused[0]!.score, (1 / 62 + 1 / 61) / best);
        close(fused[1]!.score, (1 / 61) / best);
        close(fused[2]!.score, (1 / 62) / best);
        close(fused[3]!.score, (1 / 63) / best);
    });

    it("gives 1 to a chunk ranked first in every list, and keeps ties in order of first appearance", () => {
        // k = 1: the best possible sum is 2 / (1 + 1) = 1, so scores are the plain sums.
        assert.deepEqual(reciprocalRankFusion([[7, 8], [7, 9]], 1).map((hit) => [hit.label, hit.score]), [[7, 1], [8, 1 / 3], [9, 1 / 3]]);
        assert.deepEqual(reciprocalRankFusion([], 60), []);
        assert.deepEqual(reciprocalRankFusion([[], [5]], 60).map((hit) => hit.label), [5]);
    });

    it("lets a smaller k weigh the top ranks more", () => {
        const spread = (k: number) => {
            const fused = reciprocalRankFusion([[1, 9, 8], [2, 7, 6]], k);
            return fused[0]!.score - fused[fused.length - 1]!.score;
        };
        assert.ok(spread(1) > spread(60));
    });
});
