import { noGrad, scope, type Tensor, tensor } from "../../engine/index.js";
import type { ImportanceSamplingLevel, LossType } from "../config/schema.js";
import {
  CLIPPED_LOSS_TYPES,
  entropyBonus,
  highEntropyMask,
  importanceRatio,
  type Normalisation,
  normalise,
  offPolicyMask,
  surrogate,
  type VespoSettings,
} from "./loss-variants.js";

/**
 * The GRPO loss family, as TRL's GRPOTrainer `_compute_loss` computes it. Per completion i and
 * completion token t, with ℓ = log π − log π_old:
 *
 *   r        = exp(ℓ_t)  (token)  or  exp(Σ_t M·ℓ / Σ_t M)  (sequence, GSPO)      importance ratio
 *   S        = the loss type's surrogate of r, A and log π (loss-variants.ts: surrogate)
 *   L_t      = S · keep_i · E_t + β · k3_t · (r if use_bias_correction_kl)
 *     keep_i = 0 if A_i < 0 and mean_t(log π_old − log π) > off_policy_mask_threshold, else 1
 *     E_t    = 1 if H_t >= quantile_{1−ρ}(H over active tokens), else 0   (top_entropy_quantile ρ)
 *     k3_t   = exp(log π_ref − log π) − (log π_ref − log π) − 1           KL(π ‖ π_ref) estimate
 *   loss     = normalise(L, M) − entropy_coef · mean_t(H over M·E)     (loss-variants.ts: normalise)
 *
 * Gradient accumulation: the mean-type losses (grpo, sapo, bnpo, dr_grpo, luspo) are divided by the
 * number of accumulation steps; dapo, cispo and vespo divide every micro-batch by the active-token
 * count of the WHOLE generation batch (TRL's `num_items_in_batch`), so the step's gradient is an
 * exact token mean over all micro-batches and there is nothing more to divide by.
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
  /**
   * Policy entropy at each position, [B, T]; required by top_entropy_quantile < 1 and by the
   * entropy bonus (whose gradient flows only if these carry one).
   */
  entropies?: Tensor;
}

export interface GrpoLossSettings {
  lossType: LossType;
  beta: number;
  /** ε_low: the ratio is clipped below at 1 − epsilon. */
  epsilon: number;
  /** ε_high: the ratio is clipped above at 1 + epsilonHigh (TRL: defaults to epsilon); cispo's cap. */
  epsilonHigh?: number;
  /** dr_grpo's constant normaliser. */
  maxCompletionLength: number;
  /** Micro-batches per optimizer step (the mean-type losses divide by it). Default 1. */
  gradientAccumulationSteps?: number;
  /** dapo/cispo/vespo: Σ M over every micro-batch of this optimizer step. Default: this micro-batch's Σ M. */
  numItemsInBatch?: number;
  /** Default "token". */
  importanceSamplingLevel?: ImportanceSamplingLevel;
  /** Two-sided clipping's cap on the unclipped ratio; null/absent: off. */
  delta?: number | null;
  useBiasCorrectionKl?: boolean;
  offPolicyMaskThreshold?: number | null;
  /** ρ; absent or 1: every token trains. */
  topEntropyQuantile?: number;
  /** Absent or 0: no entropy bonus. */
  entropyCoef?: number;
  /** sapo's gate temperatures (required for sapo). */
  sapoTemperaturePos?: number;
  sapoTemperatureNeg?: number;
  /** vespo's gamma weight parameters (required for vespo). */
  vespo?: VespoSettings;
}

/**
 * Monitoring values under TRL's names; detached numbers. Token means over active tokens, or
 * means over completions where the value is one per completion (sequence-level ratios).
 */
export interface GrpoLossMetrics {
  /** Mean k3 KL to the reference (times r with use_bias_correction_kl); null when beta = 0. */
  kl: number | null;
  /** Clipped family: fraction with r < 1 − ε_low and A < 0 (the clip binds from below). */
  "clip_ratio/low_mean"?: number;
  /** Clipped family: fraction with r > 1 + ε_high and A > 0 (the clip binds from above). */
  "clip_ratio/high_mean"?: number;
  /** Clipped family: either of the two. */
  "clip_ratio/region_mean"?: number;
  /** Clipped family: the lowest per-completion low-clip fraction. */
  "clip_ratio/low_min"?: number;
  /** Clipped family: the highest per-completion high-clip fraction. */
  "clip_ratio/high_max"?: number;
  /** cispo: fraction with r > ε_high and A > 0 (the weight is capped). */
  cispo_clip_ratio?: number;
  /** vespo: mean gamma weight φ. */
  "vespo/phi_seq_mean"?: number;
  /** With an entropy bonus: the loss before the bonus is subtracted. */
  policy_loss?: number;
}

export interface GrpoLossResult {
  /** Scalar loss to call backward() on. */
  loss: Tensor;
  metrics: GrpoLossMetrics;
}

