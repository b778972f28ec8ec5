import { parseExpression } from "../../run/expression.js";
import { EVAL_METRIC_KEYS, metricAliases, rewardMeanKey } from "../../run/metric-names.js";
import { didYouMean } from "../../util/suggest.js";
import { configSchema, type GrpoConfig, rewardFunctionNames } from "./schema.js";

/**
 * Checks that need more than one key. Each error names the settings involved, their values, and a
 * concrete fix, because the person reading it is about to start a multi-hour run. Warnings are for
 * settings that are legal but probably not what was meant.
 */

/** The schema's defaults: a value equal to one was most likely not chosen by the user. */
const SCHEMA_DEFAULTS = configSchema.parse({});

export interface ConfigProblems {
  errors: string[];
  warnings: string[];
}

/** Smallest value >= `from` such that value * other is a multiple of `g`. */
function smallestFitting(from: number, other: number, g: number): number {
  let v = from;
  while ((v * other) % g !== 0) v++;
  return v;
}

/** The divisor of `generationBatch` (at least 2) closest to the requested group size, if any. */
function nearestGroupSize(generationBatch: number, wanted: number): number | undefined {
  let best: number | undefined;
  for (let d = 2; d <= generationBatch; d++) {
    if (generationBatch % d === 0 && (best === undefined || Math.abs(d - wanted) < Math.abs(best - wanted)))
      best = d;
  }
  return best;
}

