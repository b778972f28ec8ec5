import assert from "node:assert/strict";
import { test } from "node:test";
import { scope, tensor } from "../src/engine/index.js";
import {
  applyMinP,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  processLogits,
  topKCandidates,
  validateSamplingSettings,
} from "../src/model/logits-processors.js";

const NEG = Number.NEGATIVE_INFINITY;

/** Rows of a [B, V] tensor as JS arrays. */
function rows(run: () => ReturnType<typeof tensor>): number[][] {
  return scope(() => run().tolist() as number[][]);
}

function assertClose(actual: number[][], expected: number[][], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => {
    assert.equal(row.length, expected[i].length, `row ${i} length`);
    row.forEach((v, j) => {
      const e = expected[i][j];
      if (!Number.isFinite(e)) assert.equal(v, e, `[${i}][${j}]: ${v} vs ${e}`);
      else assert.ok(Math.abs(v - e) <= tol, `[${i}][${j}]: ${v} vs ${e}`);
    });
  });
}

/** Logits whose softmax is exactly `probs` (log of a normalised distribution). */
const logitsOf = (probs: number[]) => probs.map(Math.log);
const P = [0.5, 0.3, 0.15, 0.05];

test("repetition penalty divides positive and multiplies negative logits of seen tokens only", () => {
  const out = rows(() =>
    applyRepetitionPenalty(
      tensor([
        [2, -1, 0.5, -3],
        [2, -1, 0.5, -3],
      ]),
      tensor(
        [
          [true, true, false, false],
          [false, false, true, true],
        ],
        { dtype: "bool" },
      ),
      2,
    ),
  );
  assertClose(out, [
    [1, -2, 0.5, -3],
    [2, -1, 0.25, -6],
  ]);
});

test("temperature divides every logit", () => {
  assertClose(
    rows(() => applyTemperature(tensor([[1, 2, -4]]), 0.5)),
    [[2, 4, -8]],
  );
});

test("top-k keeps the k largest, and ties with the k-th value", () => {
  assertClose(
    rows(() =>
      applyTopK(
        tensor([
          [1, 5, 3, 5, 2],
          [1, 4, 3, 3, 2],
        ]),
        2,
      ),
    ),
    [
      [NEG, 5, NEG, 5, NEG],
      [NEG, 4, 3, 3, NEG],
    ],
  );
  // k >= vocab or 0 leaves the logits alone.
  assertClose(
    rows(() => applyTopK(tensor([[1, 2, 3]]), 3)),
    [[1, 2, 3]],
  );
  assertClose(
    rows(() => applyTopK(tensor([[1, 2, 3]]), 0)),
    [[1, 2, 3]],
  );
});

test("top-k candidates: the k best with their ids, widened for ties with the k-th", () => {
  scope(() => {
    const plain = topKCandidates(tensor([[1, 5, 3, 0]]), 2);
    assert.deepEqual(plain.values.tolist(), [[5, 3]]);
    assert.deepEqual(plain.indices.tolist(), [[1, 2]]);
    // Row 0 ties at the 2nd place (two 3s): 3 columns; row 1 has no tie, its 3rd column is -inf.
    const tied = topKCandidates(
      tensor([
        [1, 4, 3, 3, 2],
        [5, 1, 2, 0, 3],
      ]),
      2,
    );
    const values = tied.values.tolist() as number[][];
    const indices = tied.indices.tolist() as number[][];
    assert.deepEqual(values, [
      [4, 3, 3],
      [5, 3, NEG],
    ]);
    assert.equal(indices[0][0], 1);
    assert.deepEqual([indices[0][1], indices[0][2]].sort(), [2, 3]);
    assert.deepEqual(indices[1].slice(0, 2), [0, 4]);
    assert.throws(() => topKCandidates(tensor([[1, 2]]), 2), /k must be/);
  });
});

