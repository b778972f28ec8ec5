/**
 * Preset `course`: the DeepLearning.AI x Predibase course rewards. total = format + feedback +
 * info_gain (weights 1, 1, 1). Dictionary: the course's own word list,
 * data/predibase-five_letter_words.csv (12,920 words), which the course loaded from the URL in
 * the dataset's `word_list` column.
 *
 * Like the course, all three start with the format regex and give 0 when it does not match. Then
 * the guess is read by the shared parser (docs/rewards.md: every preset reads it the same way), which
 * differs from the course's regex group in three deliberate ways:
 * - letters are upper-cased, so `<guess>crane</guess>` counts as CRANE (the course compared the raw
 *   text case-sensitively with its upper-case list and called lower case "not a word");
 * - a leading `guessed-word:` / `word:` / `answer:` label is stripped and non-letters dropped;
 * - it is the FIRST `<guess>` tag, even one inside the thinking (the regex takes the one after
 *   `</think>\n`).
 */

import { BoundedCache } from "../../util/bounded-cache.js";
import { candidates } from "../../wordle/candidates.js";
import { loadCourseDictionary } from "../dictionaries.js";
import { normalizedInfoGain } from "../info-gain.js";
import { parseGuess } from "../parse-guess.js";
import { historyKey } from "../state.js";
import { matchesCourseFormat } from "./common.js";
import type { NamedReward, RewardState } from "./types.js";

/** The guess when the completion passes the course's format regex, else null. */
function courseGuess(completion: string): string | null {
  return matchesCourseFormat(completion) ? parseGuess(completion) : null;
}

/** format: regex mismatch 0; guess length != 5: 0.1; not in the dictionary: 0.5; else 1.0. */
export function courseFormat(_state: RewardState, completion: string): number {
  const guess = courseGuess(completion);
  if (guess === null) return 0;
  if (guess.length !== 5) return 0.1;
  return loadCourseDictionary().set.has(guess.toLowerCase()) ? 1.0 : 0.5;
}

/**
 * feedback: empty history 0.1. Otherwise per guess letter (any guess length, as the course loops
 * over the letters it got), first rule that applies:
 *   the letter was green at this position          +0.2
 *   the letter was yellow, never at this position  +0.1
 *   the letter was yellow at this position         -0.2
 *   the letter was ever marked absent              -0.5
 *   otherwise (untested, or green elsewhere)       +0.05
 * Like the seed, a letter marked absent anywhere counts as absent (duplicate-letter naivety), but
 * the green and yellow rules are checked first.
 */
export function courseFeedback(state: RewardState, completion: string): number {
  const guess = courseGuess(completion);
  if (guess === null) return 0;
  if (state.history.length === 0) return 0.1;
  const green = new Map<string, Set<number>>();
  const yellow = new Map<string, Set<number>>();
  const absent = new Set<string>();
  for (const { guess: past, feedback } of state.history) {
    const word = past.toUpperCase();
    for (let i = 0; i < 5; i++) {
      const mark = feedback[i];
      if (mark === "absent") absent.add(word[i]);
      else {
        const table = mark === "correct" ? green : yellow;
        const positions = table.get(word[i]) ?? new Set<number>();
        positions.add(i);
        table.set(word[i], positions);
      }
    }
  }
  let reward = 0;
  for (let i = 0; i < guess.length; i++) {
    const letter = guess[i];
    if (green.get(letter)?.has(i)) reward += 0.2;
    else if (yellow.has(letter) && !yellow.get(letter)?.has(i)) reward += 0.1;
    else if (yellow.get(letter)?.has(i)) reward -= 0.2;
    else if (absent.has(letter)) reward -= 0.5;
    else reward += 0.05;
  }
  return reward;
}

const candidateCache = new BoundedCache<string, string[]>(4096);
const gainCache = new BoundedCache<string, number>(65536);

/** The course-dictionary words consistent with a history (exact scoring), cached per history. */
export function courseCandidates(state: RewardState): string[] {
  return candidateCache.getOrCompute(historyKey(state.history), () =>
    candidates(state.history, loadCourseDictionary().words),
  );
}

/**
 * info_gain: the normalised expected information gain (see info-gain.ts) of the guess over the
 * course-dictionary words consistent with the history; 0 for a guess outside the dictionary.
 */
export function courseInfoGain(state: RewardState, completion: string): number {
  const guess = courseGuess(completion);
  if (guess === null || guess.length !== 5) return 0;
  const word = guess.toLowerCase();
  if (!loadCourseDictionary().set.has(word)) return 0;
  const key = historyKey(state.history);
  return gainCache.getOrCompute(`${key}|${word}`, () => normalizedInfoGain(word, courseCandidates(state)));
}

export function courseRewards(): NamedReward[] {
  return [
    { name: "format", weight: 1, fn: courseFormat },
    { name: "feedback", weight: 1, fn: courseFeedback },
    { name: "info_gain", weight: 1, fn: courseInfoGain },
  ];
}
