import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { noGrad, scope, tensor } from "../src/engine/index.js";
import { normalizeThenSumAdvantages } from "../src/grpo/step/advantages.js";
import {
  type GrpoLossInputs,
  type GrpoLossMetrics,
  type GrpoLossSettings,
  grpoLoss,
} from "../src/grpo/step/loss.js";
import { quantile } from "../src/grpo/step/loss-variants.js";

const f64 = (rows: number[][]) => tensor(rows, { dtype: "float64" });
const close = (actual: number, expected: number, tol = 1e-12, what = "") =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);
const allClose = (actual: readonly number[] | null, expected: number[]) => {
  assert.equal(actual?.length, expected.length);
  for (const [i, x] of expected.entries()) close(actual![i]!, x);
};

const VESPO = { kPos: 2, lambdaPos: 3, kNeg: 3, lambdaNeg: 2 };
const base: GrpoLossSettings = {
  lossType: "dapo",
  beta: 0,
  epsilon: 0.2,
  maxCompletionLength: 4,
  sapoTemperaturePos: 1,
  sapoTemperatureNeg: 1.05,
  vespo: VESPO,
};

interface Run {
  loss: number;
  grad: number[];
  entropyGrad: number[] | null;
  metrics: GrpoLossMetrics;
}

/** Loss, d loss / d logps and (when entropies are given) d loss / d entropies, in float64. */
function run(logp: number[][], rest: Omit<GrpoLossInputs, "logps">, settings: GrpoLossSettings): Run {
  return scope(() => {
    const logps = f64(logp).setRequiresGrad();
    const entropies = rest.entropies?.detach().setRequiresGrad();
    const { loss, metrics } = grpoLoss({ ...rest, logps, entropies }, settings);
    loss.backward();
    return {
      loss: loss.item(),
      grad: logps.grad!.toArray(),
      entropyGrad: entropies?.grad?.toArray() ?? null,
      metrics,
    };
  });
}

// ---- hand-worked cases, one per setting -------------------------------------------------------

test("importance_sampling_level = sequence: one ratio per completion, the exp of the mean log-ratio", () => {
  // Log-ratios [0.2, 0.4] -> log w = 0.3, r = e^0.3 = 1.349859 for both tokens.
  const lp = [[-1, -2]];
  const old = f64([[-1.2, -2.4]]);
  const settings: GrpoLossSettings = { ...base, lossType: "grpo", importanceSamplingLevel: "sequence" };
  // A = +1: min(r, 1.2) = 1.2 -> loss −1.2, no gradient; the completion counts as high-clipped.
  let r = run(lp, { mask: f64([[1, 1]]), advantages: [1], oldLogps: old }, settings);
  close(r.loss, -1.2);
  allClose(r.grad, [0, 0]);
  close(r.metrics["clip_ratio/high_mean"]!, 1);
  // A = −1: min(−r, −1.2) = −r -> loss r; d r / d log π_t = r / 2 (each token is half the mean).
  r = run(lp, { mask: f64([[1, 1]]), advantages: [-1], oldLogps: old }, settings);
  close(r.loss, Math.exp(0.3));
  close(r.grad[0]!, Math.exp(0.3) / 2);
  close(r.grad[1]!, Math.exp(0.3) / 2);
  // Padding does not enter the mean: a third, masked token changes nothing.
  const padded = run(
    [[-1, -2, -7]],
    { mask: f64([[1, 1, 0]]), advantages: [-1], oldLogps: f64([[-1.2, -2.4, 0]]) },
    settings,
  );
  close(padded.loss, Math.exp(0.3));
});

test("delta caps the unclipped ratio (two-sided clipping)", () => {
  // r = 2, A = −1, ε_high 0.2: min(−2, −1.2) = −2 -> loss 2, gradient r·1 = 2. With delta 1.5:
  // min(−1.5, −1.2) = −1.5 -> loss 1.5 and no gradient (the capped ratio is a constant).
  const inputs = { mask: f64([[1]]), advantages: [-1], oldLogps: f64([[-1 - Math.LN2]]) };
  const plain = run([[-1]], inputs, base);
  close(plain.loss, 2);
  close(plain.grad[0]!, 2);
  const capped = run([[-1]], inputs, { ...base, delta: 1.5 });
  close(capped.loss, 1.5);
  close(capped.grad[0]!, 0);
});