export function grpoLoss(inputs: GrpoLossInputs, settings: GrpoLossSettings): GrpoLossResult {
  checkInputs(inputs, settings);
  const { lossType, beta, epsilon } = settings;
  const epsilonHigh = settings.epsilonHigh ?? epsilon;
  const rho = settings.topEntropyQuantile ?? 1;
  const entropyCoef = settings.entropyCoef ?? 0;

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
    const oldLogp = inputs.oldLogps?.to(like) ?? logp.detach();
    const H = inputs.entropies?.to(like);
    const n: Normalisation = {
      lossType,
      maxCompletionLength: settings.maxCompletionLength,
      accumulation: settings.gradientAccumulationSteps ?? 1,
      numItemsInBatch: settings.numItemsInBatch ?? M.sum().clamp(1).item(),
    };

    const logRatio = logp.sub(oldLogp);
    const r = importanceRatio(logRatio, M, settings.importanceSamplingLevel ?? "token");
    const policy = surrogate(r, A, logp, logRatio, M, {
      lossType,
      epsilon,
      epsilonHigh,
      delta: settings.delta ?? null,
      sapoTemperaturePos: settings.sapoTemperaturePos,
      sapoTemperatureNeg: settings.sapoTemperatureNeg,
      vespo: settings.vespo,
    });
    let perToken = policy.perToken;
    const threshold = settings.offPolicyMaskThreshold ?? null;
    if (threshold !== null) perToken = perToken.mul(offPolicyMask(A, logp, oldLogp, M, threshold));
    const E = rho < 1 ? highEntropyMask(H!, M, rho) : null;
    if (E !== null) perToken = perToken.mul(E);

    let kl: Tensor | undefined;
    if (beta !== 0) {
      // k3 estimate of KL(π ‖ π_ref): e^d − d − 1 with d = log π_ref − log π (never negative).
      const d = inputs.refLogps!.to(like).sub(logp);
      kl = d.exp().sub(d).sub(1);
      if (settings.useBiasCorrectionKl) kl = kl.mul(r);
      perToken = perToken.add(kl.mul(beta));
    }

    const policyLoss = normalise(perToken, M, n);
    const loss =
      entropyCoef === 0 ? policyLoss : policyLoss.sub(entropyBonus(H!, E ?? M, n).mul(entropyCoef));

    const metrics = noGrad(() => {
      // One value per token (masked mean) or per completion (plain mean), as TRL's global_masked_mean.
      const meanOf = (x: Tensor) => {
        const v = x.to(like);
        return v.shape[1] === 1 ? v.mean().item() : v.mul(M).sum().div(M.sum().clamp(1)).item();
      };
      const out: GrpoLossMetrics = { kl: kl === undefined ? null : meanOf(kl) };
      const ratio = policy.ratioForMetrics;
      if (CLIPPED_LOSS_TYPES.includes(lossType)) {
        const low = ratio.lt(1 - epsilon).logicalAnd(A.lt(0));
        const high = ratio.gt(1 + epsilonHigh).logicalAnd(A.gt(0));
        out["clip_ratio/low_mean"] = meanOf(low);
        out["clip_ratio/high_mean"] = meanOf(high);
        out["clip_ratio/region_mean"] = meanOf(low.logicalOr(high));
        out["clip_ratio/low_min"] = extremeOverCompletions(low.to(like), M, Math.min);
        out["clip_ratio/high_max"] = extremeOverCompletions(high.to(like), M, Math.max);
      } else if (lossType === "cispo") {
        out.cispo_clip_ratio = meanOf(ratio.gt(epsilonHigh).logicalAnd(A.gt(0)));
      } else if (lossType === "vespo") {
        out["vespo/phi_seq_mean"] = meanOf(policy.phi!);
      }
      if (entropyCoef !== 0) out.policy_loss = policyLoss.item();
      return out;
    });
    return { loss, metrics };
  });
}

/**
 * min or max over completions of a per-completion mean (TRL's masked_seq_mean, then nanmin or
 * nanmax): completions without active tokens have no mean and are skipped; NaN if none has one.
 */
function extremeOverCompletions(x: Tensor, M: Tensor, pick: (...xs: number[]) => number): number {
  const perCompletion = x.shape[1] === 1 ? x.squeeze(1) : x.mul(M).sum(-1).div(M.sum(-1));
  const values = perCompletion.toArray().filter((v) => Number.isFinite(v));
  return values.length === 0 ? Number.NaN : pick(...values);
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
  const needsEntropy = (s.topEntropyQuantile ?? 1) < 1 || (s.entropyCoef ?? 0) !== 0;
  if (needsEntropy) {
    if (inputs.entropies === undefined)
      throw new Error("grpoLoss: top_entropy_quantile < 1 and entropy_coef need the per-token entropies");
    same("entropies", inputs.entropies);
  }
  if (s.lossType === "sapo" && (s.sapoTemperaturePos === undefined || s.sapoTemperatureNeg === undefined))
    throw new Error("grpoLoss: sapo needs sapoTemperaturePos and sapoTemperatureNeg");
  if (s.lossType === "vespo" && s.vespo === undefined) throw new Error("grpoLoss: vespo needs its k and λ");
}
