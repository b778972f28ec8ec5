// Autograd entry points beyond Tensor.backward(): several roots at once, and torch.autograd.grad.

import { native } from "./native.js";
import { enterOp } from "./scope.js";
import { adoptHandle, type BackwardOptions, type Tensor } from "./tensor.js";

/**
 * Backpropagates from several outputs at once, each with its incoming gradient (null for a
 * one-element output), accumulating into leaves' .grad (torch.autograd.backward). Gradient
 * checkpointing uses it to push a block's output gradient through the recomputed block.
 */
export function backward(
  outputs: readonly Tensor[],
  grads: readonly (Tensor | null)[] | null = null,
  options: BackwardOptions = {},
): void {
  enterOp();
  native.backward(
    outputs.map((t) => t.handle),
    grads === null ? null : grads.map((g) => (g === null ? null : g.handle)),
    options.retainGraph ?? false,
    options.createGraph ?? false,
  );
}

/**
 * Gradients of outputs with respect to inputs, returned instead of accumulated (torch.autograd.grad).
 * With allowUnused, inputs that outputs do not depend on get null.
 */
export function grad(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  options: BackwardOptions & { gradOutputs?: readonly (Tensor | null)[]; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  enterOp();
  const handles = native.autogradGrad(
    outputs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    options.gradOutputs ? options.gradOutputs.map((g) => (g === null ? null : g.handle)) : null,
    options.retainGraph ?? false,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return handles.map((h) => (h === null ? null : adoptHandle(h)));
}
