// Optimiser state as plain data: what a checkpoint writes (e.g. into safetensors) and reads back.

import { fromBytes } from "../create.js";
import type { DType } from "../dtype.js";
import { keep, noGrad } from "../scope.js";
import type { Tensor } from "../tensor.js";

/** One state tensor as raw little-endian bytes of `dtype` (safetensors layout; bf16 included). */
export interface StateBuffer {
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
}

export interface OptimizerState {
  /** "adamw" or "sgd": loadState refuses a state of another kind. */
  kind: string;
  /** Hyper-parameters at save time (informational; the live optimiser's settings win). */
  hyper: Record<string, number | boolean>;
  /** Per-parameter step counts (0 for a parameter never stepped). */
  steps: number[];
  /** Buffers by name "<param index>.<buffer>", e.g. "3.exp_avg". */
  buffers: Record<string, StateBuffer>;
}

export function toStateBuffer(t: Tensor): StateBuffer {
  return { dtype: t.dtype, shape: [...t.shape], bytes: t.toBytes() };
}

/** Rebuilds a state tensor on the parameter's device, checking it still fits the parameter. */
export function fromStateBuffer(name: string, buffer: StateBuffer, like: Tensor): Tensor {
  const shape = like.shape;
  if (buffer.shape.length !== shape.length || buffer.shape.some((d, i) => d !== shape[i])) {
    throw new Error(
      `optimizer state "${name}": shape [${buffer.shape.join(", ")}] does not match the parameter's [${shape.join(", ")}]`,
    );
  }
  return keep(
    noGrad(() =>
      fromBytes(buffer.bytes, buffer.dtype, buffer.shape, { device: like.device, to: like.dtype }),
    ),
  );
}

export function checkParams(params: readonly Tensor[], who: string): void {
  if (params.length === 0) throw new Error(`${who}: no parameters given`);
  params.forEach((p, i) => {
    if (!p.requiresGrad) throw new Error(`${who}: parameter ${i} (${p}) does not require grad`);
  });
}
