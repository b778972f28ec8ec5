/**
 * `rewardPreset(name, { weights })`: the named reward functions of a preset and their weights.
 * The total reward of a completion is the weighted sum, as in TRL's `reward_weights`.
 */
import { clampProgress } from "./common.js";
import { courseRewards } from "./course.js";
import { exactRewards } from "./exact.js";
import { seedRewards } from "./seed.js";
import type { NamedReward, RewardState } from "./types.js";

export type RewardPresetName = "seed" | "course" | "exact";
export const REWARD_PRESETS: readonly RewardPresetName[] = ["seed", "course", "exact"];

export interface RewardPresetOptions {
  /** Weight overrides by reward name; names the preset lacks are an error. */
  weights?: Record<string, number>;
  /**
   * false: the prompt template has no reasoning step (`tiny`), so `exact`'s format reward does not
   * ask for `</think>` before the guess. Only `exact` has this option. Default true.
   */
  thinking?: boolean;
}

export interface RewardScores {
  total: number;
  /** Unweighted value of each reward, by name. */
  values: Record<string, number>;
}

export interface RewardPreset {
  name: RewardPresetName;
  rewards: NamedReward[];
  /** Every reward of one completion and their weighted sum. Progress is clamped to [0, 1]. */
  score(state: RewardState, completion: string, progress: number): RewardScores;
}

const BUILDERS: Record<RewardPresetName, (options: RewardPresetOptions) => NamedReward[]> = {
  seed: seedRewards,
  course: courseRewards,
  exact: (options) => exactRewards({ thinking: options.thinking }),
};

export function rewardPreset(name: RewardPresetName, options: RewardPresetOptions = {}): RewardPreset {
  const build = BUILDERS[name];
  if (build === undefined || !Object.hasOwn(BUILDERS, name)) {
    throw new Error(
      `rewardPreset: unknown preset ${JSON.stringify(name)}; expected one of ${REWARD_PRESETS.join(", ")}`,
    );
  }
  if (options.thinking === false && name !== "exact")
    throw new Error(`rewardPreset(${name}): thinking: false is only available for the exact preset`);
  const rewards = build(options);
  for (const [rewardName, weight] of Object.entries(options.weights ?? {})) {
    const reward = rewards.find((r) => r.name === rewardName);
    if (reward === undefined) {
      throw new Error(
        `rewardPreset(${name}): weights.${rewardName} is not a reward of this preset; ` +
          `expected one of ${rewards.map((r) => r.name).join(", ")}`,
      );
    }
    if (typeof weight !== "number" || !Number.isFinite(weight)) {
      throw new Error(`rewardPreset(${name}): weights.${rewardName} must be a finite number, got ${weight}`);
    }
    reward.weight = weight;
  }
  return {
    name,
    rewards,
    score(state, completion, progress) {
      const p = clampProgress(progress);
      const values: Record<string, number> = {};
      let total = 0;
      for (const reward of rewards) {
        const value = reward.fn(state, completion, p);
        values[reward.name] = value;
        total += reward.weight * value;
      }
      return { total, values };
    },
  };
}
