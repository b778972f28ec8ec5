/**
 * The prefill of a generation: prompts run through the model into a KV cache, left-padded to one
 * width, each distinct prompt once. Multi-turn rollouts send many equal prompts (every game of a
 * step opens on the empty board; games that guessed alike share later positions): their rows are
 * copies of one prefill.
 */
import { scope, tensor } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { KVCache } from "./kv-cache.js";
import type { GenerationModel } from "./sampler.js";

/** The distinct prompts in first-seen order, and for each prompt the index of its distinct copy. */
export function distinctPrompts(prompts: readonly (readonly number[])[]): {
  distinct: (readonly number[])[];
  sourceOf: number[];
} {
  const indexOf = new Map<string, number>();
  const distinct: (readonly number[])[] = [];
  const sourceOf = prompts.map((p) => {
    const key = p.join(",");
    let index = indexOf.get(key);
    if (index === undefined) {
      index = distinct.length;
      indexOf.set(key, index);
      distinct.push(p);
    }
    return index;
  });
  return { distinct, sourceOf };
}

/** Rows ready to decode from: the cache they live in, their mask and next-token logits. */
export interface Prefilled {
  /** One row per prompt (owned by whoever asked for the prefill: dispose it). */
  cache: KVCache;
  /** int64 [P, columns]: 1 for real tokens, 0 for padding or hidden tokens. */
  mask: Tensor;
  /** float32 [P, V]: the next-token logits after each prompt. */
  logits: Tensor;
  /** Prompts that went through the model (distinct ones, or the rows a prompt cache continued). */
  prompts: number;
}

/**
 * Runs the distinct prompts into a new cache of `capacity` columns, then copies rows so that row
 * p of the cache, mask and logits belongs to prompts[p]. Must run under noGrad; the returned
 * tensors belong to the caller's scope.
 */
export function prefill(
  model: GenerationModel,
  prompts: readonly (readonly number[])[],
  pad: number,
  capacity: number,
): Prefilled {
  const { device } = model;
  const { distinct, sourceOf } = distinctPrompts(prompts);
  const cache = new KVCache(model.config, distinct.length, { capacity });
  try {
    const width = Math.max(...distinct.map((p) => p.length));
    const ids: number[] = [];
    const maskValues: number[] = [];
    const positions: number[] = [];
    for (const prompt of distinct) {
      const padding = width - prompt.length;
      for (let i = 0; i < width; i++) {
        const real = i >= padding;
        ids.push(real ? prompt[i - padding] : pad);
        maskValues.push(real ? 1 : 0);
        positions.push(real ? i - padding : 0); // cumsum(mask) - 1, clamped at 0
      }
    }
    const shape = [distinct.length, width];
    let mask = tensor(maskValues, { dtype: "int64", device, shape });
    let logits = scope(() => {
      const out = model.forward(tensor(ids, { dtype: "int64", device, shape }), {
        attentionMask: mask,
        positionIds: tensor(positions, { dtype: "int64", device, shape }),
        cache,
        logitsToKeep: 1,
      });
      return out
        .narrow(1, out.size(1) - 1, 1)
        .squeeze(1)
        .float(); // [distinct, V]
    });
    if (sourceOf.some((source, p) => source !== p)) {
      cache.selectRows(sourceOf);
      const rows = tensor(sourceOf, { dtype: "int64", device });
      mask = mask.indexSelect(0, rows);
      logits = logits.indexSelect(0, rows);
    }
    return { cache, mask, logits, prompts: distinct.length };
  } catch (err) {
    cache.dispose();
    throw err;
  }
}
