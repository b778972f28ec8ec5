/**
 * Grouped-query self-attention of Qwen2/Llama, with causal + padding masks and an optional KV cache.
 *
 *   q = x Wq^T (+bq), k = x Wk^T (+bk), v = x Wv^T (+bv)      (each head headDim wide)
 *   q, k <- rope(q), rope(k)
 *   out  = softmax(q k^T / sqrt(headDim) + mask) v,  then o_proj
 *
 * Grouped-query heads: query head h reads key/value head h / (heads / kvHeads). Instead of copying
 * K and V for every query head (transformers' repeat_kv), the query heads of one group are stacked
 * along the sequence dim, [B, kvHeads, group * S, D], and attend to their shared K/V directly: the
 * same dot products, without materialising repeated K/V (which matters when decoding from a cache).
 *
 * Masking: key j is visible to query i when j <= i (causal, in absolute positions) and key j is not
 * padding. Masked scores get the dtype's most negative finite value (torch.finfo(dtype).min, as
 * transformers uses) and the softmax runs in float32. A query that is itself padding would see no
 * key at all; it is allowed to see every key instead, so its row stays finite (its output is
 * meaningless and ignored, as in transformers).
 */
import type { Device, DType } from "../engine/dtype.js";
import {
  arange,
  decodeAttention,
  hasFusedAttention,
  isGradEnabled,
  scaledDotProductAttention,
} from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { fusedLoraLinears } from "./fused-projections.js";
import type { ModelConfig } from "./hf-config.js";
import type { KVCache } from "./kv-cache.js";
import { type LayerLora, loraLinear, loraLinears } from "./lora.js";
import { applyRope, type RopeAngles } from "./rope.js";
import type { DecoderLayerWeights } from "./weights.js";

/** torch.finfo(dtype).min for the float dtypes activations can have. */
export function finfoMin(dtype: DType): number {
  switch (dtype) {
    case "float32":
      return -3.4028234663852886e38;
    case "bfloat16":
      return -3.3895313892515355e38;
    case "float16":
      return -65504;
    case "float64":
      return -Number.MAX_VALUE;
    default:
      throw new Error(`attention: no finite minimum for dtype ${dtype}`);
  }
}

/**
 * The boolean visibility mask [B or 1, 1, S, pastLength + S] (true = may attend), or null when
 * every key is visible (one new token and no padding mask).
 *
 * @param attentionMask int64/bool [B, pastLength + S], 1 for real tokens, or undefined.
 */
export function buildAttentionMask(
  attentionMask: Tensor | undefined,
  seqLength: number,
  pastLength: number,
  device: Device,
): Tensor | null {
  const total = pastLength + seqLength;
  if (attentionMask === undefined && seqLength === 1) return null;
  const keyPos = arange(total, { device }).unsqueeze(0); // [1, T]
  const queryPos = arange(pastLength, total, 1, { device }).unsqueeze(1); // [S, 1]
  let visible = keyPos.le(queryPos).unsqueeze(0); // [1, S, T]
  if (attentionMask !== undefined) {
    const real = attentionMask.ne(0); // [B, T]
    visible = visible.logicalAnd(real.unsqueeze(1)); // [B, S, T]
    const paddedQuery = real.narrow(1, pastLength, seqLength).logicalNot().unsqueeze(2); // [B, S, 1]
    visible = visible.logicalOr(paddedQuery);
  }
  return visible.unsqueeze(1);
}

export interface AttentionContext {
  angles: RopeAngles;
  /** From buildAttentionMask. */
  mask: Tensor | null;
  /** Its complement shaped for the grouped scores, [B|1, 1, 1, S, T] (true = masked out), or null. */
  hidden: Tensor | null;
  cache: KVCache | undefined;
  training: boolean;
}

/** The q/k/v projections, side by side in one tensor where the weights are fused. */
function projectQkv(
  x: Tensor,
  w: DecoderLayerWeights,
  lora: LayerLora | null,
  ctx: AttentionContext,
): { whole: Tensor | null; parts: Tensor[] } {
  const loras = [lora?.q_proj, lora?.k_proj, lora?.v_proj];
  return w.fused
    ? fusedLoraLinears(x, w.fused.qkv, loras, ctx.training)
    : { whole: null, parts: loraLinears(x, [w.qProj, w.kProj, w.vProj], loras, ctx.training) };
}

