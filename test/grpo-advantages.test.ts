import assert from "node:assert/strict";
import { test } from "node:test";
import { computeAdvantages, unbiasedStd } from "../src/grpo/step/advantages.js";

const close = (actual: number, expected: number, tol = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
const allClose = (actual: number[], expected: number[], tol = 1e-6) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    close(a, expected[i]!, tol);
  });
};

// Two groups of G = 2: {1, 3} (some signal) and {2, 2} (none).
const rewards = [1, 3, 2, 2];

test("unbiasedStd divides by n - 1 like torch.std", () => {
  close(unbiasedStd([1, 3]), Math.SQRT2); // ((1)^2 + (1)^2) / 1 = 2
  close(unbiasedStd([1, 3, 2, 2]), Math.sqrt(2 / 3)); // (1 + 1 + 0 + 0) / 3
  assert.equal(unbiasedStd([5]), 0);
});

test("scale_rewards none: reward minus group mean (Dr. GRPO)", () => {
  const a = computeAdvantages(rewards, 2, "none");
  assert.deepEqual(a.advantages, [-1, 1, 0, 0]);
});

test("scale_rewards group: divided by the group's std + 1e-4; G = 2 gives about ±0.707", () => {
  const a = computeAdvantages(rewards, 2, "group");
  // group {1,3}: mean 2, std sqrt(2) = 1.414214 -> ±1 / 1.414314 = ±0.707057; group {2,2}: 0 / 1e-4 = 0
  allClose(a.advantages, [-0.707057, 0.707057, 0, 0]);
  assert.deepEqual(
    a.groups.map((g) => g.mean),
    [2, 2],
  );
  close(a.groups[0]!.std, Math.SQRT2);
  assert.equal(a.groups[1]!.std, 0);
  assert.deepEqual(
    a.groups.map((g) => g.zeroStd),
    [false, true],
  );
});

test("scale_rewards batch: group-centred, divided by the whole batch's std + 1e-4", () => {
  const a = computeAdvantages(rewards, 2, "batch");
  // batch std sqrt(2/3) = 0.816497 -> ±1 / 0.816597 = ±1.224595
  allClose(a.advantages, [-1.224595, 1.224595, 0, 0]);
});

test("a group of 4 with group scaling (hand-worked)", () => {
  // rewards 0, 0, 1, 3: mean 1, deviations -1 -1 0 2, std sqrt((1+1+0+4)/3) = sqrt(2) = 1.414214
  const a = computeAdvantages([0, 0, 1, 3], 4, "group");
  allClose(a.advantages, [-0.707057, -0.707057, 0, 1.414114]);
  close(a.reward_mean, 1);
  close(a.reward_std, Math.SQRT2);
  assert.equal(a.frac_reward_zero_std, 0);
});

test("frac_reward_zero_std and reward_std are per group, in every mode", () => {
  for (const mode of ["group", "batch", "none"] as const) {
    const a = computeAdvantages([1, 1, 0, 0, 0.5, 1.5], 2, mode);
    close(a.frac_reward_zero_std, 2 / 3);
    close(a.reward_std, Math.SQRT1_2 / 3); // group stds 0, 0, sqrt(0.5)
    close(a.reward_mean, 4 / 6);
  }
});

test("every group identical: all advantages 0, zero-std fraction 1", () => {
  const a = computeAdvantages([0.8, 0.8, 0.8, 0.8], 2, "group");
  assert.deepEqual(a.advantages, [0, 0, 0, 0]);
  assert.equal(a.frac_reward_zero_std, 1);
});

test("advantages are centred within each group", () => {
  const r = [0.3, -1.2, 2.5, 0.7, 1.1, 1.1, 0.0, 4.2];
  for (const mode of ["group", "batch", "none"] as const) {
    const a = computeAdvantages(r, 4, mode).advantages;
    close(
      a.slice(0, 4).reduce((s, x) => s + x, 0),
      0,
      1e-9,
    );
    close(
      a.slice(4).reduce((s, x) => s + x, 0),
      0,
      1e-9,
    );
  }
});

test("bad input is rejected with a clear message", () => {
  assert.throws(() => computeAdvantages([1, 2, 3], 2, "group"), /3 rewards do not split into groups of 2/);
  assert.throws(() => computeAdvantages([], 2, "group"), /0 rewards/);
  assert.throws(() => computeAdvantages([1, Number.NaN], 2, "group"), /reward 1 is NaN/);
  assert.throws(() => computeAdvantages([1, 2], 0, "group"), /groupSize must be a positive integer/);
});
