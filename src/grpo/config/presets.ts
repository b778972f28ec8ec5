import { didYouMean } from "../../util/suggest.js";
import type { GrpoConfigInput } from "./schema.js";

/**
 * Named starting points. A preset is just the first config layer; a file and `--set` go on top.
 * Keys a preset does not mention keep the schema defaults (TRL's).
 */

export interface Preset {
  description: string;
  config: GrpoConfigInput;
}

/**
 * `seed`: the original project's training plan and script, as faithfully as we know them
 * (docs/rewards.md). Its learning rate is not recorded, so TRL's default stays.
 * Note the TRL semantics it inherits: batch 2 with G = 2 is ONE prompt per step, so 70 epochs of
 * 60 prompts is 4,200 steps, not the 2,100 the plan expected (`wordle-grpo plan --preset seed`).
 */
const seed: Preset = {
  description: "the original training plan: batch 2, G 2, 70 epochs, SGD momentum, seed rewards",
  config: {
    reward: { preset: "seed" },
    prompt_template: "course",
    mode: "single_state",
    per_device_train_batch_size: 2,
    num_generations: 2,
    gradient_accumulation_steps: 1,
    max_completion_length: 128,
    gradient_checkpointing: true,
    num_train_epochs: 70,
    logging_steps: 10,
    eval_steps: 100,
    save_steps: 100,
    save_total_limit: 10,
    // The original script's sampler and optimiser.
    temperature: 0.3,
    temperature_schedule: { start: 0.3, end: 0.1, decay: "linear" },
    top_p: 0.9,
    top_k: 50,
    min_p: 0.05,
    repetition_penalty: 1.2,
    beta: 0.1,
    scale_rewards: "none",
    max_grad_norm: 0.5,
    optim: "sgd",
    momentum: 0.9,
    // The plan's success test and its milestones.
    success_criteria: ["running_mean(total) > 1.5 AND running_mean(feedback) > 0"],
    milestones: [
      { step: 500, expect: "running_mean(format_rate) >= 0.9", label: "format rate >= 90%" },
      { step: 1000, expect: "running_mean(feedback) > 0", label: "feedback reward > 0" },
      { step: 1500, expect: "running_mean(total) > 1.5", label: "total reward > 1.5" },
      {
        step: 2100,
        expect: "running_mean(total) > 1.5 AND running_mean(feedback) > 0",
        label: "all success criteria",
      },
    ],
  },
};

/**
 * `default`: what we would run for real (the shipped small model on a laptop CPU up to a 0.5B-7B
 * model on a GPU). Each choice departs from the seed for a stated reason.
 */
const defaults: Preset = {
  description: "recommended: G 8, 2 prompts/step, AdamW 2e-5 with cosine decay, exact rewards, clip-higher",
  config: {
    // Correct duplicate-letter semantics, exact information gain and a win bonus (docs/rewards.md).
    reward: { preset: "exact" },
    prompt_template: "course",
    mode: "single_state",
    // G = 8 (TRL's default): with G = 2 most groups score both completions the same, their
    // advantages are 0 and the step learns nothing (the seed's frac_reward_zero_std problem).
    num_generations: 8,
    // 16 completions = 2 prompts per step: two different game states per update steadies the gradient.
    per_device_train_batch_size: 16,
    gradient_accumulation_steps: 1,
    // Long enough for a short <think> and the <guess>; truncated completions are left out of the
    // loss (DAPO's overlong filtering) rather than taught that stopping mid-thought is bad.
    max_completion_length: 256,
    mask_truncated_completions: true,
    // Sample from the model's own distribution: GRPO needs diverse groups, and the loss's
    // log-probs then match the sampler's exactly.
    temperature: 1.0,
    top_p: 1.0,
    // LoRA moves few parameters: AdamW at 2e-5 is a usual LoRA-RL rate (1e-6 is TRL's full-model default).
    optim: "adamw",
    learning_rate: 2e-5,
    lr_scheduler_type: "cosine",
    warmup_ratio: 0.05,
    max_grad_norm: 1.0,
    // No KL term (TRL's default since DAPO / Dr. GRPO): it saves the reference forward pass, and
    // the clipped ratio already limits each update. epsilon_high 0.28 is DAPO's clip-higher, which
    // keeps rare good tokens from being clipped away and entropy from collapsing.
    beta: 0.0,
    epsilon: 0.2,
    epsilon_high: 0.28,
    loss_type: "dapo",
    scale_rewards: "group",
    // A fixed step budget: the dataset may be the 60 seed prompts or generated game states.
    max_steps: 1000,
    logging_steps: 10,
    eval_steps: 100,
    save_steps: 100,
    save_total_limit: 5,
    lora: { r: 16, alpha: 32, dropout: 0.05 },
    // Behaviour-based criteria do not depend on the reward scale of the preset: well-formed
    // answers, guesses that respect the feedback, and games actually won on held-out secrets.
    success_criteria: [
      "running_mean(format_rate) >= 0.95",
      "running_mean(feedback_consistent_rate) >= 0.5",
      "eval/win_rate >= 0.3",
    ],
    running_mean_window: 10,
    plateau: { window: 300, min_gain: 0.02, early_stop: false, metric: "total" },
    eval: { games: 100, held_out_secrets: 100, include_frost: true, sampling: "greedy" },
  },
};

/**
 * `tiny`: the recipe for the shipped character-level model (models/wordle-tiny), which `train`
 * runs when no model is given. Whole games (multi_turn) at temperature 0.5; a refused guess costs a
 * turn and later prompts show it (`?????`), so the policy learns to try another word; each turn
 * credited with its game's outcome plus letter-level shaping (the letter that made a guess a
 * non-word or inconsistent takes the blame, not the letters before it), a non-word letter costing
 * seven times an inconsistent one; AdamW 1e-3 with a cosine decay over 900 steps. docs/experiments.md
 * has the experiments behind each value and what the recipe achieves.
 */
