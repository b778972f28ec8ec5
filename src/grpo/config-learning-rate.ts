import type { GrpoConfig } from "./config-schema.js";

/**
 * The learning rate of each optimizer step, as the HF Trainer's schedulers give it
 * (transformers.get_scheduler with a LambdaLR): lr(s) = learning_rate × λ(s) for the update made
 * at step s (0-based: the first update uses λ(0)).
 *
 * Warmup: warmup_steps when > 0, else ceil(warmup_ratio × total_steps); λ rises linearly from 0.
 * After warmup, with p = (s − warmup) / (total − warmup):
 *   linear                 1 − p          (reaches 0 at the last step)
 *   cosine                 (1 + cos(π p)) / 2
 *   constant_with_warmup   1
 *   constant               1 (no warmup at all)
 */
export function warmupSteps(
  config: Pick<GrpoConfig, "warmup_steps" | "warmup_ratio">,
  totalSteps: number,
): number {
  return config.warmup_steps > 0 ? config.warmup_steps : Math.ceil(config.warmup_ratio * totalSteps);
}

export function learningRateAt(
  config: Pick<GrpoConfig, "learning_rate" | "lr_scheduler_type" | "warmup_steps" | "warmup_ratio">,
  step: number,
  totalSteps: number,
): number {
  const type = config.lr_scheduler_type;
  if (type === "constant") return config.learning_rate;
  const warmup = warmupSteps(config, totalSteps);
  if (step < warmup) return (config.learning_rate * step) / Math.max(1, warmup);
  if (type === "constant_with_warmup") return config.learning_rate;
  const p = (step - warmup) / Math.max(1, totalSteps - warmup);
  const factor = type === "linear" ? Math.max(0, 1 - p) : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * p)));
  return config.learning_rate * factor;
}
