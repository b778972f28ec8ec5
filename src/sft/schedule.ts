/**
 * Learning rate: linear warmup, then a cosine from the peak down to `minRatio` x peak.
 *
 *   lr(p) = peak * step / warmup                                   while step < warmup
 *   lr(p) = peak * (minRatio + (1 - minRatio) * (1 + cos(pi p)) / 2)  after, p in [0, 1]
 *
 * `progress` p is the fraction of the budget used: steps done / total steps, or seconds trained /
 * budget seconds for a time-limited run (the cosine then follows the clock).
 */
export function cosineLr(
  peak: number,
  step: number,
  warmup: number,
  progress: number,
  minRatio: number,
): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, Math.max(0, progress));
  return peak * (minRatio + ((1 - minRatio) * (1 + Math.cos(Math.PI * p))) / 2);
}
