import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { describe, it } from "node:test";
import { bestK } from "../src/retrieval/bm25.js";
import { reciprocalRankFusion } from "../src/retrieval/reciprocalRankFusion.js";
import { tokenize, toSimplified } from "../src/retrieval/tokenize.js";
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

    it("makes the same terms of traditional and simplified Chinese, so either script finds the other", () => {
        assert.deepEqual(tokenize("員工每年享有帶薪年假，病假須提供醫院證明。"), tokenize("员工每年享有带薪年假，病假须提供医院证明。"));
        assert.deepEqual(tokenize("資料庫每天備份一次，備份保留三十天"), tokenize("资料库每天备份一次，备份保留三十天"));
    });

    it("leaves simplified text as it is before cutting it (no phrase rewriting)", async () => {
        const news = await fs.readFile(fixture("zh", "crud_news_documents_dup_part_1_part_1.txt"), "utf8");
        const sample = news.slice(0, 200_000);
        assert.equal(toSimplified(sample), sample);
        assert.equal(toSimplified("显著的原著"), "显著的原著");
        assert.equal(toSimplified("軟體與網路"), "软体与网路");
    });

    it("folds full-width letters and digits (NFKC)", () => {
        assert.deepEqual(tokenize("ＧＰＵ １２３"), tokenize("gpu 123"));
    });
});

describe("bestK", () => {
    it("returns the k best of many scores in order, ties by label, as a full sort would", () => {
        const random = mulberry32(7);
        const scores = new Map<number, number>();
        // Few distinct scores, so that ties are common.
        for (let label = 0; label < 3000; label++) scores.set(label, Math.floor(random() * 50) / 7);
        const sorted = [...scores].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
        for (const k of [1, 7, 20, 100, 3000, 5000]) assert.deepEqual(bestK(scores, k), sorted.slice(0, k));
        assert.deepEqual(bestK(new Map(), 5), []);
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
