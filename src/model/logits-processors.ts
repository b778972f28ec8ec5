/**
 * Logits processors: turn the model's next-token logits into the distribution the sampler draws
 * from. Same semantics and order as Hugging Face transformers' `generate`:
 *
 *   repetition penalty -> temperature -> top-k -> top-p -> min-p
 *
 * (the penalty is a "processor", applied in greedy decoding too; the other four are "warpers",
 * applied only when sampling). Every function works on a batch `scores` [B, V] of float logits on
 * any device and returns a new tensor; removed tokens get -Infinity, so a later softmax gives them
 * probability 0. No values are copied to JavaScript.
 */
import { type Tensor, type ValuesIndices, where } from "../engine/index.js";

export interface SamplingSettings {
  /** Divide logits by this (> 0). 1 = off. */
  temperature?: number;
  /** Keep the k highest logits (ties with the k-th kept, as HF). 0 = off. */
  topK?: number;
  /** Nucleus: keep the smallest set of top tokens whose probability reaches p (at least one). 1 = off. */
  topP?: number;
  /** Drop tokens whose probability is below minP x the top token's probability. 0 = off. */
  minP?: number;
  /** CTRL-style penalty (> 0) on tokens already in the prompt or the completion. 1 = off. */
  repetitionPenalty?: number;
}

/** Just the sampling settings of a larger options object (so they can be passed on whole). */
export function samplingSettingsOf(options: SamplingSettings): SamplingSettings {
  const { temperature, topK, topP, minP, repetitionPenalty } = options;
  return { temperature, topK, topP, minP, repetitionPenalty };
}

/** Throws a message naming the setting when a value is outside what HF accepts. */
export function validateSamplingSettings(settings: SamplingSettings): void {
  const { temperature, topK, topP, minP, repetitionPenalty } = settings;
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature > 0))
    throw new Error(`temperature must be a number > 0 (got ${temperature}); use greedy decoding for argmax`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0))
    throw new Error(`topK must be an integer >= 0, 0 meaning off (got ${topK})`);
  if (topP !== undefined && !(topP > 0 && topP <= 1))
    throw new Error(`topP must be in (0, 1], 1 meaning off (got ${topP})`);
  if (minP !== undefined && !(minP >= 0 && minP <= 1))
    throw new Error(`minP must be in [0, 1], 0 meaning off (got ${minP})`);
  if (repetitionPenalty !== undefined && !(Number.isFinite(repetitionPenalty) && repetitionPenalty > 0))
    throw new Error(`repetitionPenalty must be a number > 0, 1 meaning off (got ${repetitionPenalty})`);
}

/**
 * HF RepetitionPenaltyLogitsProcessor: for every token already seen in the row, a positive logit
 * is divided by `penalty` and a negative one multiplied by it, so with penalty > 1 a seen token
 * always becomes less likely. `seen` is a bool mask [B, V] (see the sampler, which keeps it up to
 * date with one scatter per step instead of re-reading the whole sequence).
 */
export function applyRepetitionPenalty(scores: Tensor, seen: Tensor, penalty: number): Tensor {
  if (penalty === 1) return scores;
  const penalised = where(scores.lt(0), scores.mul(penalty), scores.div(penalty));
  return where(seen, penalised, scores);
}

/** HF TemperatureLogitsWarper: logits / T (T < 1 sharpens, T > 1 flattens). */
export function applyTemperature(scores: Tensor, temperature: number): Tensor {
  if (temperature === 1) return scores;
  return scores.div(temperature);
}

/**
 * HF TopKLogitsWarper: every logit strictly below the k-th largest becomes -inf. Tokens tied with
 * the k-th value survive, so more than k may remain (exactly what transformers does).
 */
export function applyTopK(scores: Tensor, k: number): Tensor {
  const vocab = scores.size(-1);
  if (k <= 0 || k >= vocab) return scores;
  const kth = scores.topk(k, -1).values.narrow(-1, k - 1, 1); // [B, 1]
  return scores.maskedFill(scores.lt(kth), Number.NEGATIVE_INFINITY);
}

