import type { GrpoConfig } from "./config/schema.js";

/**
 * The learning-rate schedule, as transformers' `get_scheduler` builds it for the HF Trainer.
 *
 * The scheduler multiplies `learning_rate` by a factor that depends on how many optimizer steps
 * were taken BEFORE the current one (s = 0 for the first step), over T total steps with W warmup
 * steps:
 *
 *   warmup (s < W)   s / max(1, W)                      (so the very first step runs at lr 0 when W > 0)
 *   linear           max(0, (T - s) / max(1, T - W))
 *   cosine           max(0, ½ (1 + cos(π · (s - W) / max(1, T - W))))
 *   constant         1                                   (no warmup, as transformers' "constant")
 *   constant_with_warmup   1 after the warmup
 *
 * W = warmup_steps when it is > 0, else ceil(warmup_ratio · T) (TrainingArguments.get_warmup_steps).
 */

export function warmupSteps(
  config: Pick<GrpoConfig, "warmup_steps" | "warmup_ratio">,
  total: number,
): number {
  return config.warmup_steps > 0 ? config.warmup_steps : Math.ceil(config.warmup_ratio * total);
}

/** The factor applied to learning_rate for the step that follows `stepsDone` completed steps. */
export function learningRateFactor(
  config: Pick<GrpoConfig, "lr_scheduler_type" | "warmup_steps" | "warmup_ratio">,
  stepsDone: number,
  total: number,
): number {
  const type = config.lr_scheduler_type;
  if (type === "constant") return 1;
  const w = warmupSteps(config, total);
  const s = stepsDone;
  if (s < w) return s / Math.max(1, w);
  switch (type) {
    case "constant_with_warmup":
      return 1;
    case "linear":
      return Math.max(0, (total - s) / Math.max(1, total - w));
    case "cosine": {
      const progress = (s - w) / Math.max(1, total - w);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
  }
}

/** The learning rate of the step that follows `stepsDone` completed steps. */
export function learningRateAt(
  config: Pick<GrpoConfig, "learning_rate" | "lr_scheduler_type" | "warmup_steps" | "warmup_ratio">,
  stepsDone: number,
  total: number,
): number {
  return config.learning_rate * learningRateFactor(config, stepsDone, total);
}