test("top-p keeps the smallest top set reaching p, per row", () => {
  const l = logitsOf(P);
  // Row 0, p = 0.75: ascending cumsum 0.05, 0.20, 0.50, 1 -> drop those <= 0.25 (0.05 and 0.15).
  // Row 1 (shuffled order), p = 0.75 as well: the same tokens by probability are dropped.
  const shuffled = [l[2], l[0], l[3], l[1]];
  assertClose(
    rows(() => applyTopP(tensor([l, shuffled]), 0.75)),
    [
      [l[0], l[1], NEG, NEG],
      [NEG, l[0], NEG, l[1]],
    ],
    1e-6,
  );
  // p = 0.9: drop only the 0.05 token (cumsum 0.05 <= 0.1, 0.20 > 0.1).
  assertClose(
    rows(() => applyTopP(tensor([l]), 0.9)),
    [[l[0], l[1], l[2], NEG]],
  );
  // p = 0.3: only the top token (0.5 >= 0.3).
  assertClose(
    rows(() => applyTopP(tensor([l]), 0.3)),
    [[l[0], NEG, NEG, NEG]],
  );
});

test("top-p always keeps the most likely token", () => {
  // With p tiny, 1 - p rounds so close to 1 that even the top token's cumsum is below it.
  assertClose(
    rows(() => applyTopP(tensor([logitsOf(P)]), 1e-12)),
    [[Math.log(0.5), NEG, NEG, NEG]],
  );
  // A uniform row: every cumsum is a multiple of 1/4, only the last in sorted order survives.
  const kept = rows(() => applyTopP(tensor([[0, 0, 0, 0]]), 0.1))[0].filter(Number.isFinite);
  assert.equal(kept.length, 1);
});

test("min-p drops tokens below min_p x the top probability", () => {
  const l = logitsOf(P);
  // 0.2 x 0.5 = 0.1: only 0.05 is dropped.
  assertClose(
    rows(() => applyMinP(tensor([l]), 0.2)),
    [[l[0], l[1], l[2], NEG]],
  );
  // 0.7 x 0.5 = 0.35: only the top token stays.
  assertClose(
    rows(() => applyMinP(tensor([l]), 0.7)),
    [[l[0], NEG, NEG, NEG]],
  );
  // 0 is off.
  assertClose(
    rows(() => applyMinP(tensor([l]), 0)),
    [l],
  );
});

test("processLogits applies temperature before top-p and min-p (HF order)", () => {
  const l = logitsOf(P);
  // At T = 0.5 the probabilities become p^2 / sum = [0.685, 0.247, 0.062, 0.007].
  // top-p 0.6 then keeps only token 0 (it would keep tokens 0 and 1 on the raw logits).
  assertClose(
    rows(() => processLogits(tensor([l]), { temperature: 0.5, topP: 0.6 })),
    [[2 * l[0], NEG, NEG, NEG]],
    1e-5,
  );
  // min-p 0.2 after T = 0.5: threshold 0.137 keeps tokens 0 and 1 (token 2 would stay on raw logits).
  assertClose(
    rows(() => processLogits(tensor([l]), { temperature: 0.5, minP: 0.2 })),
    [[2 * l[0], 2 * l[1], NEG, NEG]],
    1e-5,
  );
  // The penalty comes first: token 0 (seen, 2 -> 1) falls out of the top-1.
  assertClose(
    rows(() =>
      processLogits(
        tensor([[2, 1.5, 0]]),
        { repetitionPenalty: 2, topK: 1 },
        { seen: tensor([[true, false, false]], { dtype: "bool" }) },
      ),
    ),
    [[NEG, 1.5, NEG]],
  );
});

test("greedy processing applies only the repetition penalty", () => {
  assertClose(
    rows(() =>
      processLogits(
        tensor([[2, -1, 1]]),
        { temperature: 0.5, topK: 1, topP: 0.1, minP: 0.9, repetitionPenalty: 4 },
        { seen: tensor([[true, true, false]], { dtype: "bool" }), greedy: true },
      ),
    ),
    [[0.5, -4, 1]],
  );
});

test("settings outside HF's ranges are rejected with the setting's name", () => {
  assert.throws(() => validateSamplingSettings({ temperature: 0 }), /temperature/);
  assert.throws(() => validateSamplingSettings({ topK: 1.5 }), /topK/);
  assert.throws(() => validateSamplingSettings({ topP: 0 }), /topP/);
  assert.throws(() => validateSamplingSettings({ minP: 1.5 }), /minP/);
  assert.throws(() => validateSamplingSettings({ repetitionPenalty: -1 }), /repetitionPenalty/);
  assert.throws(() => processLogits(tensor([[1]]), { repetitionPenalty: 1.2 }), /seen/);
  validateSamplingSettings({ temperature: 0.7, topK: 50, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1 });
});