test("cispo: the capped ratio is a detached weight on A·log π", () => {
  // r = 2 capped at ε_high 1.5; A = 1, log π = −1: L = −1.5·1·(−1) = 1.5; d/d log π = −1.5.
  const r = run(
    [[-1]],
    { mask: f64([[1]]), advantages: [1], oldLogps: f64([[-1 - Math.LN2]]) },
    { ...base, lossType: "cispo", epsilonHigh: 1.5 },
  );
  close(r.loss, 1.5);
  close(r.grad[0]!, -1.5);
  assert.deepEqual(r.metrics, { kl: null, cispo_clip_ratio: 1 });
});

test("sapo: a soft gate σ(τ(r − 1))·4/τ in place of the clip", () => {
  // r = 1: the gate is σ(0)·4/τ = 2/τ, so L = −2A/τ: −2 (A = 1, τ_pos 1) and 2/1.05 (A = −1, τ_neg).
  // d/d log π = −A·4·σ'(0)·r = −A. grpo normalisation over two one-token completions halves both.
  const r = run([[-1], [-2]], { mask: f64([[1], [1]]), advantages: [1, -1] }, { ...base, lossType: "sapo" });
  close(r.loss, (-2 + 2 / 1.05) / 2);
  close(r.grad[0]!, -0.5);
  close(r.grad[1]!, 0.5);
});

test("vespo: the detached gamma weight w^k·e^(λ(1−w)) of the summed log-ratio", () => {
  // Log-ratios [ln 2 / 2, ln 2 / 2] sum to ln 2: w = 2; A = 1 -> k 2, λ 3: φ = 4·e^−3.
  // L = −φ·A·log π with log π = −1 on two tokens, dapo: (2φ) / 2 = φ; d/d log π = −φ / 2.
  const phi = 4 * Math.exp(-3);
  const r = run(
    [[-1, -1]],
    { mask: f64([[1, 1]]), advantages: [1], oldLogps: f64([[-1 - Math.LN2 / 2, -1 - Math.LN2 / 2]]) },
    { ...base, lossType: "vespo" },
  );
  close(r.loss, phi);
  close(r.grad[0]!, -phi / 2);
  close(r.metrics["vespo/phi_seq_mean"]!, phi);
  // On-policy (w = 1) the weight is 1: the loss is dapo's advantage-weighted log-likelihood.
  const onPolicy = run([[-1, -1]], { mask: f64([[1, 1]]), advantages: [1] }, { ...base, lossType: "vespo" });
  close(onPolicy.loss, 1);
  close(onPolicy.metrics["vespo/phi_seq_mean"]!, 1);
});

test("luspo: each completion's sequence-level loss times its length, mean over completions", () => {
  // Sequence level, on-policy: per completion −A·r with r = 1; lengths 2 and 1; A = [1, −0.5]:
  // mean(−1·2, 0.5·1) = −0.75. d/d log π_t = −A_i·len_i·(1/len_i) / B = −A_i / 2.
  const r = run(
    [
      [-1, -2],
      [-0.5, -3],
    ],
    {
      mask: f64([
        [1, 1],
        [1, 0],
      ]),
      advantages: [1, -0.5],
    },
    { ...base, lossType: "luspo", importanceSamplingLevel: "sequence" },
  );
  close(r.loss, -0.75);
  allClose(r.grad, [-0.5, -0.5, 0.25, 0]);
});

