/**
 * Per-token log-probabilities (and entropies) of given target tokens, computed chunk by chunk over
 * positions so that float32 logits exist for only `chunkSize` positions at a time (the vocabulary is
 * 151,936 for Qwen: 200 positions of float32 logits are already 120 MB).
 *
 *   logits_t    = lm_head(h_t) / temperature                 (float32)
 *   logprob_t   = logits_t[target_t] - logsumexp(logits_t)
 *   entropy_t   = logsumexp(logits_t) - sum_v softmax(logits_t)_v * logits_t,v
 *
 * `temperature` is the sampling temperature: GRPO scores completions under the distribution they
 * were sampled from, as TRL divides the logits by it. Entropy is for logging and never carries a
 * gradient. Under autograd the logprobs are differentiable, but autograd then keeps every chunk's
 * logits for the backward pass; the trainer's memory-lean path is forwardBackward (checkpointing.ts),
 * which recomputes the head chunk by chunk during the backward pass.
 */
import { cat, noGrad, scope } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import type { CausalLM } from "./transformer.js";

export interface TokenLogProbOptions {
  /** Positions per chunk (default: as many as fit 64 MB of float32 logits, at least 1). */
  chunkSize?: number;
  /** Logits are divided by this before the softmax (default 1). */
  temperature?: number;
  /** Also return per-token entropy (default false). */
  entropy?: boolean;
  /**
   * bool [N, V] (one row per scored token, in the flattened order): true where a token was not
   * allowed when it was generated (constrained decoding). Those logits become -inf before the
   * softmax, so each token is scored under the distribution it was drawn from, and the gradient
   * moves probability only among the allowed tokens.
   */
  blocked?: Tensor;
}

export interface TokenLogProbs {
  /** float32 [B, S]. */
  logprobs: Tensor;
  /** float32 [B, S] (no gradient), or null when not requested. */
  entropy: Tensor | null;
}

/**
 * Logits [N, V] at temperature T, with the tokens `blocked` [N, V] marks at -inf (constrained
 * decoding: the distribution a token was drawn from).
 */
export function headDistributionLogits(logits: Tensor, temperature: number, blocked?: Tensor): Tensor {
  const scaled = temperature === 1 ? logits : logits.div(temperature);
  return blocked ? scaled.maskedFill(blocked, Number.NEGATIVE_INFINITY) : scaled;
}

/**
 * Softmax entropy of logits [N, V] with logsumexp `lse` [N]: H = lse - sum_v p_v logit_v. A blocked
 * token (-inf logit) has p = 0 and adds nothing (its logit is read as 0, not 0 x -inf).
 */
export function softmaxEntropy(logits: Tensor, lse: Tensor, blocked?: Tensor): Tensor {
  const finite = blocked ? logits.maskedFill(blocked, 0) : logits;
  return lse.sub(logits.sub(lse.unsqueeze(-1)).exp().mul(finite).sum(-1));
}

export function defaultChunkSize(vocabSize: number): number {
  return Math.max(1, Math.floor(2 ** 24 / vocabSize));
}

/**
 * Log-probs of `targets` [N] under the head applied to `rows` [N, hidden]. With `normalize` the
 * rows are pre-norm hidden states and the final norm is applied first.
 */
