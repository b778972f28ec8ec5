import assert from "node:assert/strict";
import { test } from "node:test";
import { liveTensorCount, noGrad, scope, type Tensor, tensor } from "../src/engine/index.js";
import { computeAdvantages } from "../src/grpo/step/advantages.js";
import { type GrpoLossInputs, type GrpoLossSettings, grpoLoss } from "../src/grpo/step/loss.js";

/** The loss types TRL had before the variants: their tests predate loss-variants. */
type LossType = "grpo" | "bnpo" | "dr_grpo" | "dapo";

const f64 = (rows: number[][]) => tensor(rows, { dtype: "float64" });
const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
const allClose = (actual: ArrayLike<number>, expected: number[], tol = 1e-9) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) close(actual[i]!, expected[i]!, tol);
};

const base: GrpoLossSettings = { lossType: "dapo", beta: 0, epsilon: 0.2, maxCompletionLength: 4 };

/** Loss value and d loss / d logps for given log-prob values (float64). */
function lossAndGrad(
  logpRows: number[][],
  rest: Omit<GrpoLossInputs, "logps">,
  settings: GrpoLossSettings,
): { loss: number; grad: Float64Array; metrics: ReturnType<typeof grpoLoss>["metrics"] } {
  return scope(() => {
    const logps = f64(logpRows).setRequiresGrad();
    const { loss, metrics } = grpoLoss({ ...rest, logps }, settings);
    loss.backward();
    return { loss: loss.item(), grad: logps.grad!.toFloat64Array(), metrics };
  });
}

// Two completions of up to 3 tokens; the first has 2 real tokens, the second 3.
const logp = [
  [-1.0, -2.0, -0.5],
  [-0.3, -0.7, -1.1],
];
const mask = () =>
  f64([
    [1, 1, 0],
    [1, 1, 1],
  ]);

test("num_iterations = 1: each loss type's value and gradient, hand-worked", () => {
  // old = logps.detach(): ratio 1, per-token loss −A, gradient −A·M / normaliser.
  // A = [1, −0.5]; token counts 2 and 3 (5 in all).
  const cases: Array<[LossType, number, number[]]> = [
    // grpo: mean(−(1+1)/2, −(−0.5·3)/3) = mean(−1, 0.5) = −0.25; grads −1/(2·2), 0.5/(3·2)
    ["grpo", -0.25, [-0.25, -0.25, 0, 1 / 12, 1 / 12, 1 / 12]],
    // bnpo: (−2 + 1.5) / 5 = −0.1; grads −1/5, 0.5/5
    ["bnpo", -0.1, [-0.2, -0.2, 0, 0.1, 0.1, 0.1]],
    // dr_grpo: −0.5 / (B 2 · max_completion_length 4) = −0.0625; grads −1/8, 0.5/8
    ["dr_grpo", -0.0625, [-0.125, -0.125, 0, 0.0625, 0.0625, 0.0625]],
    // dapo (one micro-batch): same as bnpo
    ["dapo", -0.1, [-0.2, -0.2, 0, 0.1, 0.1, 0.1]],
  ];
  for (const [lossType, value, grad] of cases) {
    const r = lossAndGrad(logp, { mask: mask(), advantages: [1, -0.5] }, { ...base, lossType });
    close(r.loss, value);
    allClose(r.grad, grad);
    assert.deepEqual(r.metrics, {
      kl: null,
      "clip_ratio/low_mean": 0,
      "clip_ratio/high_mean": 0,
      "clip_ratio/region_mean": 0,
      "clip_ratio/low_min": 0,
      "clip_ratio/high_max": 0,
    });
  }
});

