/**
 * A KV cache carried from one `generate` call to the next, for multi-turn play: the prompt of a
 * game's next turn starts with its previous prompt and completion, so only the new text (the
 * feedback, the next user turn) needs to go through the model, not the whole conversation again.
 *
 * Each key (a game) owns one row. A call names the keys it continues or starts; rows of keys not
 * named are dropped (finished games), a new key gets a row with nothing visible in it. The real
 * tokens of a row, in column order, are always exactly the row's `tokens`; everything else in the
 * row is hidden by the attention mask. To continue a row with a new prompt:
 *
 *   L = the longest common prefix of the row's tokens and the prompt (at most prompt length - 1,
 *       so the last prompt token is fed and yields the next-token logits)
 *   hide the row's real tokens past the first L (e.g. a completion the template renders differently)
 *   feed prompt[L:] at positions L, L+1, ... (positions count real tokens, as in a fresh prefill)
 *
 * The new tokens of all rows go in one forward pass, left-padded to the longest. Masked columns
 * add exactly zero to the attention, so the logits equal a fresh prefill's up to float rounding.
 * The first call, with an empty cache, is a plain prefill (prefill.ts). Columns are never removed,
 * so a cache whose rows come and go (evaluation refills finished games' slots) starts over with a
 * plain prefill once it would pass `maxColumns`.
 */
import { type Device, keep, scope, tensor } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import type { KVCache } from "./kv-cache.js";
import { type Prefilled, prefill } from "./prefill.js";
import type { GenerationModel } from "./sampler.js";

export class PromptCache {
  private kv: KVCache | null = null;
  private keys: number[] = [];
  /** Per row: its real tokens in column order. */
  private tokens: number[][] = [];
  /** Per row: 1 / 0 per cache column. */
  private mask: number[][] = [];

  private readonly capacity: number;
  private readonly maxColumns: number;

  constructor(options: { capacity?: number; maxColumns?: number } = {}) {
    this.capacity = options.capacity ?? 256;
    this.maxColumns = options.maxColumns ?? 1024;
  }

  /** The cache the rows live in (after `begin`). */
  get cache(): KVCache {
    if (this.kv === null) throw new Error("PromptCache: begin() first");
    return this.kv;
  }

  /**
   * Rows for these keys, continued with these prompts (one per key, in this order). Must run under
   * noGrad. Then decode with `cache` and end with `commit`.
   */
  begin(
    model: GenerationModel,
    prompts: readonly (readonly number[])[],
    keys: readonly number[],
    pad: number,
  ): Prefilled {
    if (prompts.length !== keys.length || new Set(keys).size !== keys.length)
      throw new Error("PromptCache.begin: one prompt per key, keys distinct");
    const longest = Math.max(...prompts.map((p) => p.length));
    if (this.kv === null || this.mask[0].length + longest > this.maxColumns) {
      this.dispose();
      return this.first(model, prompts, keys, pad);
    }

    // Rows in key order; a new key starts from a copy of row 0 with every column hidden.
    const rows = keys.map((k) => this.keys.indexOf(k));
    if (rows.length !== this.keys.length || rows.some((r, i) => r !== i)) {
      const columns = this.mask[0].length;
      this.kv.selectRows(rows.map((r) => Math.max(r, 0)));
      this.tokens = rows.map((r) => (r < 0 ? [] : this.tokens[r]));
      this.mask = rows.map((r) => (r < 0 ? new Array(columns).fill(0) : this.mask[r]));
      this.keys = [...keys];
    }
    const suffixes = prompts.map((prompt, r) => {
      const kept = Math.min(commonPrefix(this.tokens[r], prompt), prompt.length - 1);
      hideAfter(this.mask[r], kept);
      this.tokens[r] = [...prompt];
      return { tokens: prompt.slice(kept), start: kept };
    });
    const width = Math.max(...suffixes.map((s) => s.tokens.length));
    const ids: number[] = [];
    const positions: number[] = [];
    suffixes.forEach(({ tokens, start }, r) => {
      const padding = width - tokens.length;
      for (let i = 0; i < width; i++) {
        const real = i >= padding;
        ids.push(real ? tokens[i - padding] : pad);
        positions.push(real ? start + i - padding : 0);
        this.mask[r].push(real ? 1 : 0);
      }
    });
    const { device } = model;
    const kv = this.kv;
    return keep(
      scope(() => {
        const shape = [rows.length, width];
        const mask = this.maskTensor(device);
        const out = model.forward(tensor(ids, { dtype: "int64", device, shape }), {
          attentionMask: mask,
          positionIds: tensor(positions, { dtype: "int64", device, shape }),
          cache: kv,
          logitsToKeep: 1,
        });
        const logits = out
          .narrow(1, out.size(1) - 1, 1)
          .squeeze(1)
          .float();
        return { cache: kv, mask, logits, prompts: prompts.length };
      }),
    );
  }

  /**
   * After decoding: `generated[r]` is row r's completion; every token of it but the last was fed
   * (a row stops once its last token is picked), which `mask` (the decode's final attention mask)
   * records column by column.
   */
  commit(generated: readonly (readonly number[])[], mask: Tensor): void {
    this.mask = maskRows(mask);
    this.tokens = this.tokens.map((prompt, r) => [...prompt, ...generated[r].slice(0, -1)]);
    this.tokens.forEach((tokens, r) => {
      const real = this.mask[r].reduce((n, m) => n + m, 0);
      if (real !== tokens.length)
        throw new Error(`PromptCache.commit: row ${r} has ${real} real columns for ${tokens.length} tokens`);
    });
  }

  dispose(): void {
    this.kv?.dispose();
    this.kv = null;
    this.keys = [];
    this.tokens = [];
    this.mask = [];
  }

  private first(
    model: GenerationModel,
    prompts: readonly (readonly number[])[],
    keys: readonly number[],
    pad: number,
  ): Prefilled {
    const start = keep(scope(() => prefill(model, prompts, pad, this.capacity)));
    this.kv = start.cache;
    this.keys = [...keys];
    this.tokens = prompts.map((p) => [...p]);
    this.mask = maskRows(start.mask);
    return start;
  }

  private maskTensor(device: Device): Tensor {
    return tensor(this.mask.flat(), {
      dtype: "int64",
      device,
      shape: [this.mask.length, this.mask[0].length],
    });
  }
}

/** A [rows, columns] mask tensor as one number array per row. */
function maskRows(mask: Tensor): number[][] {
  const values = Array.from(mask.toArray() as ArrayLike<number | bigint>, Number);
  const columns = mask.size(1);
  return Array.from({ length: mask.size(0) }, (_, r) => values.slice(r * columns, (r + 1) * columns));
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Zeroes the mask after its first `keep` real columns. */
function hideAfter(mask: number[], keepReal: number): void {
  let real = 0;
  for (let c = 0; c < mask.length; c++) {
    if (mask[c] === 0) continue;
    if (real >= keepReal) mask[c] = 0;
    real++;
  }
}