/**
 * The top-k filter as a candidate set: the k highest logits, plus any tied with the k-th (as
 * applyTopK keeps them), with their vocabulary ids: [B, C] in descending order, C >= k. Where a
 * row has fewer ties than the widest row, its extra columns are -inf. Sampling from these columns
 * is sampling from applyTopK's output, but later processors (top-p's sort, min-p) and the draw
 * then touch C columns instead of the whole vocabulary. Needs 0 < k < V.
 */
export function topKCandidates(scores: Tensor, k: number): ValuesIndices {
  const vocab = scores.size(-1);
  if (!(Number.isInteger(k) && k > 0 && k < vocab))
    throw new Error(`topKCandidates: k must be an integer in [1, ${vocab}), got ${k}`);
  let top = scores.topk(k + 1, -1);
  const kth = top.values.narrow(-1, k - 1, 1); // [B, 1]
  let width = k;
  // Ties across the k-th place are rare but real with bf16 logits: count them exactly.
  if (top.values.narrow(-1, k, 1).eq(kth).any().item() !== 0) {
    width = scores.ge(kth).sum(-1).max().item();
    top = scores.topk(width, -1);
  }
  const values = top.values.narrow(-1, 0, width);
  return {
    values: values.maskedFill(values.lt(kth), Number.NEGATIVE_INFINITY),
    indices: top.indices.narrow(-1, 0, width),
  };
}

/**
 * HF TopPLogitsWarper (nucleus): sort ascending, and drop the low tokens whose cumulative
 * probability is <= 1 - p. What is left is the smallest top set with probability >= p; the most
 * likely token is always kept.
 */
export function applyTopP(scores: Tensor, topP: number): Tensor {
  if (topP >= 1) return scores;
  const { values, indices } = scores.sort(-1, false); // ascending
  const cumulative = values.softmax(-1).cumsum(-1);
  const removeSorted = cumulative.le(1 - topP);
  // The largest entry (last in ascending order) is always kept, even when rounding puts its
  // cumulative sum <= 1 - p. narrow() is a view, so this writes into removeSorted.
  removeSorted.narrow(-1, scores.size(-1) - 1, 1).fill_(0);
  // Back from sorted order to vocabulary order (indices is a permutation of every row).
  const remove = removeSorted.scatter(-1, indices, removeSorted);
  return scores.maskedFill(remove, Number.NEGATIVE_INFINITY);
}

/**
 * HF MinPLogitsWarper: keep tokens whose probability is at least minP times the top token's.
 * The top token always passes (its probability equals the maximum), so at least one remains.
 */
export function applyMinP(scores: Tensor, minP: number): Tensor {
  if (minP <= 0) return scores;
  const probs = scores.softmax(-1);
  const threshold = probs.amax(-1, true).mul(minP);
  return scores.maskedFill(probs.lt(threshold), Number.NEGATIVE_INFINITY);
}

/**
 * All processors in HF order. `greedy` applies only the repetition penalty (HF does not warp when
 * it takes the argmax; temperature, top-k, top-p and min-p cannot change the argmax anyway).
 * `seen` is required when repetitionPenalty != 1.
 */
export function processLogits(
  scores: Tensor,
  settings: SamplingSettings,
  options: { seen?: Tensor; greedy?: boolean } = {},
): Tensor {
  let out = scores;
  const penalty = settings.repetitionPenalty ?? 1;
  if (penalty !== 1) {
    if (!options.seen) throw new Error("processLogits: repetitionPenalty needs the `seen` token mask");
    out = applyRepetitionPenalty(out, options.seen, penalty);
  }
  if (options.greedy) return out;
  out = applyTemperature(out, settings.temperature ?? 1);
  out = applyTopK(out, settings.topK ?? 0);
  out = applyTopP(out, settings.topP ?? 1);
  out = applyMinP(out, settings.minP ?? 0);
  return out;
}