test("with num_iterations = 1 the gradient is the advantage-weighted log-prob gradient", () => {
  // ∇ loss = −Σ_i A_i Σ_t M_it ∇ log π_it / normaliser, for every loss type.
  const A = [0.7, -1.3];
  const M = [
    [1, 1, 0],
    [1, 1, 1],
  ];
  const counts = M.map((row) => row.reduce((s, x) => s + x, 0));
  const normaliser: Record<LossType, (i: number) => number> = {
    grpo: (i) => counts[i]! * 2,
    bnpo: () => 5,
    dr_grpo: () => 2 * 4,
    dapo: () => 5,
  };
  for (const lossType of ["grpo", "bnpo", "dr_grpo", "dapo"] as const) {
    const { grad } = lossAndGrad(logp, { mask: f64(M), advantages: A }, { ...base, lossType });
    const expected = M.flatMap((row, i) => row.map((m) => (-A[i]! * m) / normaliser[lossType](i)));
    allClose(grad, expected, 1e-12);
  }
});

test("hand-worked advantages from rewards, for every scale_rewards mode", () => {
  // Rewards of 2 groups of G = 2; completions of 1, 3, 2 and 2 tokens. With ratio 1 the loss is
  // Σ_i −A_i·len_i / normaliser.
  const rewards = [1, 3, 2, 2];
  const M = f64([
    [1, 0, 0],
    [1, 1, 1],
    [1, 1, 0],
    [1, 1, 0],
  ]);
  const lp = [
    [-1, -1, -1],
    [-2, -2, -2],
    [-1, -1, -1],
    [-3, -3, -3],
  ];
  // A: none [−1, 1, 0, 0]; group ±1/(√2 + 1e-4) = ±0.707057; batch ±1/(√(2/3) + 1e-4) = ±1.224595.
  // Σ −A·len = 1·A_1... = −(−a·1 + a·3) = −2a.
  const expected: Record<string, Record<LossType, number>> = {
    none: { bnpo: -2 / 8, dapo: -2 / 8, dr_grpo: -2 / 12, grpo: 0 },
    group: { bnpo: (-2 * 0.707057) / 8, dapo: (-2 * 0.707057) / 8, dr_grpo: (-2 * 0.707057) / 12, grpo: 0 },
    batch: { bnpo: (-2 * 1.224595) / 8, dapo: (-2 * 1.224595) / 8, dr_grpo: (-2 * 1.224595) / 12, grpo: 0 },
  };
  for (const mode of ["none", "group", "batch"] as const) {
    const { advantages } = computeAdvantages(rewards, 2, mode);
    for (const lossType of ["grpo", "bnpo", "dr_grpo", "dapo"] as const) {
      const { loss } = lossAndGrad(
        lp,
        { mask: M, advantages },
        { ...base, lossType, maxCompletionLength: 3 },
      );
      close(loss, expected[mode]![lossType], 1e-6);
    }
  }
});

