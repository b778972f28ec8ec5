/**
 * Expected information of a guess over the words still possible, normalised to [0, 1]:
 *
 *   gain(g) = (log2 N - sum_b (n_b / N) * log2 n_b) / log2 N
 *
 * where N candidates split into buckets b of size n_b by the feedback pattern g would get. The
 * numerator is the entropy of the pattern distribution (the expected drop in log2 of the
 * candidate count); dividing by log2 N makes 1 mean "every candidate gets its own pattern".
 * With N <= 1 nothing is left to learn and the gain is 0 (a win reward covers guessing it).
 */
import { PATTERN_COUNT, patternCode } from "../wordle/score.js";

const bucketCounts = new Int32Array(PATTERN_COUNT);

/** Normalised expected information gain of a lowercase guess over lowercase candidates. */
export function normalizedInfoGain(guess: string, candidates: readonly string[]): number {
  const n = candidates.length;
  if (n <= 1) return 0;
  bucketCounts.fill(0);
  for (const c of candidates) bucketCounts[patternCode(guess, c)]++;
  let expectedLog = 0;
  for (let b = 0; b < PATTERN_COUNT; b++) {
    const k = bucketCounts[b];
    if (k > 1) expectedLog += (k / n) * Math.log2(k);
  }
  const logN = Math.log2(n);
  return (logN - expectedLog) / logN;
}
