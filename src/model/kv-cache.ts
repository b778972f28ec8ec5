/**
 * Key/value cache for incremental decoding.
 *
 * Each layer keeps its keys and values after RoPE, before the grouped-query heads are shared
 * ([batch, kvHeads, capacity, headDim]), in buffers that grow by doubling, so one decode step
 * writes one column instead of re-concatenating the whole history. `length` counts the positions
 * already stored (padding included: with left padding every row has the same length and the
 * attention mask says which positions are real).
 *
 * The cache is for inference: `model.forward` refuses it while autograd is on (run under noGrad).
 * It owns its buffers; call dispose() when done.
 */
import { keep, noGrad, scope, tensor, zeros } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelConfig } from "./hf-config.js";

export interface KVCacheOptions {
  /** Initial positions reserved per row (grows by doubling when exceeded). Default 256. */
  capacity?: number;
}

export interface LayerBuffers {
  keys: Tensor;
  values: Tensor;
}

export class KVCache {
  /** Positions stored so far (the past length seen by the next forward). */
  length = 0;
  private capacity: number;
  private readonly layers: (LayerBuffers | null)[];

  constructor(
    readonly config: ModelConfig,
    public batch: number,
    options: KVCacheOptions = {},
  ) {
    if (!Number.isInteger(batch) || batch < 1)
      throw new Error(`KVCache: batch must be a positive integer, got ${batch}`);
    this.capacity = Math.max(1, options.capacity ?? 256);
    this.layers = new Array(config.numHiddenLayers).fill(null);
  }

  /**
   * Writes a layer's new keys/values [B, kvHeads, S, headDim] after the stored ones and returns
   * views of the whole history [B, kvHeads, length + S, headDim]. The model calls `advance(S)`
   * once every layer has appended.
   */
  append(layer: number, keys: Tensor, values: Tensor): { keys: Tensor; values: Tensor } {
    const s = keys.size(2);
    if (keys.size(0) !== this.batch)
      throw new Error(`KVCache: got a batch of ${keys.size(0)} rows, the cache holds ${this.batch}`);
    const needed = this.length + s;
    const buf = this.buffers(layer, s, keys);
    scope(() =>
      noGrad(() => {
        buf.keys.narrow(2, this.length, s).copy_(keys);
        buf.values.narrow(2, this.length, s).copy_(values);
      }),
    );
    return { keys: buf.keys.narrow(2, 0, needed), values: buf.values.narrow(2, 0, needed) };
  }

  /**
   * A layer's whole buffers [B, kvHeads, capacity, headDim], with room for `steps` more positions
   * (allocated in the dtype and device of `like` on first use). A decode kernel writes position
   * `length` into them directly (engine decodeAttention); the model then calls `advance`.
   */
  buffers(layer: number, steps: number, like: Tensor): LayerBuffers {
    const needed = this.length + steps;
    if (needed > this.capacity) this.grow(needed);
    let buf = this.layers[layer];
    if (!buf) {
      const shape = [this.batch, this.config.numKeyValueHeads, this.capacity, this.config.headDim];
      const options = { dtype: like.dtype, device: like.device };
      buf = keep({ keys: zeros(shape, options), values: zeros(shape, options) });
      this.layers[layer] = buf;
    }
    return buf;
  }

  /** Marks `steps` more positions as stored (after every layer appended them). */
  advance(steps: number): void {
    this.length += steps;
  }

  private grow(needed: number): void {
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    for (let i = 0; i < this.layers.length; i++) {
      const old = this.layers[i];
      if (!old) continue;
      const resized = (t: Tensor): Tensor => {
        const shape = [t.size(0), t.size(1), capacity, t.size(3)];
        const fresh = keep(zeros(shape, { dtype: t.dtype, device: t.device }));
        scope(() =>
          noGrad(() => {
            fresh.narrow(2, 0, this.length).copy_(t.narrow(2, 0, this.length));
          }),
        );
        t.dispose();
        return fresh;
      };
      this.layers[i] = { keys: resized(old.keys), values: resized(old.values) };
    }
    this.capacity = capacity;
  }

  private mapRows(fn: (t: Tensor) => Tensor, batch: number): void {
    for (let i = 0; i < this.layers.length; i++) {
      const old = this.layers[i];
      if (!old) continue;
      const next = keep(scope(() => noGrad(() => ({ keys: fn(old.keys), values: fn(old.values) }))));
      old.keys.dispose();
      old.values.dispose();
      this.layers[i] = next;
    }
    this.batch = batch;
  }

  /**
   * Repeats every row `repeats` times in place ([p0, p1] -> [p0, p0, p1, p1] for 2), so the G
   * completions of one prompt continue from its single prefill. Rows stay grouped by prompt.
   */
  expandRows(repeats: number): void {
    if (!Number.isInteger(repeats) || repeats < 1)
      throw new Error(`KVCache.expandRows: repeats must be a positive integer, got ${repeats}`);
    if (repeats === 1) return;
    this.mapRows((t) => t.repeatInterleave(repeats, 0), this.batch * repeats);
  }

  /**
   * Keeps only the given rows, in that order (e.g. to drop finished sequences); a row listed twice
   * is copied (e.g. to share one prefill between sequences).
   */
  selectRows(rows: readonly number[]): void {
    for (const r of rows)
      if (!Number.isInteger(r) || r < 0 || r >= this.batch)
        throw new Error(`KVCache.selectRows: row ${r} is out of range for a batch of ${this.batch}`);
    this.mapRows(
      (t) => t.indexSelect(0, tensor([...rows], { dtype: "int64", device: t.device })),
      rows.length,
    );
  }

  dispose(): void {
    for (const buf of this.layers) {
      buf?.keys.dispose();
      buf?.values.dispose();
    }
    this.layers.fill(null);
    this.length = 0;
  }
}