export function validateConfig(c: GrpoConfig): ConfigProblems {
  const errors: string[] = [];
  const warnings: string[] = [];
  const G = c.num_generations;
  const batch = c.per_device_train_batch_size;
  const accum = c.gradient_accumulation_steps;

  if (G < 2) {
    errors.push(
      `num_generations = ${G}: GRPO's advantage is a completion's reward minus its group's mean, so a group of one ` +
        `always has advantage 0 and nothing is learnt. Fix: set num_generations to 2 or more (TRL default 8).`,
    );
  }
  const generationBatch = batch * accum;
  // multi_turn batches are secrets_per_step x G whole games; the micro-batch size counts loss rows.
  if (c.mode === "single_state" && G >= 1 && generationBatch % G !== 0) {
    const fixBatch = smallestFitting(batch, accum, G);
    const fixAccum = smallestFitting(accum, batch, G);
    errors.push(
      `per_device_train_batch_size (${batch}) × gradient_accumulation_steps (${accum}) = ${generationBatch} ` +
        `completion${generationBatch === 1 ? "" : "s"} ` +
        `per step is not divisible by num_generations (${G}): every prompt needs all ${G} of its completions in the ` +
        `same step. (per_device_train_batch_size counts completions, as in TRL.) Fix: set ` +
        `per_device_train_batch_size to ${fixBatch}` +
        (fixAccum !== accum ? `, or gradient_accumulation_steps to ${fixAccum}` : "") +
        (nearestGroupSize(generationBatch, G) !== undefined
          ? `, or num_generations to ${nearestGroupSize(generationBatch, G)}`
          : "") +
        ".",
    );
  }
  if (c.mode === "multi_turn" && c.multi_turn.rollout === "branch" && c.multi_turn.credit === "game") {
    errors.push(
      `multi_turn.rollout = "branch" with multi_turn.credit = "game": a branch trains one sampled guess per game, ` +
        `so there is no game-long return to share between turns. Fix: set multi_turn.credit to "turn" or "letter".`,
    );
  }
  if (c.mode === "multi_turn" && c.multi_turn.credit === "letter" && c.multi_turn.information !== 0) {
    errors.push(
      `multi_turn.information = ${c.multi_turn.information} with multi_turn.credit = "letter": information is a property ` +
        `of the whole guess, which letter credit splits into letters. Fix: set multi_turn.credit to "turn" or "game".`,
    );
  }
  if (c.mode === "multi_turn" && c.multi_turn.show_refused && c.multi_turn.invalid_ends_game) {
    errors.push(
      `multi_turn.show_refused with multi_turn.invalid_ends_game: a game that ends at its first refused guess never ` +
        `shows one in a later prompt, so nothing is learnt from it. Fix: set multi_turn.invalid_ends_game to false.`,
    );
  }
  if (c.epsilon_high < c.epsilon) {
    errors.push(
      `epsilon_high (${c.epsilon_high}) < epsilon (${c.epsilon}): the upper clip 1 + epsilon_high should be at least ` +
        `as wide as the lower clip 1 - epsilon (DAPO's "clip-higher" widens it). Fix: set epsilon_high >= ${c.epsilon}, ` +
        `or remove it to use epsilon.`,
    );
  }
  lossFamilyProblems(c, errors, warnings);
  if (c.max_steps === 0) {
    errors.push(
      `max_steps = 0 trains nothing. Fix: set max_steps to -1 (use num_train_epochs) or a positive count.`,
    );
  }
  if (c.temperature_schedule !== null && c.temperature_schedule.end > c.temperature_schedule.start) {
    warnings.push(
      `temperature_schedule rises from ${c.temperature_schedule.start} to ${c.temperature_schedule.end}; ` +
        `schedules usually decay (explore early, exploit late). Check start/end.`,
    );
  }
  if (c.optim === "adamw" && c.momentum > 0) {
    warnings.push(`momentum (${c.momentum}) only applies to optim = "sgd"; AdamW uses adam_beta1 instead.`);
  }
  if (c.optim === "sgd" && c.learning_rate <= 1e-6) {
    warnings.push(
      `optim = "sgd" with learning_rate ${c.learning_rate}: plain SGD on LoRA weights usually needs a far larger ` +
        `rate than AdamW (e.g. 1e-3 to 1e-2); the run may not move.`,
    );
  }
  if (c.eval_steps !== null && c.save_steps % c.eval_steps !== 0) {
    warnings.push(
      `save_steps (${c.save_steps}) is not a multiple of eval_steps (${c.eval_steps}): some checkpoints will have no ` +
        `evaluation, so "best" can only point at evaluated steps (best/ is written at evaluation time).`,
    );
  }
  if (
    c.eval.sampling === "greedy" &&
    c.eval.games > c.eval.held_out_secrets + (c.eval.include_frost ? 1 : 0)
  ) {
    warnings.push(
      `eval.games (${c.eval.games}) exceeds the held-out secrets (${c.eval.held_out_secrets}` +
        `${c.eval.include_frost ? " + FROST" : ""}); greedy games on the same secret repeat exactly.`,
    );
  }

  // Reward weights must name functions of the chosen preset.
  const functions = rewardFunctionNames(c.reward.preset);
  for (const name of Object.keys(c.reward.weights)) {
    if (!functions.includes(name)) {
      errors.push(
        `reward.weights.${name}: the "${c.reward.preset}" reward preset has no function \`${name}\` ` +
          `(it has ${functions.join(", ")}).${didYouMean(name, functions)}`,
      );
    }
  }

  // The evaluation row is the only place best/ is chosen from: a name it never holds means best/
  // is never written.
  const bestMetrics = [
    ...EVAL_METRIC_KEYS,
    "eval/consistent_rate",
    "eval/dead_letter_reuse_rate",
    ...functions.map((fn) => `eval/${rewardMeanKey(fn)}`),
  ];
  if (!bestMetrics.includes(c.metric_for_best_model) && !/^eval\/baseline\//.test(c.metric_for_best_model))
    errors.push(
      `metric_for_best_model: \`${c.metric_for_best_model}\` is not in the evaluation rows, so best/ would never be ` +
        `written (it can be ${bestMetrics.join(", ")}).${didYouMean(c.metric_for_best_model, bestMetrics)}`,
    );
  // LoRA RL rates are 1e-6 .. 1e-2; far above that the adapter diverges within steps.
  if (c.learning_rate > 1)
    errors.push(
      `learning_rate = ${c.learning_rate}: far above any rate a LoRA adapter survives (GRPO uses 1e-6 to 1e-2; ` +
        "the shipped recipe 1e-3). Fix: set learning_rate to a value <= 1.",
    );
  else if (c.learning_rate > 0.05)
    warnings.push(
      `learning_rate = ${c.learning_rate} is high for LoRA (GRPO uses 1e-6 to 1e-2): expect divergence.`,
    );
  if (
    c.mode === "multi_turn" &&
    c.max_prompt_length !== null &&
    c.max_prompt_length !== SCHEMA_DEFAULTS.max_prompt_length
  )
    warnings.push(
      `max_prompt_length = ${c.max_prompt_length} does nothing in multi_turn mode (a game's prompts grow turn by ` +
        "turn and are never cut).",
    );

  // Expressions: parse them now so a typo fails before step 1, not at the first log.
  const names = metricAliases(functions);
  const tryParse = (source: string, label: string) => {
    try {
      parseExpression(source, names, { label });
    } catch (err) {
      errors.push((err as Error).message);
    }
  };
  c.success_criteria.forEach((source, i) => {
    tryParse(source, `success_criteria[${i}]`);
  });
  c.milestones.forEach((m, i) => {
    tryParse(m.expect, `milestones[${i}].expect`);
  });
  if (!names.has(c.plateau.metric)) {
    errors.push(
      `plateau.metric: unknown metric \`${c.plateau.metric}\`.${didYouMean(c.plateau.metric, [...names.keys()])}`,
    );
  }
  const steps = c.milestones.map((m) => m.step);
  const duplicate = steps.find((s, i) => steps.indexOf(s) !== i);
  if (duplicate !== undefined) {
    warnings.push(`milestones: two milestones at step ${duplicate}; both are checked.`);
  }
  return { errors, warnings };
}

/**
 * The loss family's combinations: TRL's own warnings (in its words' sense), and the settings that
 * are legal but do nothing here.
 */
function lossFamilyProblems(c: GrpoConfig, errors: string[], warnings: string[]): void {
  const level = c.importance_sampling_level;
  if (c.loss_type === "luspo" && level !== "sequence") {
    warnings.push(
      `loss_type = "luspo" with importance_sampling_level = "${level}": LUSPO is a sequence-level loss (its paper ` +
        `scales each completion's sequence-level term by its length); set importance_sampling_level = "sequence".`,
    );
  }
  if (c.loss_type === "vespo" && level !== "token") {
    warnings.push(
      `loss_type = "vespo" with importance_sampling_level = "${level}": VESPO forms its sequence-level weight ` +
        `itself from the per-token ratios, so importance_sampling_level should stay "token" (the default).`,
    );
  }
  if (level === "sequence" && ["bnpo", "dr_grpo", "dapo", "cispo"].includes(c.loss_type)) {
    warnings.push(
      `importance_sampling_level = "sequence" with loss_type = "${c.loss_type}": this loss sums per-token terms, ` +
        `so each completion's sequence-level term counts once per token, i.e. weighted by its length, instead of ` +
        `optimising the per-sequence objective. GSPO's setup is loss_type = "grpo".`,
    );
  }
  if (c.loss_type === "cispo" && c.epsilon_high < 1) {
    warnings.push(
      `loss_type = "cispo" caps the importance weight at epsilon_high itself (not 1 + epsilon_high), and ` +
        `epsilon_high = ${c.epsilon_high} < 1 scales down every token, on-policy ones included. ScaleRL uses 5.0.`,
    );
  }
  if (c.delta !== null && c.delta <= 1 + c.epsilon_high) {
    warnings.push(
      `delta (${c.delta}) <= 1 + epsilon_high (${1 + c.epsilon_high}): two-sided clipping caps the ratio for ` +
        `negative advantages, and below the upper clip it also cuts ratios the clip would have kept. INTELLECT-2 ` +
        `sets delta above 1 + epsilon_high.`,
    );
  }
  if (c.use_bias_correction_kl && c.beta === 0) {
    warnings.push(`use_bias_correction_kl has no effect with beta = 0 (there is no KL term to correct).`);
  }
  if (c.off_policy_mask_threshold !== null && c.num_iterations === 1) {
    warnings.push(
      `off_policy_mask_threshold with num_iterations = 1: π_old is the current policy (the batch is used once, ` +
        `right after it was generated), so the mean log-ratio is 0 and no completion is ever masked.`,
    );
  }
  if (c.multi_objective_aggregation === "normalize_then_sum" && c.mode === "multi_turn") {
    errors.push(
      `multi_objective_aggregation = "normalize_then_sum" with mode = "multi_turn": a game's turns are credited ` +
        `from its outcome and per-turn shaping (multi_turn.credit), not from the reward preset's functions, so ` +
        `there are no per-function rewards to normalise. Fix: remove multi_objective_aggregation, or use ` +
        `mode = "single_state".`,
    );
  }
  if (c.use_adaptive_entropy) {
    errors.push(
      `use_adaptive_entropy = true: the adaptive entropy controller (a coefficient that moves every step and ` +
        `must be saved with each checkpoint) is not implemented here; only a fixed entropy_coef is. Fix: set ` +
        `use_adaptive_entropy to false and choose entropy_coef.`,
    );
  }
}
