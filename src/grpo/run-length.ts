import type { GrpoConfig } from "./config/schema.js";

/**
 * How long a run is, in optimizer steps: the arithmetic the trainer runs by and `plan` reports.
 *
 * TRL semantics (GRPOTrainer with its RepeatSampler):
 * - `per_device_train_batch_size` counts COMPLETIONS. One optimizer step consumes
 *   per_device_train_batch_size × gradient_accumulation_steps completions (the generation batch),
 *   i.e. that divided by num_generations prompts.
 * - An epoch shuffles the prompts and cuts them into chunks of prompts-per-step; an incomplete last
 *   chunk is dropped. Each chunk is generated once and optimised on num_iterations times.
 *   steps_per_epoch = floor(N / prompts_per_step) × num_iterations.
 * - total steps = max_steps when > 0, else ceil(num_train_epochs × steps_per_epoch) (HF Trainer).
 */

/**
 * Dataset items one generation batch draws: prompts (single_state: the batch's completions / G),
 * or secrets (multi_turn: multi_turn.secrets_per_step, each played G times).
 */
export function itemsPerGenerationBatch(config: GrpoConfig): number {
  if (config.mode === "multi_turn") return config.multi_turn.secrets_per_step;
  return (config.per_device_train_batch_size * config.gradient_accumulation_steps) / config.num_generations;
}

export function stepsPerEpoch(config: GrpoConfig, datasetSize: number): number {
  return Math.floor(datasetSize / itemsPerGenerationBatch(config)) * config.num_iterations;
}

export function totalSteps(config: GrpoConfig, datasetSize: number): number {
  if (config.max_steps > 0) return config.max_steps;
  return Math.ceil(config.num_train_epochs * stepsPerEpoch(config, datasetSize));
}

/**
 * Data parallelism splits a step's items (prompts or secrets) over the ranks by whole GRPO groups:
 * throws, naming the fix, when they do not split evenly.
 */
export function checkSplit(what: string, items: number, size: number): void {
  if (items % size === 0) return;
  const lower = Math.floor(items / size) * size;
  const upper = lower + size;
  throw new Error(
    `${what} is ${items}, which does not split over ${size} ranks (each rank plays whole GRPO groups): ` +
      `use a multiple of ${size}${lower > 0 ? ` (${lower} or ${upper})` : ` (${upper})`}, or ${fewerRanks(items, size)}`,
  );
}

function fewerRanks(items: number, size: number): string {
  const counts = Array.from({ length: Math.min(items, 4 * size) }, (_, i) => i + 1).filter(
    (n) => items % n === 0,
  );
  return `run a number of ranks that divides ${items} (${counts.join(", ")})`;
}

/** The setting that says how many items (prompts or secrets) a step has, for messages. */
export function stepItemsName(config: Pick<GrpoConfig, "mode">): string {
  return config.mode === "multi_turn"
    ? "multi_turn.secrets_per_step"
    : "prompts per step (per_device_train_batch_size x gradient_accumulation_steps / num_generations)";
}