test("use_bias_correction_kl multiplies the k3 term by the ratio", () => {
  // r = 2, d = log π_ref − log π = ln 2: k3 = 2 − ln 2 − 1; corrected 2·k3; β 0.1, A 0.
  // d/d log π [β·r·k3] = β·(r·k3 + r·(1 − e^d)) = 0.1·(2·k3 − 2).
  const k3 = 1 - Math.LN2;
  const inputs = {
    mask: f64([[1]]),
    advantages: [0],
    oldLogps: f64([[-1 - Math.LN2]]),
    refLogps: f64([[-1 + Math.LN2]]),
  };
  const r = run([[-1]], inputs, { ...base, beta: 0.1, useBiasCorrectionKl: true });
  close(r.loss, 0.1 * 2 * k3);
  close(r.grad[0]!, 0.1 * (2 * k3 - 2));
  close(r.metrics.kl!, 2 * k3);
  close(run([[-1]], inputs, { ...base, beta: 0.1 }).loss, 0.1 * k3);
});

test("off_policy_mask_threshold drops negative-advantage completions that drifted too far", () => {
  // Mean log π_old − log π: 0.5 and 0.1; threshold 0.3. Both A = −1: the first is dropped.
  // The second: L = r = e^−0.1, dapo over 2 tokens.
  const settings = { ...base, offPolicyMaskThreshold: 0.3 };
  const inputs = { mask: f64([[1], [1]]), oldLogps: f64([[-0.5], [-0.9]]) };
  const r = run([[-1], [-1]], { ...inputs, advantages: [-1, -1] }, settings);
  close(r.loss, Math.exp(-0.1) / 2);
  allClose(r.grad, [0, Math.exp(-0.1) / 2]);
  // A positive advantage keeps a completion however far it drifted.
  const kept = run([[-1], [-1]], { ...inputs, advantages: [1, -1] }, settings);
  close(kept.loss, (-Math.exp(-0.5) + Math.exp(-0.1)) / 2);
});

test("top_entropy_quantile trains only the highest-entropy tokens; the normaliser still counts all", () => {
  // H = [0.1, 0.4, 0.2, 0.3], ρ = 0.5: the 0.5 quantile is 0.25, so tokens 1 and 3 train.
  // On-policy, A = 1, bnpo: (−1 − 1) / 4 tokens = −0.5; gradient −1/4 on tokens 1 and 3 only.
  close(quantile([0.1, 0.4, 0.2, 0.3], 0.5), 0.25);
  const r = run(
    [[-1, -1, -1, -1]],
    { mask: f64([[1, 1, 1, 1]]), advantages: [1], entropies: f64([[0.1, 0.4, 0.2, 0.3]]) },
    { ...base, lossType: "bnpo", topEntropyQuantile: 0.5 },
  );
  close(r.loss, -0.5);
  allClose(r.grad, [0, -0.25, 0, -0.25]);
});

test("entropy_coef subtracts the mean token entropy; its gradient reaches the entropies", () => {
  // A = 0 isolates the bonus. H = [1, 3] on one completion, coef 0.1: grpo −0.1·2 = −0.2 with
  // dL/dH = −0.05 per token; dapo over a step of 4 tokens: −0.1·(4/4) = −0.1, dL/dH = −0.025.
  const inputs = { mask: f64([[1, 1]]), advantages: [0], entropies: f64([[1, 3]]) };
  const grpo = run([[-1, -1]], inputs, { ...base, lossType: "grpo", entropyCoef: 0.1 });
  close(grpo.loss, -0.2);
  allClose(grpo.entropyGrad, [-0.05, -0.05]);
  close(grpo.metrics.policy_loss!, 0);
  const dapo = run([[-1, -1]], inputs, { ...base, entropyCoef: 0.1, numItemsInBatch: 4 });
  close(dapo.loss, -0.1);
  allClose(dapo.entropyGrad, [-0.025, -0.025]);
});

