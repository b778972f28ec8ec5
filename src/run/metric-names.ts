/**
 * Metric keys of metrics.jsonl (docs/run-files.md) and the short names people write in success
 * criteria and milestones (docs/run-files.md). TRL's names where they exist; our behaviour metrics
 * live under `behaviour/` and evaluation results under `eval/`.
 */

/** Keys a training row may carry (TRL names). Per-function rewards add `rewards/<name>/mean|std`. */
export const TRAIN_METRIC_KEYS = [
  "step",
  "epoch",
  "loss",
  "grad_norm",
  "learning_rate",
  "temperature",
  "reward",
  "reward_std",
  "frac_reward_zero_std",
  "completions/mean_length",
  "completions/min_length",
  "completions/max_length",
  "completions/clipped_ratio",
  "kl",
  "entropy",
  "clip_ratio/low_mean",
  "clip_ratio/high_mean",
  "clip_ratio/region_mean",
  "clip_ratio/low_min",
  "clip_ratio/high_max",
  /** loss_type "cispo": fraction of tokens whose importance weight is capped at epsilon_high. */
  "cispo_clip_ratio",
  /** loss_type "vespo": mean gamma weight. */
  "vespo/phi_seq_mean",
  /** With an entropy bonus: the loss before the bonus, and the coefficient applied. */
  "policy_loss",
  "entropy_coef",
  "step_time",
  "tokens_per_second",
] as const;

/** mode = "multi_turn": the sampled games of the step, and the teacher term (sft_mix). */
export const MULTI_TURN_METRIC_KEYS = [
  "games/win_rate",
  /** rollout "branch": the step's greedy games on its training secrets. */
  "games/greedy_win_rate",
  "games/mean_turns",
  "games/invalid_rate",
  "rewards/consistent/mean",
  "rewards/consistent/std",
  "sft_loss",
] as const;

/** Behaviour rates the training plan watches (docs/rewards.md), as fractions of completions. */
export const BEHAVIOUR_METRIC_KEYS = [
  "behaviour/format_rate",
  "behaviour/invalid_word_rate",
  "behaviour/feedback_consistent_rate",
  "behaviour/dead_letter_reuse_rate",
  "behaviour/win_rate",
] as const;

/** Evaluation results, logged on the eval steps only. */
export const EVAL_METRIC_KEYS = [
  "eval/reward",
  "eval/win_rate",
  "eval/mean_guesses",
  "eval/invalid_rate",
] as const;

/** Short names: `total` is the summed reward; the behaviour rates drop their prefix. */
const FIXED_ALIASES: Record<string, string> = {
  total: "reward",
  total_reward: "reward",
  format_rate: "behaviour/format_rate",
  invalid_word_rate: "behaviour/invalid_word_rate",
  feedback_consistent_rate: "behaviour/feedback_consistent_rate",
  dead_letter_reuse_rate: "behaviour/dead_letter_reuse_rate",
  win_rate: "behaviour/win_rate",
};

export const rewardMeanKey = (fn: string) => `rewards/${fn}/mean`;
export const rewardStdKey = (fn: string) => `rewards/${fn}/std`;

/**
 * The names an expression may use, mapped to metric keys: every metric key itself, the fixed
 * aliases, and for each reward function `<fn>` and `<fn>_reward` -> `rewards/<fn>/mean`.
 */
export function metricAliases(rewardFunctions: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const key of [
    ...TRAIN_METRIC_KEYS,
    ...MULTI_TURN_METRIC_KEYS,
    ...BEHAVIOUR_METRIC_KEYS,
    ...EVAL_METRIC_KEYS,
  ])
    names.set(key, key);
  for (const [alias, key] of Object.entries(FIXED_ALIASES)) names.set(alias, key);
  for (const fn of rewardFunctions) {
    names.set(fn, rewardMeanKey(fn));
    names.set(`${fn}_reward`, rewardMeanKey(fn));
    names.set(rewardMeanKey(fn), rewardMeanKey(fn));
    names.set(rewardStdKey(fn), rewardStdKey(fn));
  }
  return names;
}
