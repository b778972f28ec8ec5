import { noGrad, scope, type Tensor, tensor } from "../engine/index.js";
import type { LossType } from "./config-schema.js";

/**
 * The GRPO loss, as TRL's GRPOTrainer computes it. Per completion token t of completion i:
 *
 *   r_t     = exp(log π(t) − log π_old(t))                     importance ratio
 *   L_t     = −min(r_t · A_i, clip(r_t, 1 − ε_low, 1 + ε_high) · A_i)   clipped surrogate
 *           + β · (exp(log π_ref(t) − log π(t)) − (log π_ref(t) − log π(t)) − 1)   k3 KL estimate
 *
 * and the tokens' losses are summed under the completion mask M and normalised by loss_type:
 *
 *   grpo     mean_i( Σ_t M·L / Σ_t M )                   per-sequence mean, then batch mean
 *   bnpo     Σ M·L / Σ M                                  token mean over this micro-batch
 *   dr_grpo  Σ M·L / (B · max_completion_length)         constant normaliser (Dr. GRPO)
 *   dapo     Σ M·L / num_items_in_batch                   token mean over the whole optimizer step
 *
 * Gradient accumulation: grpo, bnpo and dr_grpo are divided by the number of accumulation steps
 * (each micro-batch's loss is a mean, and the step's gradient is their average). dapo instead
 * divides every micro-batch by the active-token count of the WHOLE generation batch (TRL passes it
 * as `num_items_in_batch`), so the step's gradient is an exact token mean over all micro-batches
 * and there is nothing more to divide by.
 *
 * π_old: with num_iterations = 1 the batch is used once, right after it was generated, so
 * π_old = π and TRL uses log π.detach(): the ratio is exactly 1 but its gradient is ∇ log π, i.e.
 * the loss is the advantage-weighted log-likelihood. With num_iterations > 1 the log-probs from
 * generation time must be passed as `oldLogps`.
 *
 * Everything is [B, T]: B completions, T completion positions (padding masked out by M).
 */

export interface GrpoLossInputs {
  /** log π of each sampled completion token under the current policy, [B, T], with autograd. */
  logps: Tensor;
  /** log π_old from generation time, [B, T]; omitted (num_iterations = 1): logps.detach(). */
  oldLogps?: Tensor;
  /** log π_ref (adapter off), [B, T]; required when beta > 0. */
  refLogps?: Tensor;
  /**
   * One advantage per completion, [B] (see computeAdvantages), or one per token, [B, T] (a row
   * that holds several completions, e.g. the turns of one game: see loss-rows.ts).
   */
  advantages: Tensor | readonly number[];
  /** 1 for tokens that count, 0 for padding and masked (e.g. truncated) completions, [B, T]. */
  mask: Tensor;
}

export interface GrpoLossSettings {
  lossType: LossType;
  beta: number;
  /** ε_low: the ratio is clipped below at 1 − epsilon. */
  epsilon: number;
  /** ε_high: the ratio is clipped above at 1 + epsilonHigh (TRL: defaults to epsilon). */
  epsilonHigh?: number;
  /** dr_grpo's constant normaliser. */
  maxCompletionLength: number;
  /** Micro-batches per optimizer step (grpo/bnpo/dr_grpo divide by it). Default 1. */
  gradientAccumulationSteps?: number;
  /** dapo: Σ M over every micro-batch of this optimizer step. Default: this micro-batch's Σ M. */
  numItemsInBatch?: number;
}

/** Monitoring values (TRL's names), over active tokens; detached numbers. */
export interface GrpoLossMetrics {
  /** Mean k3 KL to the reference; null when beta = 0 (no reference pass). */
  kl: number | null;
  /** Fraction of tokens with r < 1 − ε_low and A < 0 (the clip binds from below). */
  "clip_ratio/low_mean": number;
  /** Fraction of tokens with r > 1 + ε_high and A > 0 (the clip binds from above). */
  "clip_ratio/high_mean": number;
  /** Either of the two. */
  "clip_ratio/region_mean": number;
}

export interface GrpoLossResult {
  /** Scalar loss to call backward() on. */
  loss: Tensor;
  metrics: GrpoLossMetrics;
}

