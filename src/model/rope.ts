/**
 * Rotary position embeddings with the rotate_half convention of Qwen2/Llama in transformers: the
 * head dim is split into two halves (x1, x2), and the pair (x1[i], x2[i]) is rotated by the angle
 * position * inv_freq[i]:
 *
 *   rope(x) = x * cos + rotate_half(x) * sin,   rotate_half(x) = cat(-x2, x1) = x R
 *
 * where cos/sin repeat the D/2 angles twice to cover the full head dim, and R is the signed
 * permutation matrix that maps x to cat(-x2, x1): one matmul instead of two slices, a negation and
 * a concatenation, and exact (each output is one input times +-1). Angles are computed in float32
 * (as transformers does, autocast off) and only then cast to the activation dtype.
 */

import type { Device, DType } from "../engine/dtype.js";
import { cat, tensor } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { type ModelConfig, ropeInverseFrequencies } from "./hf-config.js";

/** inv_freq [headDim/2] as a float32 tensor on `device` (the caller owns it). */
export function ropeInverseFrequencyTensor(config: ModelConfig, device: Device): Tensor {
  return tensor(ropeInverseFrequencies(config), { device });
}

/** R [D, D] with x R = cat(-x2, x1) (the caller owns it). */
export function rotateHalfMatrix(headDim: number, dtype: DType, device: Device): Tensor {
  const half = headDim / 2;
  const values = new Array<number>(headDim * headDim).fill(0);
  for (let i = 0; i < half; i++) {
    values[(i + half) * headDim + i] = -1; // output i takes -x2[i]
    values[i * headDim + i + half] = 1; // output half + i takes x1[i]
  }
  return tensor(values, { dtype, device, shape: [headDim, headDim] });
}

export interface RopeAngles {
  /** [B, S, 1, headDim] in the activation dtype, broadcasting over the heads of [B, S, heads, D]. */
  cos: Tensor;
  sin: Tensor;
  /** rotateHalfMatrix for the activation dtype. */
  rotate: Tensor;
}

/** cos/sin for int64 positions [B, S]. */
export function ropeAngles(invFreq: Tensor, positionIds: Tensor, rotate: Tensor): RopeAngles {
  const freqs = positionIds.float().unsqueeze(-1).mul(invFreq); // [B, S, D/2], float32
  const emb = cat([freqs, freqs], -1).unsqueeze(2); // [B, S, 1, D]
  return { cos: emb.cos().to(rotate.dtype), sin: emb.sin().to(rotate.dtype), rotate };
}

/** Rotates x [B, S, heads, headDim] by the angles of its positions. */
export function applyRope(x: Tensor, angles: RopeAngles): Tensor {
  return x.mul(angles.cos).add(x.matmul(angles.rotate).mul(angles.sin));
}
