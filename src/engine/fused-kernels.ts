// The engine's own fused kernels for bfloat16 on the CPU (AVX-512): for a decode step, a projection
// with its LoRA update in one pass over the weights (native/src/small_linear.cc) and a
// grouped-query attention step that rotates, caches and attends in one call
// (native/src/decode_attention.cc); for the training pass, PEFT's LoRA sum over a bf16 base output
// in one pass, with autograd (native/src/lora_epilogue.cc). Each returns null where it does not
// apply, and the caller runs the operators instead.
import { native } from "./native.js";
import { callKernel, type Tensor } from "./tensor.js";

/**
 * Turns the fused kernels (and the bf16 few-row path of Tensor.linear) on or off for this
 * process; returns the previous setting. Off, everything runs libtorch's operators (the
 * environment variable WORDLE_FUSED_KERNELS=0 starts a process with them off).
 */
export function setFusedKernels(on: boolean): boolean {
  return native.setFusedKernels(on);
}

/** Which fused kernels run here: the CPU's support, and the switch. */
export function fusedKernelSupport(): { linear: boolean; attention: boolean; loraEpilogue: boolean } {
  return native.fusedKernelSupport();
}

/**
 * bf16( f32(bf16(x W^T + bias)) + scale * (f32(x) A^T) B^T ), PEFT's LoRA projection at
 * inference, for bf16 x/W on a CPU with AVX-512 BF16, at most 8 rows, no autograd graph. `a`
 * stacks the parts' A matrices ([parts * r, in] float32), `b` their B matrices ([out, r]
 * float32), and `partSizes` gives each part's output rows (one part for a plain projection;
 * q/k/v or gate/up fused). Returns null where the kernel does not apply: the caller computes the
 * same sum with separate operators.
 */
export function smallLoraLinear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  a: Tensor,
  b: Tensor,
  partSizes: readonly number[],
  scale: number,
): Tensor | null {
  if (x.dtype !== "bfloat16" || x.device !== "cpu") return null;
  return callKernel(() =>
    native.loraSmallLinear(
      x.handle,
      weight.handle,
      bias ? bias.handle : null,
      a.handle,
      b.handle,
      [...partSizes],
      scale,
    ),
  );
}

/**
 * One grouped-query attention decode step: RoPE on the new position's q and k heads, k and v
 * written into the cache buffers at `position`, then softmax(q K^T * scale, masked) V over the
 * position + 1 cached entries. qkv [B, 1, (heads + 2 kvHeads) * D] (q, k, v heads in order), cos and
 * sin [B, 1, 1, D], keys/values [B, kvHeads, capacity, D], visible (the model's attention mask,
 * true = may attend) with last dim position + 1, or null (every position visible). Returns [B, 1, heads * D], or null (nothing written) where the kernel does
 * not apply (not bf16 on an AVX-512 CPU, autograd on, shapes it does not cover).
 */
export function decodeAttention(
  qkv: Tensor,
  angles: { cos: Tensor; sin: Tensor },
  cache: { keys: Tensor; values: Tensor },
  position: number,
  visible: Tensor | null,
  heads: number,
  kvHeads: number,
  scale: number,
): Tensor | null {
  if (qkv.dtype !== "bfloat16" || qkv.device !== "cpu") return null;
  return callKernel(() =>
    native.decodeAttention(
      qkv.handle,
      angles.cos.handle,
      angles.sin.handle,
      cache.keys.handle,
      cache.values.handle,
      position,
      visible ? visible.handle : null,
      heads,
      kvHeads,
      scale,
    ),
  );
}

/**
 * PEFT's LoRA sum over a bf16 base output, bf16(f32(base) + scale * down b^T), in one pass and
 * differentiable in base, down and b: base [T, N] bf16 (its rows may be strided, e.g. a part of a
 * fused projection), down = dropout(f32(x)) A^T [T, r] float32, b [N, r] float32. null where the
 * kernel does not apply (not bf16 on an AVX-512 CPU).
 */
export function loraEpilogue(base: Tensor, down: Tensor, b: Tensor, scale: number): Tensor | null {
  if (base.dtype !== "bfloat16" || base.device !== "cpu") return null;
  return callKernel(() => native.loraEpilogue(base.handle, down.handle, b.handle, scale));
}
