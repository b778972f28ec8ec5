import { fullLike, noGrad, type Tensor, where } from "../../engine/index.js";
import type { ImportanceSamplingLevel, LossType } from "../config/schema.js";

/**
 * The pieces of TRL's GRPO loss family that differ between variants (loss.ts puts them together).
 * Shapes: [B, T] per token; [B, 1] per completion (broadcast over its tokens). M is the completion
 * mask, A the advantages ([B, 1] or [B, T]), ℓ = log π − log π_old the per-token log-ratio.
 */

/** The loss types whose surrogate is PPO's clipped ratio (TRL computes them in one branch). */
export const CLIPPED_LOSS_TYPES: readonly LossType[] = ["grpo", "bnpo", "dr_grpo", "dapo", "luspo"];

/**
 * Importance weight r = exp(log w):
 *   token     log w_t = ℓ_t                                 [B, T]
 *   sequence  log w_i = Σ_t M·ℓ / max(Σ_t M, 1)             [B, 1]   (GSPO: the geometric mean ratio)
 */
export function importanceRatio(logRatio: Tensor, M: Tensor, level: ImportanceSamplingLevel): Tensor {
  if (level === "token") return logRatio.exp();
  return logRatio.mul(M).sum(-1, true).div(M.sum(-1, true).clamp(1)).exp();
}

export interface SurrogateSettings {
  lossType: LossType;
  epsilon: number;
  epsilonHigh: number;
  /** Two-sided clipping: the unclipped ratio is capped at delta (clipped family only). */
  delta: number | null;
  sapoTemperaturePos?: number;
  sapoTemperatureNeg?: number;
  vespo?: VespoSettings;
}

export interface VespoSettings {
  kPos: number;
  lambdaPos: number;
  kNeg: number;
  lambdaNeg: number;
}

export interface Surrogate {
  /** The policy term of each token's loss, before masks and the KL term. */
  perToken: Tensor;
  /** Detached values the metrics are read from. */
  ratioForMetrics: Tensor;
  /** vespo: its per-completion gamma weight φ. */
  phi?: Tensor;
}

/**
 *   clipped family  −min(r'·A, clip(r, 1 − ε_low, 1 + ε_high)·A), r' = min(r, δ) when delta is set
 *   cispo           −sg(min(r, ε_high))·A·log π          (the ratio is a detached weight)
 *   sapo            −σ(τ·(r − 1))·(4/τ)·A,  τ = τ_pos if A > 0 else τ_neg
 *   vespo           −sg(φ)·A·log π                        (φ: gammaWeights)
 */
export function surrogate(
  r: Tensor,
  A: Tensor,
  logp: Tensor,
  logRatio: Tensor,
  M: Tensor,
  s: SurrogateSettings,
): Surrogate {
  switch (s.lossType) {
    case "cispo": {
      const weight = r.clamp(null, s.epsilonHigh).detach();
      return { perToken: weight.mul(A).mul(logp).neg(), ratioForMetrics: r.detach() };
    }
    case "sapo": {
      const tau = choose(A.gt(0), s.sapoTemperaturePos!, s.sapoTemperatureNeg!, A);
      const gate = tau.mul(r.sub(1)).sigmoid().mul(4).div(tau);
      return { perToken: gate.mul(A).neg(), ratioForMetrics: r.detach() };
    }
    case "vespo": {
      const phi = gammaWeights(A, logRatio, M, s.vespo!);
      return { perToken: phi.mul(A).mul(logp).neg(), ratioForMetrics: r.detach(), phi };
    }
    default: {
      const clipped = r.clamp(1 - s.epsilon, 1 + s.epsilonHigh);
      // TRL caps the unclipped ratio after the clipped one is formed, and reads its clip metrics
      // from the capped ratio.
      const unclipped = s.delta === null ? r : r.clamp(null, s.delta);
      const perToken = unclipped.mul(A).minimum(clipped.mul(A)).neg();
      return { perToken, ratioForMetrics: unclipped.detach() };
    }
  }
}

/** `condition ? a : b` in the dtype and device of `like` (scalars would otherwise pass through float32). */
function choose(condition: Tensor, a: number, b: number, like: Tensor): Tensor {
  return where(condition, fullLike(like, a), fullLike(like, b));
}

/**
 * VESPO's gamma weight of a completion, no gradient (it only scales ∇ log π):
 *   log w = clamp(Σ_t M·clamp(ℓ_t, −20, 20), ln 1e-8, 20)   the sequence log-ratio (a sum, not a mean)
 *   φ(w)  = exp(λ + k·log w − λ·w) = w^k·e^(λ(1 − w)),  so φ(1) = 1
 * with (k, λ) = (k_pos, λ_pos) for A >= 0 and (k_neg, λ_neg) for A < 0, λ at least 1e-4, and a
 * non-finite φ read as 0.
 */
