/**
 * One optimizer step on a generation batch:
 *
 *   for each micro-batch of per_device_train_batch_size completions:
 *       log π (autograd, gradient checkpointing when configured) -> grpoLoss -> backward
 *       (gradients accumulate in the LoRA parameters)
 *   grad_norm = clip_grad_norm(max_grad_norm)
 *   loss or grad_norm not finite -> drop the gradients, skip the update (counted by the caller)
 *   else optimizer.step() at the scheduled learning rate
 *
 * The per-micro-batch losses are already normalised for accumulation by grpoLoss (grpo/bnpo/
 * dr_grpo divide by gradient_accumulation_steps; dapo divides by the active tokens of the whole
 * generation batch, TRL's num_items_in_batch), so the step's loss is their sum.
 */
import { clipGradNorm, scope, type Tensor, tensor } from "../engine/index.js";
import { forwardBackward } from "../model/checkpointing.js";
import type { CausalLM } from "../model/transformer.js";
import type { GrpoConfig } from "./config-schema.js";
import { type GrpoLossMetrics, grpoLoss } from "./loss.js";
import { type GenerationBatch, type PreparedPrompt, phaseClock } from "./rollout.js";
import { buildMicroBatch, paddedValues } from "./trainer-batch.js";
import type { Optimizer } from "./trainer-setup.js";

export interface StepContext {
  model: CausalLM;
  config: GrpoConfig;
  optimizer: Optimizer;
  params: readonly Tensor[];
  padId: number;
  /** Test hook: replaces the loss of a micro-batch (e.g. to inject a NaN). */
  lossHook?: (step: number, loss: Tensor) => Tensor;
}

export interface StepOutcome {
  loss: number;
  gradNorm: number;
  skipped: boolean;
  /** Per-token metrics of the step (TRL names). */
  values: Record<string, number | null>;
  /** Prompt + completion tokens the step's forward passes covered. */
  tokens: number;
  /** Seconds of the forward + backward passes and of clipping + the optimizer step. */
  seconds: { forwardBackward: number; optimizer: number };
}

export function optimizeOnBatch(
  ctx: StepContext,
  batch: GenerationBatch,
  prompts: readonly PreparedPrompt[],
  step: number,
  learningRate: number,
): StepOutcome {
  const { model, config, optimizer, params } = ctx;
  const rows = config.per_device_train_batch_size;
  const completions = batch.completions;
  const promptOf = (i: number) => prompts[batch.promptIndices[completions[i].prompt]].ids;
  const counts = (i: number) => !(config.mask_truncated_completions && completions[i].truncated);
  const numItems = completions.reduce((n, c, i) => n + (counts(i) ? c.tokenIds.length : 0), 0);

  optimizer.zeroGrad();
  const clock = phaseClock(model.device);
  const wasTraining = model.training;
  model.training = true;
  let loss = 0;
  let tokens = 0;
  const micro: { metrics: GrpoLossMetrics; entropy: number | null }[] = [];
  try {
    for (let start = 0; start < completions.length; start += rows) {
      const end = Math.min(completions.length, start + rows);
      const index = Array.from({ length: end - start }, (_, k) => start + k);
      const result = scope(() => {
        const mb = buildMicroBatch(
          index.map(promptOf),
          index.map((i) => completions[i].tokenIds),
          index.map((i) => completions[i].truncated),
          ctx.padId,
          model.device,
          config.mask_truncated_completions,
        );
        const K = mb.completionWidth;
        const old =
          config.num_iterations > 1
            ? paddedValues(
                index.map((i) => completions[i].oldLogps ?? missing("old", i)),
                K,
                model.device,
              )
            : undefined;
        const ref =
          config.beta > 0
            ? paddedValues(
                index.map((i) => completions[i].refLogps ?? missing("reference", i)),
                K,
                model.device,
              )
            : undefined;
        const advantages = tensor(
          index.map((i) => completions[i].advantage),
          { dtype: "float32", device: model.device },
        );
        let metrics: GrpoLossMetrics | undefined;
        const fb = forwardBackward(
          model,
          mb.inputIds,
          {
            attentionMask: mb.attentionMask,
            positionIds: mb.positionIds,
            targets: mb.targets,
            checkpointed: config.gradient_checkpointing,
            temperature: batch.temperature,
            entropy: true,
          },
          (logps) => {
            const out = grpoLoss(
              { logps, oldLogps: old, refLogps: ref, advantages, mask: mb.lossMask },
              {
                lossType: config.loss_type,
                beta: config.beta,
                epsilon: config.epsilon,
                epsilonHigh: config.epsilon_high,
                maxCompletionLength: config.max_completion_length,
                gradientAccumulationSteps: config.gradient_accumulation_steps,
                numItemsInBatch: Math.max(1, numItems),
              },
            );
            metrics = out.metrics;
            return ctx.lossHook ? ctx.lossHook(step, out.loss) : out.loss;
          },
        );
        const tokenCount = mb.tokenMask.sum().item();
        const entropy =
          fb.entropy === null || tokenCount === 0
            ? null
            : fb.entropy.mul(mb.tokenMask).sum().item() / tokenCount;
        return { loss: fb.loss, metrics: metrics as GrpoLossMetrics, entropy, tokenCount };
      });
      loss += result.loss;
      tokens += index.reduce((n, i) => n + promptOf(i).length + completions[i].tokenIds.length, 0);
      micro.push({ metrics: result.metrics, entropy: result.entropy });
    }
  } finally {
    model.training = wasTraining;
  }

  const forwardBackwardSeconds = clock();
  const gradNorm = clipGradNorm(
    params,
    config.max_grad_norm > 0 ? config.max_grad_norm : Number.POSITIVE_INFINITY,
  );
  const skipped = !Number.isFinite(loss) || !Number.isFinite(gradNorm);
  if (skipped) {
    optimizer.zeroGrad();
  } else {
    optimizer.lr = learningRate;
    optimizer.step();
    optimizer.zeroGrad();
  }
  const optimizerSeconds = clock();

  const mean = (pick: (m: (typeof micro)[number]) => number | null): number | null => {
    const xs = micro.map(pick).filter((x): x is number => x !== null && Number.isFinite(x));
    return xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length;
  };
  const values: Record<string, number | null> = {
    loss,
    grad_norm: gradNorm,
    learning_rate: learningRate,
    entropy: mean((m) => m.entropy),
    "clip_ratio/low_mean": mean((m) => m.metrics["clip_ratio/low_mean"]),
    "clip_ratio/high_mean": mean((m) => m.metrics["clip_ratio/high_mean"]),
    "clip_ratio/region_mean": mean((m) => m.metrics["clip_ratio/region_mean"]),
  };
  if (config.beta > 0) values.kl = mean((m) => m.metrics.kl);
  return {
    loss,
    gradNorm,
    skipped,
    values,
    tokens,
    seconds: { forwardBackward: forwardBackwardSeconds, optimizer: optimizerSeconds },
  };
}

function missing(what: string, i: number): never {
  throw new Error(
    `generation batch: completion ${i} has no ${what} log-probs (the batch was made with other settings)`,
  );
}
