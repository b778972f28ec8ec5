/**
 * One optimizer step on a generation batch:
 *
 *   for each micro-batch of per_device_train_batch_size loss rows (one completion each, or a
 *   multi-turn game's turns packed into one row: loss-rows.ts):
 *       log π (autograd, gradient checkpointing when configured) -> grpoLoss -> backward
 *       (gradients accumulate in the LoRA parameters)
 *   sft_mix: + weight x the teacher cross-entropy, backward into the same gradients (sft-mix.ts)
 *   grad_norm = clip_grad_norm(max_grad_norm)
 *   loss or grad_norm not finite -> drop the gradients, skip the update (counted by the caller)
 *   else optimizer.step() at the scheduled learning rate
 *
 * The per-micro-batch losses are already normalised for accumulation by grpoLoss (the mean-type
 * losses divide by gradient_accumulation_steps; dapo, cispo and vespo divide by the active tokens of
 * the whole generation batch, TRL's num_items_in_batch), so the step's loss is their sum.
 *
 * top_entropy_quantile < 1 or an entropy bonus: each micro-batch first runs entropy-pass.ts (the
 * entropies decide which tokens train, and the bonus backpropagates through them), then the policy
 * pass with those entropies, detached, so its loss value includes the bonus.
 */
import { clipGradNorm, enableGrad, manualSeed, scope, type Tensor } from "../../engine/index.js";
import { forwardBackward } from "../../model/checkpointing.js";
import type { CausalLM } from "../../model/transformer.js";
import { mixSeeds } from "../../util/rng.js";
import type { GrpoConfig } from "../config/schema.js";
import { packable } from "../plan-loss.js";
import { type Ranks, SOLO } from "../ranks.js";
import { type GenerationBatch, phaseClock } from "../rollout/rollout.js";
import type { Optimizer } from "../trainer-setup.js";
import { completionEntropies } from "./entropy-pass.js";
import { type GrpoLossMetrics, type GrpoLossSettings, grpoLoss } from "./loss.js";
import { type LossItem, type LossRow, oneRowPerItem, packLossRows } from "./loss-rows.js";
import { entropyBonus, highEntropyMask } from "./loss-variants.js";
import { buildLossMicroBatch } from "./micro-batch.js";
import { type SftMixer, sftBackward } from "./sft-mix.js";