test("clipping with old log-probs (num_iterations > 1): value, gradient and clip metrics, hand-worked", () => {
  // Ratios π/π_old: completion 0 (A = +1) [1.5, 0.9]; completion 1 (A = −1) [0.5, 1.1].
  // ε_low 0.2, ε_high 0.28 -> clip range [0.8, 1.28].
  //   (0,0) r 1.5: min(1.5, 1.28)·1 = 1.28 -> L −1.28, clipped high, no gradient
  //   (0,1) r 0.9: L −0.9, gradient −A·r = −0.9
  //   (1,0) r 0.5: min(−0.5, −0.8) = −0.8 -> L 0.8, clipped low, no gradient
  //   (1,1) r 1.1: L 1.1, gradient −A·r = 1.1
  const ratios = [
    [1.5, 0.9],
    [0.5, 1.1],
  ];
  const lp = [
    [-1.2, -0.4],
    [-2.0, -0.9],
  ];
  const old = f64(lp.map((row, i) => row.map((x, t) => x - Math.log(ratios[i]![t]!))));
  const M = f64([
    [1, 1],
    [1, 1],
  ]);
  const settings = { ...base, epsilonHigh: 0.28 };
  const sum = -1.28 - 0.9 + 0.8 + 1.1; // −0.28
  const cases: Array<[GrpoLossSettings, number, number[]]> = [
    [{ ...settings, lossType: "grpo" }, ((-1.28 - 0.9) / 2 + (0.8 + 1.1) / 2) / 2, [0, -0.9 / 4, 0, 1.1 / 4]],
    [{ ...settings, lossType: "bnpo" }, sum / 4, [0, -0.9 / 4, 0, 1.1 / 4]],
    [{ ...settings, lossType: "dr_grpo" }, sum / 8, [0, -0.9 / 8, 0, 1.1 / 8]],
    // dapo over an optimizer step of 2 micro-batches with 8 active tokens in all.
    [{ ...settings, lossType: "dapo", numItemsInBatch: 8 }, sum / 8, [0, -0.9 / 8, 0, 1.1 / 8]],
  ];
  for (const [s, value, grad] of cases) {
    const r = lossAndGrad(lp, { mask: M, advantages: [1, -1], oldLogps: old }, s);
    close(r.loss, value);
    allClose(r.grad, grad);
    close(r.metrics["clip_ratio/high_mean"]!, 0.25);
    close(r.metrics["clip_ratio/low_mean"]!, 0.25);
    close(r.metrics["clip_ratio/region_mean"]!, 0.5);
  }
  // A ratio above 1 + ε_high with a negative advantage is not clipped (the min keeps r·A).
  const r = lossAndGrad(
    [[0]],
    { mask: f64([[1]]), advantages: [-1], oldLogps: f64([[-Math.log(1.5)]]) },
    settings,
  );
  close(r.loss, 1.5);
  allClose(r.grad, [1.5]);
  close(r.metrics["clip_ratio/region_mean"]!, 0);
});

test("k3 KL with beta, hand-worked", () => {
  // Zero advantages isolate the KL term. d = log π_ref − log π: [[0, ln 2], [−ln 2, 0]].
  // k3(d) = e^d − d − 1: 0, 1 − ln 2 = 0.306853, ln 2 − 0.5 = 0.193147, 0 -> sum 0.5.
  // ∂k3/∂log π = 1 − e^d: 0, −1, 0.5, 0.
  const lp = [
    [-1, -2],
    [-1, -2],
  ];
  const ref = f64([
    [-1, -2 + Math.LN2],
    [-1 - Math.LN2, -2],
  ]);
  const M = f64([
    [1, 1],
    [1, 1],
  ]);
  const r = lossAndGrad(
    lp,
    { mask: M, advantages: [0, 0], refLogps: ref },
    { ...base, lossType: "bnpo", beta: 0.1 },
  );
  close(r.loss, (0.1 * 0.5) / 4);
  close(r.metrics.kl!, 0.5 / 4);
  allClose(r.grad, [0, -0.1 / 4, 0.05 / 4, 0]);
  assert.throws(
    () => grpoLoss({ logps: f64(lp), mask: M, advantages: [0, 0] }, { ...base, beta: 0.1 }),
    /beta > 0 needs refLogps/,
  );
});

test("gradient accumulation: grpo/bnpo/dr_grpo divide by the steps, dapo by the step's token count", () => {
  const inputs = { mask: mask(), advantages: [1, -0.5] };
  const one = lossAndGrad(logp, inputs, { ...base, lossType: "bnpo" }).loss;
  close(lossAndGrad(logp, inputs, { ...base, lossType: "bnpo", gradientAccumulationSteps: 4 }).loss, one / 4);
  close(lossAndGrad(logp, inputs, { ...base, lossType: "grpo", gradientAccumulationSteps: 2 }).loss, -0.125);
  // dapo with two micro-batches of 5 tokens each: both divide by 10, so the sum of their losses
  // is the token mean over the whole step.
  close(
    lossAndGrad(logp, inputs, {
      ...base,
      lossType: "dapo",
      gradientAccumulationSteps: 2,
      numItemsInBatch: 10,
    }).loss,
    -0.05,
  );
});

