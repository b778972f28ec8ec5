import type { ScaleRewards } from "../config/schema.js";

/**
 * Group-relative advantages, as TRL's GRPOTrainer computes them.
 *
 * Completions come in groups of G that answer the same prompt (rewards[g*G .. g*G+G-1]). Each
 * completion's advantage is its reward minus its group's mean:
 *
 *   A_i = r_i - mean(group(i))                        scale_rewards = "none"  (Dr. GRPO)
 *   A_i = (r_i - mean(group(i))) / (std(group(i)) + 1e-4)   scale_rewards = "group" (GRPO, TRL default)
 *   A_i = (r_i - mean(group(i))) / (std(all rewards) + 1e-4) scale_rewards = "batch"
 *
 * The std is torch.std's default, the unbiased (n - 1) estimator: for a group of two with rewards
 * a and b it is |a - b| / sqrt(2), so "group" scaling maps any two different rewards to about ±0.707.
 * The 1e-4 keeps a group whose rewards are all equal at advantage 0 instead of 0/0.
 *
 * frac_reward_zero_std is the fraction of groups whose rewards are all equal (their group std is
 * zero within torch.isclose's tolerance, |std| <= 1e-8): those groups carry no learning signal, and
 * the G = 2 failure of the seed run shows up here. reward_std is the mean group std. Both match TRL
 * for "group" and "none"; for "batch" TRL tests the single batch std instead (so its fraction is
 * 0 or 1), while we keep the per-group meaning that docs/run-files.md defines for these metrics.
 */

/** torch.isclose(std, 0) with its default tolerances: |std - 0| <= atol + rtol * 0 = 1e-8. */
const ZERO_STD_TOLERANCE = 1e-8;
/** Added to the std before dividing (TRL). */
export const ADVANTAGE_STD_EPSILON = 1e-4;

export interface GroupStats {
  mean: number;
  /** Unbiased (n - 1) standard deviation of the group's rewards. */
  std: number;
  /** All rewards in the group equal: every advantage in it is 0. */
  zeroStd: boolean;
}

export interface Advantages {
  advantages: number[];
  groups: GroupStats[];
  /** Mean reward over the batch (TRL's `reward`). */
  reward_mean: number;
  /** Mean within-group std (TRL's `reward_std`). */
  reward_std: number;
  frac_reward_zero_std: number;
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Unbiased sample standard deviation (divides by n - 1), like torch.std. */
export function unbiasedStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

export function computeAdvantages(
  rewards: readonly number[],
  groupSize: number,
  scaleRewards: ScaleRewards,
): Advantages {
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new Error(`computeAdvantages: groupSize must be a positive integer, got ${groupSize}`);
  }
  if (rewards.length === 0 || rewards.length % groupSize !== 0) {
    throw new Error(
      `computeAdvantages: ${rewards.length} rewards do not split into groups of ${groupSize} (num_generations)`,
    );
  }
  const bad = rewards.findIndex((r) => !Number.isFinite(r));
  if (bad >= 0)
    throw new Error(`computeAdvantages: reward ${bad} is ${rewards[bad]}; rewards must be finite numbers`);

  const groups: GroupStats[] = [];
  for (let start = 0; start < rewards.length; start += groupSize) {
    const group = rewards.slice(start, start + groupSize);
    const std = unbiasedStd(group);
    groups.push({ mean: mean(group), std, zeroStd: Math.abs(std) <= ZERO_STD_TOLERANCE });
  }
  const batchStd = unbiasedStd(rewards);

  // The std each completion is judged by: its group's, or the batch's.
  const stdOf = (i: number) => (scaleRewards === "batch" ? batchStd : groups[Math.floor(i / groupSize)]!.std);
  const advantages = rewards.map((r, i) => {
    const centred = r - groups[Math.floor(i / groupSize)]!.mean;
    return scaleRewards === "none" ? centred : centred / (stdOf(i) + ADVANTAGE_STD_EPSILON);
  });
  return {
    advantages,
    groups,
    reward_mean: mean(rewards),
    reward_std: mean(groups.map((g) => g.std)),
    frac_reward_zero_std: groups.filter((g) => g.zeroStd).length / groups.length,
  };
}

/**
 * multi_objective_aggregation = "normalize_then_sum" (GDPO), as TRL computes it: each reward
 * function k is normalised within its group, the results are summed with the reward weights, and
 * the sum is normalised over the whole batch:
 *
 *   z_ik = (r_ik − mean(group(i))_k) / (std(group(i))_k + 1e-4)
 *   s_i  = Σ_k w_k · z_ik
 *   A_i  = (s_i − mean(s)) / (std(s) + 1e-4)
 *
 * (stds unbiased, as everywhere here). scale_rewards does not enter: TRL applies it only to
 * "sum_then_normalize". A function with a large range thus no longer drowns the others out.
 */
export function normalizeThenSumAdvantages(
  rewardsPerFunction: readonly (readonly number[])[],
  weights: readonly number[],
  groupSize: number,
): number[] {
  const n = rewardsPerFunction.length;
  if (!Number.isInteger(groupSize) || groupSize < 1 || n === 0 || n % groupSize !== 0) {
    throw new Error(`normalizeThenSumAdvantages: ${n} completions do not split into groups of ${groupSize}`);
  }
  if (rewardsPerFunction.some((row) => row.length !== weights.length)) {
    throw new Error(
      `normalizeThenSumAdvantages: every completion needs ${weights.length} rewards, one per weight`,
    );
  }
  const sums = new Array<number>(n).fill(0);
  weights.forEach((w, k) => {
    for (let start = 0; start < n; start += groupSize) {
      const group = rewardsPerFunction.slice(start, start + groupSize).map((row) => row[k]!);
      const m = mean(group);
      const s = unbiasedStd(group);
      group.forEach((r, j) => {
        sums[start + j]! += (w * (r - m)) / (s + ADVANTAGE_STD_EPSILON);
      });
    }
  });
  const m = mean(sums);
  const s = unbiasedStd(sums);
  return sums.map((x) => (x - m) / (s + ADVANTAGE_STD_EPSILON));
}
