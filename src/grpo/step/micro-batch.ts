/**
 * Tensors of one micro-batch: B completions, each after its prompt, in one rectangle.
 *
 *   column:    0 ........ P-1 | P ........ P+K-1
 *   row b:     pad.. prompt_b | completion_b ..pad
 *
 * Prompts are left-padded to the longest prompt P, completions right-padded to the longest
 * completion K, so every completion starts at column P and the hidden state at column P-1+k
 * predicts completion token k. Padding has attention mask 0; position ids count real tokens only
 * (cumsum(mask) - 1, clamped at 0), as generation saw them.
 *
 * `lossMask` [B, K] is 1 for the completion tokens that count in the loss: real tokens (the EOS or
 * the stop string's last token included, as TRL keeps the first EOS), and with
 * mask_truncated_completions none of a completion that hit max_completion_length.
 */
import type { Device } from "../../engine/dtype.js";
import { type Tensor, tensor } from "../../engine/index.js";
import type { TokenFilter } from "../../model/sampler.js";
import { blockedMask } from "../../model/token-filter.js";
import type { LossRow } from "./loss-rows.js";

export interface MicroBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  positionIds: Tensor;
  /** int64 [B, K]: the completion tokens (pad beyond each completion). */
  targets: Tensor;
  /** float32 [B, K]: real completion tokens (padding 0). */
  tokenMask: Tensor;
  /** float32 [B, K]: tokens that count in the loss. */
  lossMask: Tensor;
  promptWidth: number;
  completionWidth: number;
}

export function buildMicroBatch(
  prompts: readonly (readonly number[])[],
  completions: readonly (readonly number[])[],
  truncated: readonly boolean[],
  padId: number,
  device: Device,
  maskTruncated: boolean,
): MicroBatch {
  const B = completions.length;
  if (B === 0 || prompts.length !== B)
    throw new Error(`micro-batch: ${prompts.length} prompts for ${B} completions`);
  const P = Math.max(...prompts.map((p) => p.length));
  const K = Math.max(1, ...completions.map((c) => c.length));
  const S = P + K;
  const ids: number[] = [];
  const mask: number[] = [];
  const positions: number[] = [];
  const targets: number[] = [];
  const tokenMask: number[] = [];
  const lossMask: number[] = [];
  for (let b = 0; b < B; b++) {
    const prompt = prompts[b];
    const completion = completions[b];
    const lead = P - prompt.length;
    let position = 0;
    for (let col = 0; col < S; col++) {
      let id = padId;
      let real = false;
      if (col >= lead && col < P) {
        id = prompt[col - lead];
        real = true;
      } else if (col >= P && col - P < completion.length) {
        id = completion[col - P];
        real = true;
      }
      ids.push(id);
      mask.push(real ? 1 : 0);
      positions.push(real ? position++ : Math.max(0, position - 1));
    }
    const counts = !(maskTruncated && truncated[b]);
    for (let k = 0; k < K; k++) {
      const real = k < completion.length;
      targets.push(real ? completion[k] : padId);
      tokenMask.push(real ? 1 : 0);
      lossMask.push(real && counts ? 1 : 0);
    }
  }
  const shape = [B, S];
  return {
    inputIds: tensor(ids, { dtype: "int64", device, shape }),
    attentionMask: tensor(mask, { dtype: "int64", device, shape }),
    positionIds: tensor(positions, { dtype: "int64", device, shape }),
    targets: tensor(targets, { dtype: "int64", device, shape: [B, K] }),
    tokenMask: tensor(tokenMask, { dtype: "float32", device, shape: [B, K] }),
    lossMask: tensor(lossMask, { dtype: "float32", device, shape: [B, K] }),
    promptWidth: P,
    completionWidth: K,
  };
}

/** Per-token values (one array per completion) as a zero-padded float32 [B, K] tensor. */
export function paddedValues(rows: readonly (readonly number[])[], width: number, device: Device): Tensor {
  const flat: number[] = [];
  for (const row of rows) for (let k = 0; k < width; k++) flat.push(k < row.length ? row[k] : 0);
  return tensor(flat, { dtype: "float32", device, shape: [rows.length, width] });
}

/** A micro-batch of loss rows (loss-rows.ts) with per-position advantages and π_old / π_ref. */
export interface LossMicroBatch extends MicroBatch {
  /** float32 [B, K]: each scored position's advantage (0 elsewhere). */
  advantages: Tensor;
  oldLogps: Tensor;
  refLogps: Tensor;
  /**
   * bool [B, K, V]: the tokens each position's filter did not allow (constrained decoding), so the
   * loss scores tokens under the distribution they were drawn from; null when no token had one.
   */
  blocked: Tensor | null;
}

/**
 * bool [B, K, V]: the tokens each position's filter did not allow (one filter list per row, null
 * or missing: unconstrained), or null when no position has a filter.
 */
export function blockedTokens(
  filters: readonly (readonly (TokenFilter | null)[] | undefined)[],
  width: number,
  vocabSize: number,
  device: Device,
): Tensor | null {
  const positions = filters.flatMap((row) => Array.from({ length: width }, (_, k) => row?.[k] ?? null));
  const blocked = blockedMask(positions, vocabSize);
  if (blocked === null) return null;
  return tensor(blocked, { dtype: "bool", device, shape: [filters.length, width, vocabSize] });
}

export function buildLossMicroBatch(
  rows: readonly LossRow[],
  padId: number,
  device: Device,
  vocabSize: number,
): LossMicroBatch {
  const mb = buildMicroBatch(
    rows.map((r) => r.prompt),
    rows.map((r) => r.completion),
    rows.map(() => false),
    padId,
    device,
    false,
  );
  const K = mb.completionWidth;
  const grid = (pick: (r: LossRow) => readonly number[]) =>
    paddedValues(
      rows.map((r) => pick(r)),
      K,
      device,
    );
  return {
    ...mb,
    tokenMask: grid((r) => r.scored),
    lossMask: grid((r) => r.lossMask),
    advantages: grid((r) => r.advantage),
    oldLogps: grid((r) => r.oldLogps),
    refLogps: grid((r) => r.refLogps),
    blocked: blockedTokens(
      rows.map((r) => r.filters),
      K,
      vocabSize,
      device,
    ),
  };
}