test("normalize_then_sum: each reward function normalised in its group, summed, normalised over the batch", () => {
  // f1 = [1, 0 | 1, 0] -> ±a in each group, a = 0.5 / (std 0.707107 + 1e-4); f2 constant -> 0.
  // s = 2·f1's z = [2a, −2a, 2a, −2a]; its unbiased std is 2a·sqrt(4/3).
  const a = 0.5 / (Math.SQRT1_2 + 1e-4);
  const s = 2 * a;
  const A = s / (s * Math.sqrt(4 / 3) + 1e-4);
  const got = normalizeThenSumAdvantages(
    [
      [1, 3],
      [0, 3],
      [1, 3],
      [0, 3],
    ],
    [2, 5],
    2,
  );
  got.forEach((x, i) => {
    close(x, i % 2 === 0 ? A : -A, 1e-12);
  });
});

// ---- TRL's code path, transcribed (test/fixtures/trl-loss-reference.py) ------------------------

interface ReferenceCase {
  name: string;
  settings: Record<string, number | string | boolean>;
  loss: number;
  metrics: Record<string, number>;
  grad_logp: number[];
  grad_entropies?: number[];
}
const reference = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../test/fixtures/trl-loss-reference.json"), "utf8"),
) as {
  trl_commit: string;
  inputs: {
    logp: number[][];
    old: number[][];
    ref: number[][];
    mask: number[][];
    advantages: number[];
    entropies: number[][];
    max_completion_length: number;
  };
  loss_cases: ReferenceCase[];
  normalize_then_sum: {
    rewards_per_func: number[][];
    weights: number[];
    num_generations: number;
    advantages: number[];
  };
};

/** TRL's GRPOConfig names -> grpoLoss settings; the rest at TRL's defaults. */
function settingsOf(trl: ReferenceCase["settings"]): GrpoLossSettings {
  const get = <T>(key: string, fallback: T) => (key in trl ? (trl[key] as T) : fallback);
  const epsilon = get("epsilon", 0.2);
  return {
    lossType: get("loss_type", "dapo"),
    beta: get("beta", 0),
    epsilon,
    epsilonHigh: get("epsilon_high", epsilon),
    maxCompletionLength: reference.inputs.max_completion_length,
    importanceSamplingLevel: get("importance_sampling_level", "token"),
    delta: get("delta", null),
    useBiasCorrectionKl: get("use_bias_correction_kl", false),
    offPolicyMaskThreshold: get("off_policy_mask_threshold", null),
    topEntropyQuantile: get("top_entropy_quantile", 1),
    entropyCoef: get("entropy_coef", 0),
    sapoTemperaturePos: get("sapo_temperature_pos", 1),
    sapoTemperatureNeg: get("sapo_temperature_neg", 1.05),
    vespo: {
      kPos: get("vespo_k_pos", 2),
      lambdaPos: get("vespo_lambda_pos", 3),
      kNeg: get("vespo_k_neg", 3),
      lambdaNeg: get("vespo_lambda_neg", 2),
    },
  };
}

test(`loss, metrics and gradient equal TRL's code path (commit ${reference.trl_commit.slice(0, 7)})`, () => {
  assert.equal(reference.trl_commit, "f2cd57710ae345ea6428ae95363267fcf38a3dc8");
  const x = reference.inputs;
  for (const c of reference.loss_cases) {
    const r = run(
      x.logp,
      {
        mask: f64(x.mask),
        advantages: x.advantages,
        oldLogps: f64(x.old),
        refLogps: f64(x.ref),
        entropies: f64(x.entropies),
      },
      settingsOf(c.settings),
    );
    close(r.loss, c.loss, 1e-12, `${c.name}: loss`);
    const { kl, ...rest } = r.metrics;
    const ours: Record<string, number> = { ...(rest as Record<string, number>) };
    if (kl !== null) ours.kl = kl;
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(c.metrics).sort(), `${c.name}: metric names`);
    for (const [name, value] of Object.entries(c.metrics))
      close(ours[name]!, value, 1e-12, `${c.name}: ${name}`);
    // TRL's gradient by central differences (h = 1e-6) of the transcription.
    for (const [i, g] of r.grad.entries()) close(g, c.grad_logp[i]!, 1e-7, `${c.name}: d/d log π[${i}]`);
    if (c.grad_entropies)
      for (const [i, g] of r.entropyGrad!.entries()) close(g, c.grad_entropies[i]!, 1e-7, `${c.name}: d/dH`);
  }
});

