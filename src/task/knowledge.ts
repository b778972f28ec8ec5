/**
 * What a history proves about the secret, with exact Wordle semantics (duplicate letters
 * included). For a guess, the number of green+yellow marks a letter gets is a lower bound on its
 * count in the secret; if the same guess also shows that letter absent somewhere, the bound is
 * exact (the secret has no further copy). Every non-green mark at position i also proves the
 * secret does not have that letter at i.
 *
 * Example: guess SPEED vs ABIDE gives E present at 3 and E absent at 4 (1-based), so E occurs
 * exactly once, and not at positions 3 or 4. A naive reading ("E is absent") would be wrong.
 */
import type { HistoryEntry } from "../wordle/candidates.js";

export interface LetterKnowledge {
  /** Per position: the letter proven there (lowercase), or null. */
  greens: (string | null)[];
  /** Per position: letters proven NOT to be there. */
  notAt: Set<string>[];
  /** Letter -> minimum number of copies in the secret (only letters with a bound >= 1). */
  minCount: Map<string, number>;
  /** Letter -> maximum number of copies, for letters whose count is pinned by an absent mark. */
  maxCount: Map<string, number>;
  /** Every letter that appeared in some past guess. */
  seen: Set<string>;
}

export function letterKnowledge(history: readonly HistoryEntry[]): LetterKnowledge {
  const greens: (string | null)[] = [null, null, null, null, null];
  const notAt = greens.map(() => new Set<string>());
  const minCount = new Map<string, number>();
  const maxCount = new Map<string, number>();
  const seen = new Set<string>();
  for (const { guess, feedback } of history) {
    const word = guess.toLowerCase();
    const hits = new Map<string, number>();
    const absentLetters = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const letter = word[i];
      seen.add(letter);
      if (feedback[i] === "correct") greens[i] = letter;
      else notAt[i].add(letter);
      if (feedback[i] === "absent") absentLetters.add(letter);
      else hits.set(letter, (hits.get(letter) ?? 0) + 1);
    }
    for (const [letter, n] of hits) minCount.set(letter, Math.max(minCount.get(letter) ?? 0, n));
    for (const letter of absentLetters) {
      const exact = hits.get(letter) ?? 0;
      maxCount.set(letter, Math.min(maxCount.get(letter) ?? 5, exact));
    }
  }
  return { greens, notAt, minCount, maxCount, seen };
}

/** Letters proven absent from the secret (maximum count 0): "dead" letters. */
export function deadLetters(knowledge: LetterKnowledge): Set<string> {
  const dead = new Set<string>();
  for (const [letter, max] of knowledge.maxCount) if (max === 0) dead.add(letter);
  return dead;
}