/**
 * A one-token step from a KV cache by the engine's decode kernel (bf16 on AVX-512 CPUs, no
 * autograd): RoPE, the cache write and the attention in one call. null where it does not apply.
 */
function decodeStep(
  qkv: Tensor | null,
  layerIndex: number,
  config: ModelConfig,
  ctx: AttentionContext,
): Tensor | null {
  const cache = ctx.cache;
  if (!qkv || !cache || qkv.size(1) !== 1 || ctx.training || isGradEnabled()) return null;
  const buffers = cache.buffers(layerIndex, 1, qkv);
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const scale = 1 / Math.sqrt(headDim);
  return decodeAttention(qkv, ctx.angles, buffers, cache.length, ctx.mask, heads, kvHeads, scale);
}

/** q, k and v of every position, [B, S, heads (kvHeads), D], q and k rotated. */
function rotateQkv(
  x: Tensor,
  projected: { whole: Tensor | null; parts: Tensor[] },
  config: ModelConfig,
  ctx: AttentionContext,
): { q: Tensor; k: Tensor; v: Tensor } {
  const [b, s] = x.shape as [number, number];
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const { whole, parts } = projected;
  if (whole) {
    // One [B, S, heads + 2 kvHeads, D] tensor: the q and k heads are rotated in one pass.
    const all = whole.view(b, s, heads + 2 * kvHeads, headDim);
    const qk = applyRope(all.narrow(2, 0, heads + kvHeads), ctx.angles);
    return {
      q: qk.narrow(2, 0, heads),
      k: qk.narrow(2, heads, kvHeads),
      v: all.narrow(2, heads + kvHeads, kvHeads),
    };
  }
  const [q, k, v] = parts as [Tensor, Tensor, Tensor];
  return {
    q: applyRope(q.view(b, s, heads, headDim), ctx.angles),
    k: applyRope(k.view(b, s, kvHeads, headDim), ctx.angles),
    v: v.view(b, s, kvHeads, headDim),
  };
}

export function selfAttention(
  x: Tensor,
  layerIndex: number,
  w: DecoderLayerWeights,
  lora: LayerLora | null,
  config: ModelConfig,
  ctx: AttentionContext,
): Tensor {
  const [b, s] = x.shape as [number, number];
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const group = heads / kvHeads;

  const qkv = projectQkv(x, w, lora, ctx);
  const decoded = decodeStep(qkv.whole, layerIndex, config, ctx);
  if (decoded) return loraLinear(decoded, w.oProj, lora?.o_proj, ctx.training);
  const projected = rotateQkv(x, qkv, config, ctx);
  // [B, S, heads, D] -> [B, heads, S, D] (views).
  const q = projected.q.transpose(1, 2);
  let k = projected.k.transpose(1, 2);
  let v = projected.v.transpose(1, 2);
  if (ctx.cache) ({ keys: k, values: v } = ctx.cache.append(layerIndex, k, v));
  const total = k.size(2);

  // [B, heads, S, D] -> [B, kvHeads, group * S, D]: query heads of one group share K/V.
  const qGrouped = q.reshape(b, kvHeads, group * s, headDim);
  const scale = 1 / Math.sqrt(headDim);
  let out: Tensor;
  if (hasFusedAttention()) {
    const attnMask =
      ctx.mask === null
        ? undefined
        : ctx.mask
            .unsqueeze(2)
            .expand(ctx.mask.size(0), 1, group, s, total)
            .reshape(ctx.mask.size(0), 1, group * s, total);
    out = scaledDotProductAttention(qGrouped, k, v, { attnMask, scale });
  } else {
    let scores = qGrouped.matmul(k.transpose(-2, -1)).mul(scale); // [B, kvHeads, group * S, T]
    if (ctx.hidden !== null) {
      scores = scores
        .view(b, kvHeads, group, s, total)
        .maskedFill(ctx.hidden, finfoMin(scores.dtype))
        .view(b, kvHeads, group * s, total);
    }
    const probs32 = scores.softmax(-1, "float32");
    const probs = q.dtype === "float32" ? probs32 : probs32.to(q.dtype);
    out = probs.matmul(v); // [B, kvHeads, group * S, D]
  }
  const merged = out
    .reshape(b, heads, s, headDim)
    .transpose(1, 2)
    .reshape(b, s, heads * headDim);
  return loraLinear(merged, w.oProj, lora?.o_proj, ctx.training);
}