test("normalize_then_sum advantages equal TRL's", () => {
  const n = reference.normalize_then_sum;
  const got = normalizeThenSumAdvantages(n.rewards_per_func, n.weights, n.num_generations);
  got.forEach((x, i) => {
    close(x, n.advantages[i]!, 1e-12);
  });
});

// ---- float64 finite differences of our own loss -----------------------------------------------

test("gradient matches central finite differences (float64) for every new setting", () => {
  // The settings whose loss is a smooth function of log π at this point (cispo's and vespo's
  // weights and the masks are detached by design: their gradients are checked against TRL above).
  const x = reference.inputs;
  const cases: Array<[string, Partial<GrpoLossSettings>]> = [
    ["gspo grpo + kl", { lossType: "grpo", importanceSamplingLevel: "sequence", beta: 0.04 }],
    [
      "gspo tight clip",
      { lossType: "grpo", importanceSamplingLevel: "sequence", epsilon: 0.03, epsilonHigh: 0.04 },
    ],
    ["delta", { lossType: "dapo", delta: 1.3 }],
    ["sapo", { lossType: "sapo" }],
    ["sapo sequence", { lossType: "sapo", importanceSamplingLevel: "sequence", sapoTemperaturePos: 2 }],
    ["luspo", { lossType: "luspo", importanceSamplingLevel: "sequence" }],
    ["luspo token + kl", { lossType: "luspo", beta: 0.04 }],
    ["bias-corrected kl", { lossType: "bnpo", beta: 0.04, useBiasCorrectionKl: true }],
    ["off-policy mask", { lossType: "dapo", offPolicyMaskThreshold: 0.05 }],
    ["top entropy", { lossType: "dr_grpo", topEntropyQuantile: 0.5, maxCompletionLength: 5 }],
    ["entropy bonus", { lossType: "grpo", entropyCoef: 0.01 }],
  ];
  const h = 1e-6;
  for (const [name, overrides] of cases) {
    const settings = { ...base, ...overrides };
    const inputs = {
      mask: f64(x.mask),
      advantages: x.advantages,
      oldLogps: f64(x.old),
      refLogps: f64(x.ref),
      entropies: f64(x.entropies),
    };
    const { grad, metrics } = run(x.logp, inputs, settings);
    if (name === "gspo tight clip") assert.ok(metrics["clip_ratio/region_mean"]! > 0, "the clip binds");
    const value = (rows: number[][]) =>
      noGrad(() => scope(() => grpoLoss({ ...inputs, logps: f64(rows) }, settings).loss.item()));
    x.logp.forEach((row, i) => {
      row.forEach((_, t) => {
        const plus = x.logp.map((r) => [...r]);
        const minus = x.logp.map((r) => [...r]);
        plus[i]![t]! += h;
        minus[i]![t]! -= h;
        const numeric = (value(plus) - value(minus)) / (2 * h);
        close(grad[i * 4 + t]!, numeric, 1e-7 * Math.max(1, Math.abs(numeric)), `${name} [${i},${t}]`);
      });
    });
  }
});

test("missing inputs for a setting are clear errors", () => {
  scope(() => {
    const inputs = { logps: f64([[-1]]), mask: f64([[1]]), advantages: [1] };
    assert.throws(
      () => grpoLoss(inputs, { ...base, topEntropyQuantile: 0.5 }),
      /need the per-token entropies/,
    );
    assert.throws(() => grpoLoss(inputs, { ...base, entropyCoef: 0.1 }), /need the per-token entropies/);
    assert.throws(
      () => grpoLoss(inputs, { lossType: "sapo", beta: 0, epsilon: 0.2, maxCompletionLength: 1 }),
      /sapo needs/,
    );
    assert.throws(
      () => grpoLoss(inputs, { lossType: "vespo", beta: 0, epsilon: 0.2, maxCompletionLength: 1 }),
      /vespo needs/,
    );
    return undefined;
  });
});