export interface StepContext {
  model: CausalLM;
  config: GrpoConfig;
  optimizer: Optimizer;
  params: readonly Tensor[];
  padId: number;
  /** A teacher cross-entropy added to every step's gradient (config sft_mix), or null. */
  sft?: SftMixer | null;
  /** Data parallelism: micro-batch m runs on rank m mod N and the gradients are summed (ranks.ts). */
  ranks?: Ranks;
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
  step: number,
  learningRate: number,
): StepOutcome {
  const { model, config, optimizer, params } = ctx;
  const rows = config.per_device_train_batch_size;
  const completions = batch.completions;
  const counts = (i: number) => !(config.mask_truncated_completions && completions[i].truncated);
  const numItems = completions.reduce((n, c, i) => n + (counts(i) ? c.tokenIds.length : 0), 0);
  const items: LossItem[] = completions.map((c, i) => ({
    promptIds: c.promptIds,
    tokenIds: c.tokenIds,
    advantage: c.advantage,
    tokenAdvantages: c.tokenAdvantages ?? null,
    counts: counts(i),
    oldLogps: config.num_iterations > 1 ? (c.oldLogps ?? missing("old", i)) : null,
    refLogps: config.beta > 0 ? (c.refLogps ?? missing("reference", i)) : null,
    tokenFilters: c.tokenFilters,
  }));
  // The turns of a game share one row (loss-rows.ts). That is exact for a token-level loss that is a
  // token sum over the whole generation batch (dapo, cispo); the others normalise per row or per
  // micro-batch, or need one row per completion for a per-completion ratio, weight or mask.
  const packed = packable(config) && completions.some((c) => c.promptIds !== undefined);
  const lossRows = packed ? packLossRows(items) : oneRowPerItem(items);
  const settings = lossSettings(config, Math.max(1, numItems));
  const entropyFirst = (settings.topEntropyQuantile ?? 1) < 1 || settings.entropyCoef !== 0;

  optimizer.zeroGrad();
  const clock = phaseClock(model.device);
  const wasTraining = model.training;
  model.training = true;
  const ranks = ctx.ranks ?? SOLO;
  // Which rows this rank trains on. A token sum over the whole batch (packable losses) is the same
  // sum however its rows are split, so each rank takes an equal part of the rows; the other losses
  // normalise per micro-batch, so each micro-batch stays whole and runs on rank m mod N.
  const splitRows = ranks.distributed && packed && (settings.topEntropyQuantile ?? 1) === 1;
  const part = splitRows ? ranks.portion(lossRows.length) : { start: 0, end: lossRows.length };
  const mine: MicroResult[] = [];
  try {
    for (let start = part.start; start < part.end; start += rows) {
      if (!splitRows && !ranks.ownsMicroBatch(start / rows)) continue;
      const chunk = lossRows.slice(start, Math.min(start + rows, part.end));
      // Under a group, each micro-batch draws its dropout masks from a generator seeded by (seed,
      // step, first row): the same masks on whichever rank runs it, and after any resume.
      if (ranks.distributed) manualSeed(mixSeeds(config.seed, step, start));
      const result = scope(() => {
        const mb = buildLossMicroBatch(chunk, ctx.padId, model.device, model.config.vocabSize);
        const entropies = entropyFirst
          ? completionEntropies(
              model,
              mb,
              batch.temperature,
              settings.entropyCoef === 0 ? undefined : (h) => bonusGradient(h, mb.lossMask, settings),
              mb.blocked ?? undefined,
            )
          : undefined;
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
            blocked: mb.blocked ?? undefined,
          },
          (logps) => {
            const out = grpoLoss(
              {
                logps,
                oldLogps: config.num_iterations > 1 ? mb.oldLogps : undefined,
                refLogps: config.beta > 0 ? mb.refLogps : undefined,
                advantages: rowAdvantages(chunk, items) ?? mb.advantages,
                mask: mb.lossMask,
                entropies,
              },
              settings,
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
      mine.push({
        index: start,
        loss: result.loss,
        tokens: chunk.reduce((n, r) => n + r.prompt.length + r.completion.length, 0),
        metrics: result.metrics,
        entropy: result.entropy,
      });
    }
  } finally {
    model.training = wasTraining;
  }
  // Every rank's micro-batches, in micro-batch order: the same sums as one process makes.
  const micro = ranks.gather(mine).sort((a, b) => a.index - b.index);
  let loss = micro.reduce((sum, m) => sum + m.loss, 0);
  const tokens = micro.reduce((sum, m) => sum + m.tokens, 0);

  // The supervised term adds its gradient to the GRPO one before clipping (sft-mix.ts); with
  // several ranks rank 0 alone adds it, so the summed gradient counts it once.
  let sftLoss: number | null = null;
  if (ctx.sft && ranks.main) {
    const mixer = ctx.sft;
    if (ranks.distributed) manualSeed(mixSeeds(config.seed, step, lossRows.length));
    model.training = true;
    try {
      sftLoss = scope(() => sftBackward(model, mixer.sequences(step), ctx.padId, mixer.weight));
    } finally {
      model.training = wasTraining;
    }
  }
  if (ctx.sft) {
    sftLoss = ranks.each(sftLoss)[0];
    loss += ctx.sft.weight * (sftLoss as number);
  }
  ranks.sumGradients(params);
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

  const finite = (pick: (m: (typeof micro)[number]) => number | null | undefined): number[] =>
    micro.map(pick).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  const mean = (pick: (m: (typeof micro)[number]) => number | null | undefined): number | null => {
    const xs = finite(pick);
    return xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length;
  };
  const values: Record<string, number | null> = {
    loss,
    grad_norm: gradNorm,
    learning_rate: learningRate,
    entropy: mean((m) => m.entropy),
  };
  // The loss type's own metrics (TRL's names), averaged over micro-batches; min/max ones by min/max.
  const names = new Set(micro.flatMap((m) => Object.keys(m.metrics))) as Set<keyof GrpoLossMetrics>;
  for (const name of names) {
    if (name === "kl") continue;
    const xs = finite((m) => m.metrics[name]);
    if (name === "clip_ratio/low_min") values[name] = xs.length === 0 ? null : Math.min(...xs);
    else if (name === "clip_ratio/high_max") values[name] = xs.length === 0 ? null : Math.max(...xs);
    else if (name === "policy_loss") values[name] = xs.reduce((s, x) => s + x, 0);
    else values[name] = mean((m) => m.metrics[name]);
  }
  if (config.beta > 0) values.kl = mean((m) => m.metrics.kl);
  if (config.entropy_coef !== 0 || config.use_adaptive_entropy)
    values.entropy_coef = settings.entropyCoef ?? 0;
  if (sftLoss !== null) values.sft_loss = sftLoss;
  return {
    loss,
    gradNorm,
    skipped,
    values,
    tokens,
    seconds: { forwardBackward: forwardBackwardSeconds, optimizer: optimizerSeconds },
  };
}

/** One micro-batch's figures (plain numbers: ranks gather them). */
interface MicroResult {
  index: number;
  loss: number;
  tokens: number;
  metrics: GrpoLossMetrics;
  entropy: number | null;
}

/** grpoLoss's settings from the configuration. */
export function lossSettings(c: GrpoConfig, numItemsInBatch: number): GrpoLossSettings {
  return {
    lossType: c.loss_type,
    beta: c.beta,
    epsilon: c.epsilon,
    epsilonHigh: c.epsilon_high,
    maxCompletionLength: c.max_completion_length,
    gradientAccumulationSteps: c.gradient_accumulation_steps,
    numItemsInBatch,
    importanceSamplingLevel: c.importance_sampling_level,
    delta: c.delta,
    useBiasCorrectionKl: c.use_bias_correction_kl,
    offPolicyMaskThreshold: c.off_policy_mask_threshold,
    topEntropyQuantile: c.top_entropy_quantile,
    entropyCoef: c.entropy_coef,
    sapoTemperaturePos: c.sapo_temperature_pos,
    sapoTemperatureNeg: c.sapo_temperature_neg,
    vespo: {
      kPos: c.vespo_k_pos,
      lambdaPos: c.vespo_lambda_pos,
      kNeg: c.vespo_k_neg,
      lambdaNeg: c.vespo_lambda_neg,
    },
  };
}

/**
 * One advantage per row, [B], when every row holds one completion with one advantage: the
 * per-completion quantities (sequence-level ratio, VESPO's weight, the off-policy mask, their
 * metrics) are then counted per completion as in TRL. null: per-token advantages are needed.
 */
function rowAdvantages(rows: readonly LossRow[], items: readonly LossItem[]): number[] | null {
  if (rows.some((r) => r.items.length !== 1 || items[r.items[0]!]!.tokenAdvantages)) return null;
  return rows.map((r) => items[r.items[0]!]!.advantage);
}

/** d(loss)/dH of the bonus term −entropy_coef·H (loss-variants.ts: entropyBonus). */
function bonusGradient(entropies: Tensor, mask: Tensor, s: GrpoLossSettings): Tensor {
  const rho = s.topEntropyQuantile ?? 1;
  const trained = rho < 1 ? highEntropyMask(entropies, mask, rho) : mask;
  const leaf = entropies.detach().setRequiresGrad(true);
  const n = {
    lossType: s.lossType,
    maxCompletionLength: s.maxCompletionLength,
    accumulation: s.gradientAccumulationSteps ?? 1,
    numItemsInBatch: s.numItemsInBatch ?? mask.sum().clamp(1).item(),
  };
  enableGrad(() =>
    entropyBonus(leaf, trained, n)
      .mul(-(s.entropyCoef ?? 0))
      .backward(),
  );
  return leaf.grad!;
}

function missing(what: string, i: number): never {
  throw new Error(
    `generation batch: completion ${i} has no ${what} log-probs (the batch was made with other settings)`,
  );
}
