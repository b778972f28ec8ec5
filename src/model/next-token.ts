/**
 * One decode step's choice: the next token of every row from its logits, on the tensor side, so
 * only the picked ids (and, when asked, their log-probs) are copied back to JavaScript.
 */
import { cat, rand, type Tensor } from "../engine/index.js";
import {
  applyRepetitionPenalty,
  processLogits,
  type SamplingSettings,
  topKCandidates,
} from "./logits-processors.js";

/**
 * One draw per row from softmax(scores) [N, C], by inverting the cumulative distribution: one
 * uniform number per row, where torch.multinomial's exponential race draws one per column (the
 * whole vocabulary). The cumulative sum runs in float64 so rounding cannot shift mass between
 * tokens; zero-probability columns are never picked. `lse` is logsumexp(scores) [N, 1].
 * `uniforms` [N, 1] float64 in (0, 1] replace the engine generator's numbers (keyed streams).
 * Returns column positions [N, 1] int64.
 */
export function drawFromScores(scores: Tensor, lse: Tensor, uniforms?: Tensor): Tensor {
  const [n, columns] = scores.shape as [number, number];
  const cdf = scores.sub(lse).exp().cumsum(-1, "float64");
  const total = cdf.narrow(-1, columns - 1, 1);
  // u in (0, total]: the chosen column is the first whose cumulative mass reaches u.
  const unit = uniforms ?? rand([n, 1], { dtype: "float64", device: scores.device }).neg().add(1);
  const u = unit.mul(total);
  return cdf
    .lt(u)
    .sum(-1, true)
    .clamp(null, columns - 1);
}

/**
 * The next token of every row from its logits [N, V] (float32): processors in HF order, then a
 * draw (or the argmax when greedy). With top-k on, the vocabulary is first cut to the top-k
 * candidates, so top-p's sort, min-p and the draw work on k columns. Returns float32 [N, 3]: the
 * id, log softmax(logits / T) at it, and its log-prob under the processed distribution (for
 * greedy: under the penalised logits at T = 1); [N, 1], the ids alone, without `withLogprobs`
 * (no full-vocabulary log-softmax then). `uniforms`: as drawFromScores.
 */
export function pickNextTokens(
  scores: Tensor,
  settings: SamplingSettings,
  seen: Tensor | null,
  greedy: boolean,
  withLogprobs = true,
  uniforms?: Tensor,
): Tensor {
  const temperature = settings.temperature ?? 1;
  let scaledScores: Tensor | null = null;
  const scaled = () => {
    scaledScores ??= temperature === 1 ? scores : scores.div(temperature);
    return scaledScores;
  };
  const penalty = settings.repetitionPenalty ?? 1;
  const penalised = penalty === 1 ? scores : applyRepetitionPenalty(scores, seen as Tensor, penalty);
  const topK = settings.topK ?? 0;
  const rest = { ...settings, topK: 0, repetitionPenalty: 1 };
  let dist: Tensor; // the processed scores of the candidates, [N, C]
  let candidateIds: Tensor | null = null; // their vocabulary ids, [N, C]; null: C is the vocabulary
  if (greedy) {
    dist = penalised;
  } else if (topK > 0 && topK < scores.size(-1)) {
    const top = topKCandidates(penalised, topK);
    dist = processLogits(top.values, rest);
    candidateIds = top.indices;
  } else {
    const warps = (settings.topP ?? 1) < 1 || (settings.minP ?? 0) > 0;
    dist = penalty === 1 && !warps ? scaled() : processLogits(penalised, rest);
  }
  const lse = greedy && !withLogprobs ? null : dist.logsumexp(-1, true);
  const position = greedy ? dist.argmax(-1, true) : drawFromScores(dist, lse as Tensor, uniforms); // [N, 1]
  const ids = candidateIds ? candidateIds.gather(1, position) : position;
  // Ids are exact in float32 (vocabularies are far below 2^24).
  if (!withLogprobs) return ids.float();
  const atT = scaled();
  const scaledLse = dist === atT ? (lse as Tensor) : atT.logsumexp(-1, true);
  const logp = atT.gather(1, ids).sub(scaledLse);
  const sampledLogp = dist === atT ? logp : dist.gather(1, position).sub(lse as Tensor);
  return cat([ids.float(), logp, sampledLogp], 1);
}
