/**
 * Rotary position embeddings with the rotate_half convention of Qwen2/Llama in transformers: the
 * head dim is split into two halves (x1, x2), and the pair (x1[i], x2[i]) is rotated by the angle
 * position * inv_freq[i]:
 *
 *   rope(x) = x * cos + rotate_half(x) * sin,   rotate_half(x) = cat(-x2, x1)
 *
 * where cos/sin repeat the D/2 angles twice to cover the full head dim. Angles are computed in
 * float32 (as transformers does, autocast off) and only then cast to the activation dtype.
 */

import type { Device, DType } from "../engine/dtype.js";
import { cat, tensor } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { type ModelConfig, ropeInverseFrequencies } from "./hf-config.js";

/** inv_freq [headDim/2] as a float32 tensor on `device` (the caller owns it). */
export function ropeInverseFrequencyTensor(config: ModelConfig, device: Device): Tensor {
  return tensor(ropeInverseFrequencies(config), { device });
}

export interface RopeAngles {
  /** [B, 1, S, headDim] in the activation dtype, broadcasting over heads. */
  cos: Tensor;
  sin: Tensor;
}

/** cos/sin for int64 positions [B, S]. */
export function ropeAngles(invFreq: Tensor, positionIds: Tensor, dtype: DType): RopeAngles {
  const freqs = positionIds.float().unsqueeze(-1).mul(invFreq); // [B, S, D/2], float32
  const emb = cat([freqs, freqs], -1); // [B, S, D]
  return { cos: emb.cos().to(dtype).unsqueeze(1), sin: emb.sin().to(dtype).unsqueeze(1) };
}

function rotateHalf(x: Tensor): Tensor {
  const half = x.size(-1) / 2;
  const x1 = x.narrow(-1, 0, half);
  const x2 = x.narrow(-1, half, half);
  return cat([x2.neg(), x1], -1);
}

/** Rotates x [B, heads, S, headDim] by the angles of its positions. */
export function applyRope(x: Tensor, angles: RopeAngles): Tensor {
  return x.mul(angles.cos).add(rotateHalf(x).mul(angles.sin));
}
