import { z } from "zod";
import { milestoneSchema, plateauSchema } from "../../run/monitor-config.js";
import { reportToList, TRACKER_NAMES } from "../../run/trackers/names.js";
import type { PromptTemplateName } from "../../task/prompt.js";
import { type RewardPresetName, rewardPreset } from "../../task/rewards/presets.js";
import { didYouMean } from "../../util/suggest.js";

/**
 * The training configuration schema. Every key a user may write lives here, once, with its
 * default. Names and defaults follow TRL's `GRPOConfig` (and the HF `TrainingArguments` it extends)
 * wherever the concept is the same, so a TRL user can read a config without a dictionary; the
 * keys that are ours (model, LoRA, rewards, monitor, evaluation) are grouped in nested sections.
 *
 * Objects are strict: unknown keys are errors (config.ts turns them into "did you mean" messages).
 * Nested sections use `.prefault({})` so that an absent section is parsed from `{}` and gets
 * every inner default.
 */

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();
const positiveInt = z.int().positive();
const nonNegativeInt = z.int().nonnegative();
const probability = z.number().min(0).max(1);

export const LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "vespo", "luspo"] as const;
export type LossType = (typeof LOSS_TYPES)[number];

export const IMPORTANCE_SAMPLING_LEVELS = ["token", "sequence"] as const;
export type ImportanceSamplingLevel = (typeof IMPORTANCE_SAMPLING_LEVELS)[number];

export const MULTI_OBJECTIVE_AGGREGATIONS = ["sum_then_normalize", "normalize_then_sum"] as const;
export type MultiObjectiveAggregation = (typeof MULTI_OBJECTIVE_AGGREGATIONS)[number];

export const SCALE_REWARDS = ["group", "batch", "none"] as const;
export type ScaleRewards = (typeof SCALE_REWARDS)[number];

export const LR_SCHEDULERS = ["linear", "cosine", "constant", "constant_with_warmup"] as const;
export type LrSchedulerType = (typeof LR_SCHEDULERS)[number];

/** The reward presets of the task layer (src/task/rewards/presets.ts; docs/rewards.md). */
export const REWARD_PRESETS = ["seed", "course", "exact"] as const satisfies readonly RewardPresetName[];

/** Names of a reward preset's functions (`total` is their weighted sum), from the task layer. */
export function rewardFunctionNames(preset: RewardPresetName): string[] {
  return rewardPreset(preset).rewards.map((r) => r.name);
}

/** The plan's success test (docs/rewards.md, preset `seed`). */
export const DEFAULT_SUCCESS_CRITERIA = ["running_mean(total) > 1.5 AND running_mean(feedback) > 0"];

/** TRL accepts `scale_rewards: true|false` from older versions; map them to the string modes. */
const scaleRewards = z.preprocess(
  (value) => (value === true ? "group" : value === false ? "none" : value),
  z.enum(SCALE_REWARDS),
);

/** HF spells AdamW `adamw_torch` (and friends); we have one AdamW, so accept those names for it. */
const optimizer = z.preprocess(
  (value) => (typeof value === "string" && /^adamw(_torch|_hf|_torch_fused)?$/.test(value) ? "adamw" : value),
  z.enum(["adamw", "sgd"]),
);