const tiny: Preset = {
  description:
    "the shipped tiny model: multi-turn games at T 0.5, refused guesses shown, letter-level credit (validity 3), lr 1e-3, 900 steps",
  config: {
    model: null,
    mode: "multi_turn",
    prompt_template: "tiny",
    reward: { preset: "exact" },
    multi_turn: {
      rollout: "games",
      secrets_per_step: 8,
      credit: "letter",
      turn_weight: 1,
      // A refused guess costs a turn and stays in the prompt (invalid guesses 10.4% ->
      // 2.6% with validity 1, docs/experiments.md; ending the game at it instead hides the refusal from the policy).
      invalid_ends_game: false,
      show_refused: true,
      win_bonus: 1,
      saved_bonus: 0.2,
      consistency: 0.5,
      // validity 1 / 2 / 3 / 5 left 2.6% / 2.1% / 2.0% / 2.0% invalid guesses; 3 kept the
      // held-out wins (65% against 60% at 5).
      validity: 3,
      repeat_penalty: 0.5,
    },
    // A teacher term (sft_mix) helped only at T = 1 (docs/experiments.md): off.
    sft_mix: { weight: 0 },
    num_generations: 8,
    // Rows of the loss: a game's turns share one row, so 256 rows cover a whole step's 64 games.
    per_device_train_batch_size: 256,
    max_completion_length: 8,
    // Low enough that the sampled games are close to the greedy play evaluation measures, high
    // enough that a group's games differ (T 0.3 learnt more slowly, T 1 eroded greedy play).
    temperature: 0.5,
    learning_rate: 1e-3,
    lr_scheduler_type: "cosine",
    warmup_steps: 5,
    optim: "adamw",
    beta: 0.0,
    epsilon: 0.2,
    epsilon_high: 0.28,
    loss_type: "dapo",
    scale_rewards: "group",
    max_grad_norm: 1.0,
    lora: { r: 16, alpha: 32, dropout: 0 },
    dtype: "float32",
    max_steps: 900,
    logging_steps: 10,
    eval_steps: null,
    save_steps: 50,
    save_total_limit: 3,
    output_dir: "runs/wordle-tiny-grpo",
    eval: { games: 100, held_out_secrets: 100, include_frost: true, sampling: "greedy" },
    // The games the policy itself samples at T = 0.5. The start model wins about 0.55 of them,
    // with 0.11 of its guesses invalid and 0.60 consistent with the feedback: each threshold asks
    // for a clear gain.
    success_criteria: [
      "running_mean(games/win_rate) > 0.65",
      "running_mean(games/invalid_rate) < 0.05",
      "running_mean(rewards/consistent/mean) > 0.66",
    ],
    running_mean_window: 5,
    plateau: { window: 200, min_gain: 0.01, early_stop: false, metric: "total" },
  },
};

/**
 * `tiny-consistent`: the recipe of the shipped strong pair (models/wordle-tiny +
 * models/wordle-tiny-consistent). The tiny model may only spell accepted words that fit the
 * feedback so far (constrained decoding, task/guess-constraint.ts), and the loss scores each token
 * under that constrained distribution, so GRPO learns WHICH consistent word to play: each game
 * returns its outcome (1 + 0.2 per unused turn) plus the mean expected information of its guesses
 * (normalised, weight 1), credited to all its turns; T 1, otherwise as `tiny`. docs/experiments.md
 * has the runs behind it.
 */
const tinyConsistent: Preset = {
  description:
    "the shipped tiny model playing only consistent words: GRPO picks which (game credit, information shaping), T 1, lr 1e-3, 900 steps",
  config: {
    ...tiny.config,
    multi_turn: {
      ...tiny.config.multi_turn,
      constrain: "consistent",
      credit: "game",
      // Every guess fits the feedback and is a word, so only the outcome and information vary.
      consistency: 0,
      validity: 0,
      repeat_penalty: 0,
      information: 1,
      // Nothing is ever refused under the constraint.
      show_refused: false,
    },
    // The constraint keeps every sample legal, so the policy can be sampled as it is.
    temperature: 1,
    output_dir: "runs/wordle-tiny-consistent",
    // Sampled at T 1 the start model wins about 0.94 of the games in 4.4 turns.
    success_criteria: ["running_mean(games/win_rate) > 0.96", "running_mean(games/mean_turns) < 4.2"],
  },
};

/** `trl`: nothing but the schema defaults, i.e. TRL's GRPOConfig defaults. */
const trl: Preset = {
  description: "TRL GRPOConfig defaults only (G 8, batch 8, lr 1e-6, dapo, 3 epochs)",
  config: {},
};

export const PRESETS = {
  default: defaults,
  seed,
  tiny,
  "tiny-consistent": tinyConsistent,
  trl,
} as const satisfies Record<string, Preset>;
export type PresetName = keyof typeof PRESETS;

/**
 * The presets of the shipped tiny model: `train` runs them on one engine thread and closes with
 * the before/after evaluation, and `plan` counts that evaluation.
 */
export function isTinyModelPreset(name: string): boolean {
  return name === "tiny" || name === "tiny-consistent";
}
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function getPreset(name: string): Preset {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new Error(
      `unknown preset \`${name}\` (known: ${PRESET_NAMES.join(", ")}).${didYouMean(name, PRESET_NAMES)}`,
    );
  }
  return PRESETS[name as PresetName];
}
