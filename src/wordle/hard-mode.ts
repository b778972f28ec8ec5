/**
 * Hard mode: every guess must keep each revealed green in its place and contain each revealed
 * yellow (as many copies of a letter as were marked green or yellow in one earlier guess). This
 * is the NYT rule; it does not forbid reusing grey letters or moving a yellow back to the spot
 * where it was yellow.
 */
import type { LetterMark } from "./score.js";
import { WORD_LENGTH } from "./score.js";

export interface HardModeRules {
  /** Required letter per position, or null. */
  greens: (string | null)[];
  /** Minimum copies of each letter the guess must contain. */
  minCounts: Map<string, number>;
}

/** Gather what earlier guesses revealed (greens and minimum letter counts). */
export function hardModeRules(
  history: readonly { guess: string; feedback: readonly LetterMark[] }[],
): HardModeRules {
  const greens: (string | null)[] = Array(WORD_LENGTH).fill(null);
  const minCounts = new Map<string, number>();
  for (const { guess, feedback } of history) {
    const word = guess.toLowerCase();
    const shown = new Map<string, number>();
    for (let i = 0; i < WORD_LENGTH; i++) {
      if (feedback[i] === "correct") greens[i] = word[i];
      if (feedback[i] !== "absent") shown.set(word[i], (shown.get(word[i]) ?? 0) + 1);
    }
    for (const [letter, n] of shown) minCounts.set(letter, Math.max(n, minCounts.get(letter) ?? 0));
  }
  return { greens, minCounts };
}

const ORDINAL = ["1st", "2nd", "3rd", "4th", "5th"];

/** Why `guess` (lowercase) breaks the hard-mode rules, or null when it is allowed. */
export function hardModeViolation(guess: string, rules: HardModeRules): string | null {
  for (let i = 0; i < WORD_LENGTH; i++) {
    const need = rules.greens[i];
    if (need !== null && guess[i] !== need) return `${ORDINAL[i]} letter must be ${need.toUpperCase()}`;
  }
  for (const [letter, n] of rules.minCounts) {
    let have = 0;
    for (let i = 0; i < WORD_LENGTH; i++) if (guess[i] === letter) have++;
    if (have < n) {
      return n === 1
        ? `guess must contain ${letter.toUpperCase()}`
        : `guess must contain ${n} copies of ${letter.toUpperCase()}`;
    }
  }
  return null;
}
