/**
 * RMSNorm as Qwen2/Llama compute it: normalise in float32 by the root mean square over the hidden
 * dim, cast back to the input dtype, then multiply by the weight. The order matters for bf16:
 * transformers multiplies `weight * hidden.to(input_dtype)`, so the product is rounded in the
 * weight's dtype, not in float32.
 */
import type { Tensor } from "../engine/tensor.js";

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const wide = x.dtype !== "float32";
  const x32 = wide ? x.float() : x;
  const variance = x32.square().mean(-1, true);
  const normed = x32.mul(variance.add(eps).rsqrt());
  return weight.mul(wide ? normed.to(x.dtype) : normed);
}