export function gammaWeights(A: Tensor, logRatio: Tensor, M: Tensor, v: VespoSettings): Tensor {
  return noGrad(() => {
    const logW = logRatio.clamp(-20, 20).mul(M).sum(-1, true).clamp(Math.log(1e-8), 20);
    const nonNegative = A.ge(0);
    const k = choose(nonNegative, v.kPos, v.kNeg, A);
    const lambda = choose(nonNegative, v.lambdaPos, v.lambdaNeg, A).clamp(1e-4);
    const logPhi = lambda.add(k.mul(logW)).sub(lambda.mul(logW.exp()));
    return logPhi.exp().nanToNum(0, 0, 0);
  });
}

/**
 * DeepSeek-V3.2's off-policy sequence mask, [B, 1] (or [B, T] for per-token advantages): a
 * completion is dropped (0) when A < 0 and its mean Σ_t M·(log π_old − sg(log π)) / max(Σ_t M, 1)
 * exceeds the threshold; kept (1) otherwise.
 */
export function offPolicyMask(
  A: Tensor,
  logp: Tensor,
  oldLogp: Tensor,
  M: Tensor,
  threshold: number,
): Tensor {
  return noGrad(() => {
    const meanDrift = oldLogp.sub(logp.detach()).mul(M).sum(-1, true).div(M.sum(-1, true).clamp(1));
    return A.ge(0).logicalOr(meanDrift.le(threshold)).to({ dtype: M.dtype });
  });
}

/**
 * The tokens whose entropy is at least the (1 − ρ) quantile of the active tokens' entropies
 * (linear interpolation, as torch.quantile), within the mask; all zero when no token is active.
 */
export function highEntropyMask(entropies: Tensor, M: Tensor, rho: number): Tensor {
  return noGrad(() => {
    const h = entropies.toFloat64Array();
    const m = M.toFloat64Array();
    const active = Array.from(h).filter((_, i) => m[i]! > 0);
    if (active.length === 0) return M.mul(0);
    const threshold = quantile(active, 1 - rho);
    return entropies.detach().mul(M).ge(threshold).logicalAnd(M.gt(0)).to({ dtype: M.dtype });
  });
}

/** torch.quantile's default ("linear"): interpolate between the two nearest order statistics. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (at - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The loss types divided by the active tokens of the whole optimizer step (TRL's num_items_in_batch). */
export const TOKEN_SUM_LOSS_TYPES: readonly LossType[] = ["dapo", "cispo", "vespo"];

export interface Normalisation {
  lossType: LossType;
  /** Padded completion width of dr_grpo's normaliser. */
  maxCompletionLength: number;
  accumulation: number;
  /** Σ M over the whole optimizer step (dapo, cispo, vespo). */
  numItemsInBatch: number;
}

/**
 * Sum of the masked per-token loss L, normalised by loss type:
 *   grpo, sapo          mean_i(Σ_t M·L / max(Σ_t M, 1)) / accumulation
 *   bnpo                Σ M·L / max(Σ M, 1) / accumulation
 *   dr_grpo             Σ M·L / (B · max_completion_length) / accumulation
 *   dapo, cispo, vespo  Σ M·L / num_items_in_batch
 *   luspo               mean_i(L_i · Σ_t M) / accumulation    L [B, 1] (sequence level)
 *                       Σ M·L·Σ_t M / (B·T) / accumulation     L [B, T] (TRL averages over every
 *                       position; padding is left out here instead of adding its log-probs)
 */
export function normalise(perToken: Tensor, M: Tensor, n: Normalisation): Tensor {
  const [B, T] = M.shape as [number, number];
  const masked = perToken.mul(M);
  switch (n.lossType) {
    case "grpo":
    case "sapo":
      return masked.sum(1).div(M.sum(1).clamp(1)).mean().div(n.accumulation);
    case "bnpo":
      return masked.sum().div(M.sum().clamp(1)).div(n.accumulation);
    case "dr_grpo":
      return masked
        .sum()
        .div(B * n.maxCompletionLength)
        .div(n.accumulation);
    case "luspo": {
      const lengths = M.sum(-1, true);
      const weighted =
        perToken.shape[1] === 1
          ? perToken.mul(lengths).mean()
          : masked
              .mul(lengths)
              .sum()
              .div(B * T);
      return weighted.div(n.accumulation);
    }
    default:
      return masked.sum().div(n.numItemsInBatch);
  }
}

/**
 * The entropy bonus H, subtracted as entropy_coef·H: the mean per-token entropy over the tokens the
 * policy term trains on (M times the high-entropy mask when there is one). For the loss types that
 * divide by num_items_in_batch the sum is divided by it too, so that over an optimizer step both
 * kinds add up to the step's mean entropy.
 */
export function entropyBonus(entropies: Tensor, trained: Tensor, n: Normalisation): Tensor {
  const total = entropies.mul(trained).sum();
  if (TOKEN_SUM_LOSS_TYPES.includes(n.lossType)) return total.div(n.numItemsInBatch);
  return total.div(trained.sum().clamp(1)).div(n.accumulation);
}
