/**
 * Preset `exact` (ours): the seed's shape with correct Wordle semantics everywhere.
 * total = format + feedback + info_gain + win (weights 1, 1, 1, 1).
 *
 * - format: the seed's rule (progress-scaled penalties), judged against the 12,972 accepted words.
 * - feedback: the seed's constants, applied to what the history really proves (letter count
 *   bounds from greens + yellows, "absent" only when no copy remains; see knowledge.ts).
 * - info_gain: exact expected entropy reduction over the ANSWERS (2,315) still consistent with the
 *   history, normalised by log2 of their number (info-gain.ts); 0 for a guess that is not an
 *   accepted word.
 * - win: 1 when the guess is the secret.
 */

import { BoundedCache } from "../../util/bounded-cache.js";
import { candidates } from "../../wordle/candidates.js";
import { loadWordLists } from "../../wordle/words.js";
import { normalizedInfoGain } from "../info-gain.js";
import { type LetterKnowledge, letterKnowledge } from "../knowledge.js";
import { parseGuess } from "../parse-guess.js";
import { historyKey } from "../state.js";
import { distinctCount, readThinkThenGuess } from "./common.js";
import { seedPenalty } from "./seed.js";
import type { NamedReward, RewardState } from "./types.js";

/** As seed format, with the accepted-guess list (12,972) as the dictionary. */
export function exactFormat(_state: RewardState, completion: string, progress: number): number {
  return exactFormatWith(true, completion, progress);
}

/**
 * Format for templates without a reasoning step (the `tiny` prompt, whose completion is just
 * `<guess>WORD</guess>`): a `<guess>` pair earns the full 0.4 structure credit with or without a
 * `</think>` before it, so a perfect tiny completion scores 0.8 like a perfect reasoning one.
 */
export function exactFormatNoThink(_state: RewardState, completion: string, progress: number): number {
  return exactFormatWith(false, completion, progress);
}

function exactFormatWith(thinking: boolean, completion: string, progress: number): number {
  const { location, thinkClosedFirst } = readThinkThenGuess(completion);
  if (location === null) return 0;
  const structure = thinkClosedFirst || !thinking ? 0.4 : 0.2;
  if (location.guess.length !== 5) return structure + seedPenalty(progress);
  const known = loadWordLists().allowedSet.has(location.guess.toLowerCase());
  return structure + (known ? 0.4 : seedPenalty(progress));
}

const knowledgeCache = new BoundedCache<string, LetterKnowledge>(4096);

function knowledgeOf(state: RewardState): LetterKnowledge {
  return knowledgeCache.getOrCompute(historyKey(state.history), () => letterKnowledge(state.history));
}

function countOf(word: string, letter: string): number {
  let n = 0;
  for (const c of word) if (c === letter) n++;
  return n;
}

/**
 * feedback, for a 5-letter guess (else 0). Empty history: 0.05 per distinct letter. Otherwise:
 *   each proven green position: +0.4 if the guess keeps it, else -0.2;
 *   each letter known to have copies not yet located by greens (min count > its greens):
 *     -0.4 if the guess has fewer copies than the minimum; otherwise -0.2 if some copy sits where
 *     the letter is proven not to be, else +0.3;
 *   -0.5 per copy beyond the letter's proven maximum (every copy of a dead letter);
 *   +0.05 per distinct guess letter never tried before;
 * clamped below at -1.2. A guess consistent with the history never gets a penalty term.
 */
export function exactFeedback(state: RewardState, completion: string): number {
  const guessUpper = parseGuess(completion);
  if (guessUpper === null || guessUpper.length !== 5) return 0;
  const guess = guessUpper.toLowerCase();
  if (state.history.length === 0) return 0.05 * distinctCount(guess);
  const k = knowledgeOf(state);
  let reward = 0;
  for (let i = 0; i < 5; i++) {
    const green = k.greens[i];
    if (green !== null) reward += guess[i] === green ? 0.4 : -0.2;
  }
  for (const [letter, min] of k.minCount) {
    const located = k.greens.filter((g) => g === letter).length;
    if (min <= located) continue;
    if (countOf(guess, letter) < min) {
      reward -= 0.4;
      continue;
    }
    let misplaced = false;
    for (let i = 0; i < 5; i++) {
      if (guess[i] === letter && k.greens[i] !== letter && k.notAt[i].has(letter)) misplaced = true;
    }
    reward += misplaced ? -0.2 : 0.3;
  }
  for (const letter of new Set(guess)) {
    const max = k.maxCount.get(letter);
    if (max !== undefined) reward -= 0.5 * Math.max(0, countOf(guess, letter) - max);
    if (!k.seen.has(letter)) reward += 0.05;
  }
  return Math.max(reward, -1.2);
}

const candidateCache = new BoundedCache<string, string[]>(4096);
const gainCache = new BoundedCache<string, number>(65536);

/** The answers consistent with a history (exact), cached per history. */
export function exactCandidates(state: RewardState): string[] {
  return candidateCache.getOrCompute(historyKey(state.history), () =>
    candidates(state.history, loadWordLists().answers),
  );
}

/** info_gain: normalised expected information over the consistent answers; 0 for a non-word. */
export function exactInfoGain(state: RewardState, completion: string): number {
  const guess = parseGuess(completion);
  if (guess === null || guess.length !== 5) return 0;
  const word = guess.toLowerCase();
  if (!loadWordLists().allowedSet.has(word)) return 0;
  const key = historyKey(state.history);
  return gainCache.getOrCompute(`${key}|${word}`, () => normalizedInfoGain(word, exactCandidates(state)));
}

/** win: 1 when the parsed guess equals the secret. */
export function exactWin(state: RewardState, completion: string): number {
  const guess = parseGuess(completion);
  return guess !== null && guess.toLowerCase() === state.secret.toLowerCase() ? 1 : 0;
}

/** `thinking: false` for templates without a reasoning step (see exactFormatNoThink). */
export function exactRewards(options: { thinking?: boolean } = {}): NamedReward[] {
  return [
    { name: "format", weight: 1, fn: options.thinking === false ? exactFormatNoThink : exactFormat },
    { name: "feedback", weight: 1, fn: exactFeedback },
    { name: "info_gain", weight: 1, fn: exactInfoGain },
    { name: "win", weight: 1, fn: exactWin },
  ];
}
