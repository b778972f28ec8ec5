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

const MARKS: readonly string[] = ["correct", "present", "absent"];

/**
 * Convert a history to pattern codes: lowercased guesses, marks checked and encoded, entries that
 * are already coded checked and passed through. Errors name the entry (`history[i]`).
 */
export function encodeHistory(history: readonly (HistoryEntry | CodedHistoryEntry)[]): CodedHistoryEntry[] {
  return history.map((entry, i) => {
    const where = `history[${i}]`;
    if (entry === null || typeof entry !== "object")
      throw new Error(`${where}: expected { guess, feedback }`);
    const guess = checkGuess(entry.guess, where);
    if ("code" in entry) {
      if (!Number.isInteger(entry.code) || entry.code < 0 || entry.code > 242) {
        throw new Error(`${where}: pattern code must be an integer in 0..242, got ${entry.code}`);
      }
      return { guess, code: entry.code };
    }
    const { feedback } = entry;
    if (!Array.isArray(feedback) || feedback.length !== 5 || feedback.some((m) => !MARKS.includes(m))) {
      throw new Error(
        `${where}: feedback must be 5 of correct|present|absent, got ${JSON.stringify(feedback)}`,
      );
    }
    return { guess, code: encodePattern(feedback) };
  });
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
