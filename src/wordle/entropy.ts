/**
 * How much a guess tells us. A guess splits the remaining candidates into buckets by the
 * feedback pattern it would receive; with candidates equally likely, the expected information is
 * the entropy of that split:
 *
 *   H = -sum_b p_b log2 p_b,   p_b = n_b / n
 *     = log2 n - (1/n) sum_b n_b log2 n_b
 *
 * The second form needs only integer bucket sizes, which is what the inner loop counts.
 */

import { type PatternTable, patternRow } from "./pattern-table.js";
import { PATTERN_COUNT } from "./score.js";

/** Count how many candidates (answer indices) fall in each of the 243 patterns for this guess. */
export function bucketCounts(
  table: PatternTable,
  guess: number,
  candidates: ArrayLike<number>,
  out: Uint32Array = new Uint32Array(PATTERN_COUNT),
): Uint32Array {
  out.fill(0);
  const row = patternRow(table, guess);
  for (let i = 0; i < candidates.length; i++) out[row[candidates[i]]]++;
  return out;
}

/** Entropy in bits of a split given by bucket sizes (zeros allowed). */
export function entropyOfCounts(counts: ArrayLike<number>): number {
  let total = 0;
  let sumNLogN = 0;
  for (let b = 0; b < counts.length; b++) {
    const n = counts[b];
    if (n > 1) sumNLogN += n * Math.log2(n);
    total += n;
  }
  return total === 0 ? 0 : Math.log2(total) - sumNLogN / total;
}

/** Expected information (bits) of `guess` over the candidates. */
export function guessEntropy(table: PatternTable, guess: number, candidates: ArrayLike<number>): number {
  return entropyOfCounts(bucketCounts(table, guess, candidates));
}

/** Candidates (answer indices) left after `guess` received `code`, order kept. */
export function filterByCode(
  table: PatternTable,
  guess: number,
  code: number,
  candidates: ArrayLike<number>,
): number[] {
  const row = patternRow(table, guess);
  const out: number[] = [];
  for (let i = 0; i < candidates.length; i++) if (row[candidates[i]] === code) out.push(candidates[i]);
  return out;
}