const loraSchema = z.strictObject({
  /** Rank of the update B·A. 16 is a common middle ground for small models on narrow tasks. */
  r: positiveInt.default(16),
  /** Scale numerator: the update is multiplied by alpha / r (alpha / sqrt(r) with rsLoRA). */
  alpha: positive.default(32),
  dropout: z.number().min(0).lt(1).default(0.05),
  /** Linear layers that get adapters, by their HF module names. All of Qwen2/Llama's by default. */
  target_modules: z
    .preprocess(
      // `--set lora.target_modules=q_proj,v_proj` arrives as one string.
      (v) => (typeof v === "string" ? v.split(",").map((m) => m.trim()) : v),
      z.array(z.string().min(1)).min(1),
    )
    .default(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
  use_rslora: z.boolean().default(false),
});

const rewardSchema = z.strictObject({
  preset: z.enum(REWARD_PRESETS).default("exact"),
  /** Per-function weights; a function not named keeps weight 1. Names: rewardFunctionNames(preset). */
  weights: z.record(z.string(), z.number()).default({}),
});

const temperatureScheduleSchema = z.strictObject({
  /** Temperature at step 0; defaults to `temperature`. */
  start: positive.optional(),
  /** Temperature at the last step. */
  end: positive,
  decay: z.enum(["linear", "cosine"]).default("linear"),
});

const evalSchema = z.strictObject({
  /** Multi-turn games per evaluation. */
  games: nonNegativeInt.default(100),
  /** Answer words held out from training and used as evaluation secrets. */
  held_out_secrets: nonNegativeInt.default(100),
  /** Also play FROST, the word the original project demonstrated on. */
  include_frost: z.boolean().default(true),
  /** greedy: deterministic argmax decoding; sampled: the training sampler settings. */
  sampling: z.enum(["greedy", "sampled"]).default("greedy"),
});

/**
 * mode = "multi_turn": whole games as episodes (src/grpo/rollout/multi-turn-rollout.ts has the formulas).
 * Each step plays num_generations games for each of `secrets_per_step` training secrets.
 */
const multiTurnSchema = z.strictObject({
  /**
   * "games": each secret played num_generations times from the empty board, every turn trained;
   * "branch": each secret played greedily, num_generations guesses sampled at one of its positions
   * and finished greedily, only those guesses trained (src/grpo/rollout/branch-rollout.ts).
   */
  rollout: z.enum(["games", "branch"]).default("games"),
  /** Secrets per generation batch (one group each). */
  secrets_per_step: positiveInt.default(8),
  /**
   * "turn": game outcome + the turn's own shaping, each normalised in the group; "letter": the same
   * with the shaping judged per letter (src/grpo/rollout/letter-shaping.ts); "game": the game's return for
   * every turn (rollout "games" only).
   */
  credit: z.enum(["game", "turn", "letter"]).default("turn"),
  /** "turn" / "letter" credit: weight of the shaping advantage next to the outcome's. */
  turn_weight: nonNegative.default(1),
  max_turns: positiveInt.default(6),
  /** A game ends (lost) at its first invalid guess; evaluation instead lets it cost a turn. */
  invalid_ends_game: z.boolean().default(false),
  /**
   * Show the game's refused guesses in the prompt (a "?????" row in tiny, a "not in the word list"
   * line in course and compact), so the policy can learn to try another word; evaluation of the
   * trained adapter shows them too (its training.json records this).
   */
  show_refused: z.boolean().default(false),
  /**
   * Guesses the decoder may spell while playing (task/guess-constraint.ts): "none", accepted
   * words ("valid"), or accepted words that fit the feedback so far ("consistent"). The policy then
   * learns which allowed word to play, not how to spell one; evaluation of the trained adapter
   * decodes with the same constraint (its training.json records it).
   */
  constrain: z.enum(["none", "valid", "consistent"]).default("none"),
  /** Outcome: win_bonus + saved_bonus per unused turn, for a win; 0 for a loss. */
  win_bonus: z.number().default(1),
  saved_bonus: z.number().default(0.2),
  /** Per-turn shaping: the guess fits all feedback so far / is an accepted word / was played before. */
  consistency: z.number().default(0.5),
  validity: z.number().default(0.25),
  repeat_penalty: z.number().default(0.5),
  /**
   * Per-turn shaping: weight of the guess's expected information over the answers still possible,
   * normalised to [0, 1] (task/info-gain.ts; 1: every remaining answer gets its own feedback).
   * Rewards informative guesses turn by turn; "turn" or "game" credit.
   */
  information: nonNegative.default(0),
});

/** A supervised loss on teacher games mixed into every step (src/grpo/step/sft-mix.ts). */
const sftMixSchema = z.strictObject({
  /** Weight of the teacher cross-entropy next to the GRPO loss; 0 turns it off. */
  weight: nonNegative.default(0),
  /** Teacher games per optimizer step (on training secrets). */
  games: positiveInt.default(32),
  /** Teacher spec as for `wordle-grpo sft --teacher`. */
  teacher: z.string().min(1).default("mix:entropy=0.5,random-consistent=0.5"),
});

const configObject = z.strictObject({
  // ---- model and hardware (ours) --------------------------------------------------------------
  /** Hugging Face model directory; null means the small model shipped in models/. */
  model: z.string().min(1).nullable().default(null),
  device: z
    .string()
    .regex(/^(auto|cpu|mps|cuda(:\d+)?)$/, "expected auto, cpu, mps, cuda or cuda:N")
    .default("auto"),
  /** auto: bfloat16 where the device runs it fast (CUDA, AVX-512 CPUs), else float32. */
  dtype: z.enum(["auto", "float32", "bfloat16", "float16"]).default("auto"),
  output_dir: z.string().min(1).default("runs/wordle-grpo"),
  /** Display name of the run (HF); null: the output directory's name. */
  run_name: z.string().min(1).nullable().default(null),
  /** single_state: one guess per prompt (the seed's setup); multi_turn: whole games as episodes. */
  mode: z.enum(["single_state", "multi_turn"]).default("single_state"),
  multi_turn: multiTurnSchema.prefault({}),
  sft_mix: sftMixSchema.prefault({}),
  lora: loraSchema.prefault({}),
  reward: rewardSchema.prefault({}),
  /**
   * Prompt template of the task layer (src/task/prompt.ts): "course" (the dataset's), "compact", or
   * "tiny" (the shipped character-level model's short multi-turn format).
   */
  prompt_template: z
    .enum(["course", "compact", "tiny"] as const satisfies readonly PromptTemplateName[])
    .default("course"),

  // ---- GRPO (TRL GRPOConfig) ---------------------------------------------------------------------
  learning_rate: positive.default(1e-6),
  /** KL coefficient against the adapter-off reference; 0 skips the reference forward pass. */
  beta: nonNegative.default(0.0),
  /** Lower clip: the ratio may fall to 1 - epsilon. */
  epsilon: z.number().positive().lt(1).default(0.2),
  /** Upper clip: the ratio may rise to 1 + epsilon_high; null means epsilon (TRL). */
  epsilon_high: positive.nullable().default(null),
  loss_type: z.enum(LOSS_TYPES).default("dapo"),
  /**
   * "token": one importance ratio per token; "sequence" (GSPO): one per completion, the exponential
   * of the mask-weighted mean of its tokens' log-ratios. TRL's error text for other values.
   */
  importance_sampling_level: z
    .enum(IMPORTANCE_SAMPLING_LEVELS, {
      error: (issue) =>
        `Unknown importance sampling level: ${JSON.stringify(issue.input)}. Possible values are 'token' and 'sequence'.`,
    })
    .default("token"),
  /** Two-sided clipping (INTELLECT-2): the unclipped ratio is capped at delta; null: off. */
  delta: positive.nullable().default(null),
  /** sapo: gate temperature for tokens with a positive advantage. */
  sapo_temperature_pos: positive.default(1.0),
  /** sapo: gate temperature for tokens with a zero or negative advantage. */
  sapo_temperature_neg: positive.default(1.05),
  /** vespo: power k and decay λ of the gamma weight w^k·e^(λ(1−w)), for A >= 0 and for A < 0. */
  vespo_k_pos: z.number().default(2.0),
  vespo_lambda_pos: z.number().default(3.0),
  vespo_k_neg: z.number().default(3.0),
  vespo_lambda_neg: z.number().default(2.0),
  /** Multiply the k3 KL term by the importance ratio (DeepSeek-V3.2's unbiased estimator). */
  use_bias_correction_kl: z.boolean().default(false),
  /**
   * Drop completions with a negative advantage whose mean log-ratio log π_old − log π exceeds this
   * (DeepSeek-V3.2's off-policy sequence mask); null: off.
   */
  off_policy_mask_threshold: z.number().nullable().default(null),
  /** Train only on the top ρ fraction of tokens by policy entropy ("Beyond the 80/20 rule"); 1 keeps all. */
  top_entropy_quantile: probability.default(1.0),
  /** Entropy bonus: the loss minus entropy_coef × the mean per-token entropy; 0 turns it off. */
  entropy_coef: z.number().default(0.0),
  /**
   * Skywork-OR1's adaptive entropy control in TRL: after each step entropy_coef moves by
   * entropy_coef_delta (up while the entropy is at or below entropy_target, down otherwise, within
   * [min, max]). Accepted with TRL's defaults so TRL configs load, but true is refused
   * (config/validate.ts): the controller is not implemented here.
   */
  use_adaptive_entropy: z.boolean().default(false),
  entropy_coef_min: z.number().default(0.0),
  entropy_coef_max: z.number().default(1.0),
  entropy_coef_delta: nonNegative.default(0.005),
  entropy_target: z.number().default(0.2),
  /**
   * Several reward functions: "sum_then_normalize" normalises the weighted sum in its group;
   * "normalize_then_sum" (GDPO) normalises each function in its group, sums with the weights, then
   * normalises the sum over the batch.
   */
  multi_objective_aggregation: z
    .enum(MULTI_OBJECTIVE_AGGREGATIONS, {
      error: (issue) =>
        `Invalid multi_objective_aggregation: ${JSON.stringify(issue.input)}. Must be 'sum_then_normalize' or 'normalize_then_sum'.`,
    })
    .default("sum_then_normalize"),
  scale_rewards: scaleRewards.default("group"),
  num_generations: positiveInt.default(8),
  /** Completions (not prompts) per micro-batch, as in TRL. */
  per_device_train_batch_size: positiveInt.default(8),
  gradient_accumulation_steps: positiveInt.default(1),
  /** Optimisation passes over each generated batch (PPO-style reuse; old log-probs kept). */
  num_iterations: positiveInt.default(1),
  max_prompt_length: positiveInt.nullable().default(512),
  max_completion_length: positiveInt.default(256),
  temperature: positive.default(1.0),
  top_p: z.number().gt(0).max(1).default(1.0),
  /** 0 or null: no top-k filtering. */
  top_k: nonNegativeInt.nullable().default(null),
  min_p: probability.nullable().default(null),
  repetition_penalty: positive.default(1.0),
  /** Exclude completions cut off at max_completion_length from the loss. */
  mask_truncated_completions: z.boolean().default(false),

  // ---- optimisation and schedule (HF TrainingArguments) ------------------------------------------
  /** 0 disables gradient clipping. */
  max_grad_norm: nonNegative.default(1.0),
  num_train_epochs: positive.default(3),
  /** > 0 overrides num_train_epochs. */
  max_steps: z.int().min(-1).default(-1),
  lr_scheduler_type: z.enum(LR_SCHEDULERS).default("linear"),
  warmup_ratio: z.number().min(0).lt(1).default(0),
  /** > 0 overrides warmup_ratio (HF). */
  warmup_steps: nonNegativeInt.default(0),
  optim: optimizer.default("adamw"),
  weight_decay: nonNegative.default(0),
  adam_beta1: z.number().min(0).lt(1).default(0.9),
  adam_beta2: z.number().min(0).lt(1).default(0.999),
  adam_epsilon: positive.default(1e-8),
  /** SGD momentum (ours; HF passes it through optim_args). */
  momentum: z.number().min(0).lt(1).default(0),
  gradient_checkpointing: z.boolean().default(false),
  seed: z.int().default(42),
  /**
   * Data parallelism (HF TrainingArguments): seconds a rank waits in a collective before it gives
   * up on the others (a rank that hangs; a rank that dies is noticed at once). It must cover the
   * longest stretch one rank works between two collectives (a rollout, rank 0 saving a checkpoint).
   */
  ddp_timeout: positiveInt.default(1800),
  /** Data parallelism: "auto" (nccl on CUDA, gloo on the CPU), or one of them (ours; HF's ddp_backend). */
  ddp_backend: z.enum(["auto", "gloo", "nccl"]).default("auto"),

  // ---- logging, evaluation, checkpoints (HF TrainingArguments) -----------------------------------
  logging_steps: positiveInt.default(10),
  /** Evaluate every N steps; null: only at the end (HF's default eval_strategy "no"). */
  eval_steps: positiveInt.nullable().default(null),
  save_steps: positiveInt.default(500),
  /** Keep at most this many checkpoint-<step>/ folders (the best is never deleted); null keeps all. */
  save_total_limit: positiveInt.nullable().default(null),
  metric_for_best_model: z.string().min(1).default("eval/win_rate"),
  greater_is_better: z.boolean().default(true),
  /**
   * Experiment trackers that get every logged row besides metrics.jsonl (HF): a list of tensorboard,
   * csv, wandb, or "all", or "none". HF defaults to every installed integration; here to none, so a
   * run writes only its own files and opens no connection unless asked (src/run/trackers/).
   */
  report_to: z
    .preprocess(
      reportToList,
      z.array(
        z.enum(TRACKER_NAMES, {
          error: (issue) =>
            `unknown tracker ${JSON.stringify(issue.input)}: report_to takes ${TRACKER_NAMES.join(", ")}, ` +
            `"all" or "none".${typeof issue.input === "string" ? didYouMean(issue.input, TRACKER_NAMES) : ""}`,
        }),
      ),
    )
    .default([]),
  /** Folder of the tensorboard tracker's event files (HF); null: RUN/runs. Relative paths: from the working directory. */
  logging_dir: z.string().min(1).nullable().default(null),

  // ---- monitor (ours) ---------------------------------------------------------------------------
  /** Expressions over metrics that must all hold for the run to count as a success. */
  success_criteria: z.array(z.string().min(1)).default(DEFAULT_SUCCESS_CRITERIA),
  milestones: z.array(milestoneSchema).default([]),
  /** Running means average the last N logged training rows (N × logging_steps steps). */
  running_mean_window: positiveInt.default(10),
  plateau: plateauSchema.prefault({}),
  temperature_schedule: temperatureScheduleSchema.nullable().default(null),
  eval: evalSchema.prefault({}),
});

/** Fill the defaults that depend on other keys (TRL: epsilon_high defaults to epsilon). */
export const configSchema = configObject.transform((c) => ({
  ...c,
  epsilon_high: c.epsilon_high ?? c.epsilon,
  temperature_schedule:
    c.temperature_schedule === null
      ? null
      : { ...c.temperature_schedule, start: c.temperature_schedule.start ?? c.temperature },
}));

/** A fully resolved, validated configuration. */
export type GrpoConfig = z.output<typeof configSchema>;
/** What a user may write: every key optional, sections partial. */
export type GrpoConfigInput = z.input<typeof configSchema>;
export type LoraConfig = GrpoConfig["lora"];
export type { MilestoneConfig, PlateauConfig } from "../../run/monitor-config.js";
export type EvalConfig = GrpoConfig["eval"];
export type MultiTurnConfig = GrpoConfig["multi_turn"];
export type TemperatureSchedule = NonNullable<GrpoConfig["temperature_schedule"]>;
