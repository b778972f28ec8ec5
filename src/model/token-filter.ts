/**
 * Token filters (constrained decoding, sampler.ts) as a mask: one row of `vocabSize` bytes per
 * position, 1 where the position's filter does not allow the token. The sampler masks each step's
 * logits with it, and the trainer scores the same tokens under the same mask.
 */
import type { TokenFilter } from "./sampler.js";

/** The mask of these positions' filters (null: the position is free), or null if all are free. */
export function blockedMask(filters: readonly (TokenFilter | null)[], vocabSize: number): Uint8Array | null {
  if (filters.every((f) => f === null)) return null;
  const blocked = new Uint8Array(filters.length * vocabSize);
  filters.forEach((filter, position) => {
    if (filter === null) return;
    const base = position * vocabSize;
    const inVocab = (id: number) => id >= 0 && id < vocabSize;
    if ("allow" in filter) {
      blocked.fill(1, base, base + vocabSize);
      for (const id of filter.allow) if (inVocab(id)) blocked[base + id] = 0;
    } else {
      for (const id of filter.block) if (inVocab(id)) blocked[base + id] = 1;
    }
  });
  return blocked;
}