export function grpoLoss(inputs: GrpoLossInputs, settings: GrpoLossSettings): GrpoLossResult {
  checkInputs(inputs, settings);
  const { lossType, beta, epsilon, maxCompletionLength } = settings;
  const epsilonHigh = settings.epsilonHigh ?? epsilon;
  const accumulation = settings.gradientAccumulationSteps ?? 1;
  const [B] = inputs.logps.shape as [number, number];

  return scope(() => {
    const logp = inputs.logps;
    const like = { dtype: logp.dtype, device: logp.device };
    const M = inputs.mask.to(like);
    const advantages = Array.isArray(inputs.advantages)
      ? tensor([...inputs.advantages], like)
      : inputs.advantages;
    const perRow = (advantages as Tensor).shape.length === 1;
    // [B, 1]: the same A for every token of a completion; or [B, T] given per token.
    const A = perRow ? (advantages as Tensor).to(like).unsqueeze(1) : (advantages as Tensor).to(like);
    const oldLogp = inputs.oldLogps ?? logp.detach();

    // Clipped surrogate: −min(r·A, clip(r, 1 − ε_low, 1 + ε_high)·A).
    const ratio = logp.sub(oldLogp).exp();
    const clippedRatio = ratio.clamp(1 - epsilon, 1 + epsilonHigh);
    let perToken = ratio.mul(A).minimum(clippedRatio.mul(A)).neg();

    // k3 estimate of KL(π ‖ π_ref): e^d − d − 1 with d = log π_ref − log π (never negative).
    let kl: Tensor | undefined;
    if (beta !== 0) {
      const d = inputs.refLogps!.to(like).sub(logp);
      kl = d.exp().sub(d).sub(1);
      perToken = perToken.add(kl.mul(beta));
    }

    // Sum over active tokens, normalised by loss_type.
    const masked = perToken.mul(M);
    const tokens = M.sum().clamp(1);
    const normalised: Record<LossType, () => Tensor> = {
      grpo: () => masked.sum(1).div(M.sum(1).clamp(1)).mean().div(accumulation),
      bnpo: () => masked.sum().div(tokens).div(accumulation),
      dr_grpo: () =>
        masked
          .sum()
          .div(B * maxCompletionLength)
          .div(accumulation),
      dapo: () => masked.sum().div(settings.numItemsInBatch ?? tokens),
    };
    const loss = normalised[lossType]();

    const metrics = noGrad(() => {
      const tokenMean = (x: Tensor) => x.to(like).mul(M).sum().div(tokens).item();
      const low = ratio.lt(1 - epsilon).logicalAnd(A.lt(0));
      const high = ratio.gt(1 + epsilonHigh).logicalAnd(A.gt(0));
      return {
        kl: kl === undefined ? null : tokenMean(kl),
        "clip_ratio/low_mean": tokenMean(low),
        "clip_ratio/high_mean": tokenMean(high),
        "clip_ratio/region_mean": tokenMean(low.logicalOr(high)),
      };
    });
    return { loss, metrics };
  });
}

function checkInputs(inputs: GrpoLossInputs, s: GrpoLossSettings): void {
  const shape = inputs.logps.shape;
  if (shape.length !== 2) throw new Error(`grpoLoss: logps must be [B, T], got [${shape.join(", ")}]`);
  const same = (name: string, t: Tensor | undefined) => {
    if (t !== undefined && (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1])) {
      throw new Error(
        `grpoLoss: ${name} must have the shape of logps [${shape.join(", ")}], got [${t.shape.join(", ")}]`,
      );
    }
  };
  same("mask", inputs.mask);
  same("oldLogps", inputs.oldLogps);
  same("refLogps", inputs.refLogps);
  if (!Array.isArray(inputs.advantages) && (inputs.advantages as Tensor).shape.length === 2) {
    same("advantages", inputs.advantages as Tensor);
  } else {
    const advantageCount = Array.isArray(inputs.advantages)
      ? inputs.advantages.length
      : (inputs.advantages as Tensor).numel;
    if (advantageCount !== shape[0]) {
      throw new Error(`grpoLoss: ${advantageCount} advantages for ${shape[0]} completions`);
    }
  }
  if (s.beta !== 0 && inputs.refLogps === undefined) {
    throw new Error("grpoLoss: beta > 0 needs refLogps (log-probs with the adapter off)");
  }
  if (!(s.epsilon > 0 && s.epsilon < 1))
    throw new Error(`grpoLoss: epsilon must be in (0, 1), got ${s.epsilon}`);
  if (s.lossType === "dr_grpo" && !(s.maxCompletionLength > 0)) {
    throw new Error(`grpoLoss: dr_grpo needs maxCompletionLength > 0, got ${s.maxCompletionLength}`);
  }
  if (s.numItemsInBatch !== undefined && !(s.numItemsInBatch > 0)) {
    throw new Error(`grpoLoss: numItemsInBatch must be > 0, got ${s.numItemsInBatch}`);
  }
}
