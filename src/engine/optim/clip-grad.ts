// Gradient clipping by global norm, torch.nn.utils.clip_grad_norm_ semantics:
//   total = || (||g_1||, ..., ||g_n||) ||        (the norm of all gradients as one vector)
//   g_i <- g_i * min(1, max_norm / (total + 1e-6))
import { aten } from "../aten.js";
import { stack } from "../create.js";
import { dtypeCode, isFloatingDType } from "../dtype.js";
import { noGrad, scope } from "../scope.js";
import { call, type Tensor } from "../tensor.js";

export interface ClipGradOptions {
  /** p of the p-norm (2 by default; Infinity for the max-norm). */
  normType?: number;
  /** Throw instead of returning a non-finite norm (torch's error_if_nonfinite). */
  errorIfNonfinite?: boolean;
}

/**
 * Clips the parameters' gradients in place and returns the total norm before clipping.
 * Norms are accumulated in float32 (or float64 for float64 grads) so bf16 grads do not lose the
 * sum. When the norm is NaN or infinite the gradients are left untouched (torch would scale them
 * by NaN); callers should then skip the optimiser step.
 */
export function clipGradNorm(
  params: readonly Tensor[],
  maxNorm: number,
  options: ClipGradOptions = {},
): number {
  const normType = options.normType ?? 2;
  return noGrad(() =>
    scope(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const norms = grads.map((g) => {
        const acc = g.dtype === "float64" ? "float64" : "float32";
        if (!isFloatingDType(g.dtype))
          throw new Error(`clipGradNorm: gradient of dtype ${g.dtype} is not floating point`);
        return call(aten.vectorNorm, g.handle, normType, null, false, dtypeCode(acc));
      });
      const total = stack(norms.map((n) => n.to("float64")))
        .norm(normType)
        .item();
      if (!Number.isFinite(total)) {
        if (options.errorIfNonfinite) {
          throw new Error(
            `clipGradNorm: the total norm of the gradients is ${total}; gradients contain NaN or infinity`,
          );
        }
        return total;
      }
      const coef = Math.min(1, maxNorm / (total + 1e-6));
      if (coef < 1) for (const g of grads) g.mul_(coef);
      return total;
    }),
  );
}
