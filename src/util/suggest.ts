/**
 * "Did you mean ...?" for configuration keys: the closest valid key by edit distance.
 */

/** Levenshtein distance: the fewest single-character insertions, deletions or substitutions. */
export function levenshtein(a: string, b: string): number {
  // One rolling row of the classic dynamic-programming table: row[j] = distance(a[0..i), b[0..j)).
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, substitution));
    }
    row = next;
  }
  return row[b.length]!;
}

/**
 * The candidate closest to `word`, or undefined when nothing is plausibly what was meant.
 * Comparison ignores case and treats `-` like `_`, so `--set learning-rate=...` finds `learning_rate`.
 * A match is "plausible" when at most about a third of the longer word has to change, or when one
 * name contains the other (`lr` -> none, but `epsilon_hi` -> `epsilon_high`).
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replaceAll("-", "_");
  const w = norm(word);
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const c = norm(candidate);
    const distance = levenshtein(w, c);
    const contains = w.length >= 3 && (c.includes(w) || w.includes(c));
    const plausible = distance <= Math.max(2, Math.ceil(Math.max(w.length, c.length) / 3)) || contains;
    // Between equal distances, prefer the name that contains the other (a truncated or extended key).
    const score = distance - (contains ? 0.5 : 0);
    if (plausible && score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** " Did you mean `x`?" or "" — ready to append to an error message. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? "" : ` Did you mean \`${match}\`?`;
}
