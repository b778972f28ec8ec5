/**
 * Which words are still possible after some guesses. The rule is exact by construction: a word
 * is consistent with a history iff scoring every past guess against it (as if it were the secret)
 * reproduces that guess's feedback. No hand-written green/yellow/grey rules, so duplicate letters
 * cannot be got wrong here as long as `patternCode` is right.
 */
import { encodePattern, type LetterMark, patternCode } from "./score.js";

/** One past turn: the guess and the feedback it received. */
export interface HistoryEntry {
  guess: string;
  feedback: readonly LetterMark[];
}

/** One past turn with its feedback as a pattern code (0..242); the solvers' fast form. */
export interface CodedHistoryEntry {
  guess: string;
  code: number;
}

function checkGuess(guess: string, where: string): string {
  if (typeof guess !== "string" || !/^[a-z]{5}$/i.test(guess)) {
    throw new Error(`${where}: history guess must be 5 letters A-Z, got ${JSON.stringify(guess)}`);
  }
  return guess.toLowerCase();
}

/** Convert a history to pattern codes (lowercased guesses, validated once). */
export function encodeHistory(history: readonly HistoryEntry[]): CodedHistoryEntry[] {
  return history.map((entry, i) => ({
    guess: checkGuess(entry.guess, `history[${i}]`),
    code: encodePattern(entry.feedback),
  }));
}

/** True iff `word` could be the secret given the history (case-insensitive). */
export function isConsistent(word: string, history: readonly HistoryEntry[]): boolean {
  return isConsistentCoded(word.toLowerCase(), encodeHistory(history));
}

/** Fast path: lowercase `word`, history already coded. */
export function isConsistentCoded(word: string, history: readonly CodedHistoryEntry[]): boolean {
  for (const { guess, code } of history) {
    if (patternCode(guess, word) !== code) return false;
  }
  return true;
}

/** The words (kept in their order) that are consistent with the history. */
export function candidates(history: readonly HistoryEntry[], words: readonly string[]): string[] {
  const coded = encodeHistory(history);
  return words.filter((w) => isConsistentCoded(w.toLowerCase(), coded));
}

/** Fast path of `candidates`: lowercase words, coded history. */
export function candidatesCoded(history: readonly CodedHistoryEntry[], words: readonly string[]): string[] {
  return words.filter((w) => isConsistentCoded(w, history));
}