export function headLogProbs(
  model: CausalLM,
  rows: Tensor,
  targets: Tensor,
  options: TokenLogProbOptions & { normalize?: boolean } = {},
): { logprobs: Tensor; entropy: Tensor | null } {
  const n = rows.size(0);
  const chunk = options.chunkSize ?? defaultChunkSize(model.config.vocabSize);
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new Error(`tokenLogProbs: chunkSize must be a positive integer, got ${chunk}`);
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`tokenLogProbs: temperature must be > 0, got ${temperature}`);
  return scope(() => {
    const lps: Tensor[] = [];
    const ents: Tensor[] = [];
    for (let start = 0; start < n; start += chunk) {
      const len = Math.min(chunk, n - start);
      const piece = scope(() => {
        let h = rows.narrow(0, start, len);
        if (options.normalize) h = model.finalNorm(h);
        const blocked = options.blocked?.narrow(0, start, len);
        const logits = headDistributionLogits(model.lmHead(h), temperature, blocked); // [len, V] float32
        const lse = logits.logsumexp(-1);
        const t = targets.narrow(0, start, len).unsqueeze(-1);
        const lp = logits.gather(-1, t).squeeze(-1).sub(lse);
        const ent = options.entropy ? noGrad(() => softmaxEntropy(logits, lse, blocked)) : null;
        return { lp, ent };
      });
      lps.push(piece.lp);
      if (piece.ent) ents.push(piece.ent);
    }
    return {
      logprobs: lps.length === 1 ? (lps[0] as Tensor) : cat(lps, 0),
      entropy: options.entropy ? (ents.length === 1 ? (ents[0] as Tensor) : cat(ents, 0)) : null,
    };
  });
}

/**
 * Log-probs of targets [B, S] (int64) given final hidden states [B, S, hidden] (after the final
 * norm, as forward(..., { hiddenOnly: true }) returns them): out[b, t] = log p(targets[b, t] | h[b, t]).
 * `blocked`, if given, is [B, S, V] here.
 * For next-token log-probs of a sequence, pass hidden[:, :-1] and ids[:, 1:].
 */
export function tokenLogProbs(
  model: CausalLM,
  hidden: Tensor,
  targets: Tensor,
  options: TokenLogProbOptions = {},
): TokenLogProbs {
  if (hidden.ndim !== 3)
    throw new Error(`tokenLogProbs: hidden must be [batch, seq, hidden], got [${hidden.shape}]`);
  const [b, s, h] = hidden.shape as [number, number, number];
  if (targets.ndim !== 2 || targets.size(0) !== b || targets.size(1) !== s)
    throw new Error(`tokenLogProbs: targets must be [${b}, ${s}] like hidden, got [${targets.shape}]`);
  return scope(() => {
    const ids =
      targets.device === hidden.device && targets.dtype === "int64"
        ? targets
        : targets.to({ dtype: "int64", device: hidden.device });
    const blocked = options.blocked?.reshape(b * s, model.config.vocabSize);
    const out = headLogProbs(model, hidden.reshape(b * s, h), ids.reshape(b * s), { ...options, blocked });
    return { logprobs: out.logprobs.view(b, s), entropy: out.entropy ? out.entropy.view(b, s) : null };
  });
}

export interface SequenceLogProbOptions extends TokenLogProbOptions {
  attentionMask?: Tensor;
  positionIds?: Tensor;
  /** int64 [B, K]: scored from positions targetStart .. targetStart + K - 1. */
  targets: Tensor;
  /** Default S - 1 - K: the targets are the last K tokens of inputIds (as in forwardBackward). */
  targetStart?: number;
}

/**
 * Log-probs (and entropies) of `targets` for a batch of sequences under noGrad, with the same
 * target convention as forwardBackward: the "old" and reference policy log-probs of GRPO.
 */
export function sequenceLogProbs(
  model: CausalLM,
  inputIds: Tensor,
  options: SequenceLogProbOptions,
): TokenLogProbs {
  const s = inputIds.size(1);
  const k = options.targets.size(1);
  const start = options.targetStart ?? s - 1 - k;
  if (!Number.isInteger(start) || start < 0 || start + k > s)
    throw new Error(`sequenceLogProbs: positions ${start}..${start + k - 1} are outside a sequence of ${s}`);
  return scope(() =>
    noGrad(() => {
      const hidden = model.forward(inputIds, {
        attentionMask: options.attentionMask,
        positionIds: options.positionIds,
        hiddenOnly: true,
      });
      return tokenLogProbs(model, hidden.narrow(1, start, k), options.targets, options);
    }),
  );
}