test("gradient w.r.t. log-probs matches central finite differences (float64), every loss type", () => {
  // Old log-probs chosen so that some ratios sit inside the clip range and some beyond it on
  // either side (none near a boundary, where the loss has a kink), with a KL term.
  const lp = [
    [-0.9, -1.7, -0.2, -2.3],
    [-0.4, -1.1, -3.0, -0.8],
    [-1.5, -0.6, -0.9, -1.2],
  ];
  const logRatios = [
    [0.05, 0.5, -0.4, 0.1],
    [-0.6, 0.02, 0.35, -0.1],
    [0.15, -0.3, 0.6, 0.0],
  ];
  const old = f64(lp.map((row, i) => row.map((x, t) => x - logRatios[i]![t]!)));
  const ref = f64(lp.map((row) => row.map((x, t) => x + 0.3 * Math.sin(3 * t + x))));
  const M = f64([
    [1, 1, 1, 0],
    [1, 1, 1, 1],
    [1, 0, 0, 0],
  ]);
  const advantages = [0.8, -1.1, 0.4];
  const h = 1e-6;
  for (const lossType of ["grpo", "bnpo", "dr_grpo", "dapo"] as const) {
    const settings: GrpoLossSettings = {
      lossType,
      beta: 0.04,
      epsilon: 0.2,
      epsilonHigh: 0.28,
      maxCompletionLength: 5,
    };
    const inputs = { mask: M, advantages, oldLogps: old, refLogps: ref };
    const { grad, metrics } = lossAndGrad(lp, inputs, settings);
    assert.ok(metrics["clip_ratio/region_mean"]! > 0, "the example exercises clipping");
    const value = (rows: number[][]) =>
      noGrad(() => scope(() => grpoLoss({ ...inputs, logps: f64(rows) }, settings).loss.item()));
    lp.forEach((row, i) => {
      row.forEach((_, t) => {
        const plus = lp.map((r) => [...r]);
        const minus = lp.map((r) => [...r]);
        plus[i]![t]! += h;
        minus[i]![t]! -= h;
        const numeric = (value(plus) - value(minus)) / (2 * h);
        const analytic = grad[i * 4 + t]!;
        assert.ok(
          Math.abs(numeric - analytic) <= 1e-7 * Math.max(1, Math.abs(numeric)),
          `${lossType} [${i},${t}]: autograd ${analytic} vs finite difference ${numeric}`,
        );
      });
    });
  }
});

test("advantages may be a tensor; float32 inputs work; no tensors leak", () => {
  const before = liveTensorCount();
  scope(() => {
    const lp32 = tensor(logp).setRequiresGrad();
    const { loss } = grpoLoss(
      {
        logps: lp32,
        mask: tensor([
          [1, 1, 0],
          [1, 1, 1],
        ]),
        advantages: tensor([1, -0.5]),
      },
      { ...base, lossType: "bnpo" },
    );
    assert.equal(loss.dtype, "float32");
    close(loss.item(), -0.1, 1e-6);
    loss.backward();
    return undefined;
  });
  assert.equal(liveTensorCount(), before);
});

test("shape and setting errors are clear", () => {
  scope(() => {
    const lp = f64(logp);
    assert.throws(
      () => grpoLoss({ logps: lp, mask: f64([[1, 1]]), advantages: [1, 1] }, base),
      /mask must have the shape of logps \[2, 3\]/,
    );
    assert.throws(
      () => grpoLoss({ logps: lp, mask: mask(), advantages: [1] }, base),
      /1 advantages for 2 completions/,
    );
    assert.throws(
      () => grpoLoss({ logps: f64([[1]]).sum(), mask: mask(), advantages: [1] } as GrpoLossInputs, base),
      /logps must be \[B, T\]/,
    );
    assert.throws(
      () => grpoLoss({ logps: lp, mask: mask(), advantages: [1, 1] }, { ...base, epsilon: 1.5 }),
      /epsilon must be in \(0, 1\)/,
    );
    return undefined as Tensor | undefined;
  });
});
