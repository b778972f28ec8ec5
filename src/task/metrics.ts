/**
 * Behaviour metrics: what the model's guesses DO, next to what the rewards pay. A run can raise
 * its reward by gaming one term (say, format) while playing no better; these catch that.
 *
 * Per completion (all judged with exact Wordle semantics and the 12,972 accepted words):
 * - validFormat: `</think>` comes before the first `<guess>` (the prompt pre-fills `<think>`) and
 *   the guess has exactly 5 letters.
 * - invalidWord: a guess tag was found but its letters are not an accepted word (wrong length
 *   included).
 * - feedbackConsistent: the guess could still be the secret given every past feedback (it
 *   reproduces all past patterns; dictionary membership is not required).
 * - deadLetterReuse: the guess uses a letter the history proves absent (no copy at all).
 * - win: the guess is the secret.
 *
 * Aggregated rates divide by ALL completions, so a completion without a guess counts as not
 * consistent, not reusing and not winning; read the rates next to valid_format_rate.
 */
import { encodeHistory, isConsistentCoded } from "../wordle/candidates.js";
import { loadWordLists } from "../wordle/words.js";
import { deadLetters, letterKnowledge } from "./knowledge.js";
import { readThinkThenGuess } from "./rewards/common.js";
import type { RewardState } from "./rewards/types.js";

export interface CompletionBehaviour {
  /** The parsed guess (upper case) or null. */
  guess: string | null;
  validFormat: boolean;
  invalidWord: boolean;
  feedbackConsistent: boolean;
  deadLetterReuse: boolean;
  win: boolean;
}

export function completionBehaviour(state: RewardState, completion: string): CompletionBehaviour {
  const { location, thinkClosedFirst } = readThinkThenGuess(completion);
  const guess = location?.guess ?? null;
  const word = guess !== null && guess.length === 5 ? guess.toLowerCase() : null;
  const dead = word !== null ? deadLetters(letterKnowledge(state.history)) : new Set<string>();
  return {
    guess,
    validFormat: thinkClosedFirst && word !== null,
    invalidWord: guess !== null && (word === null || !loadWordLists().allowedSet.has(word)),
    feedbackConsistent: word !== null && isConsistentCoded(word, encodeHistory(state.history)),
    deadLetterReuse: word !== null && [...word].some((letter) => dead.has(letter)),
    win: word !== null && word === state.secret.toLowerCase(),
  };
}

export interface BehaviourRates {
  count: number;
  valid_format_rate: number;
  invalid_word_rate: number;
  feedback_consistent_rate: number;
  dead_letter_reuse_rate: number;
  win_rate: number;
}

/** Fractions over all completions (0 for an empty list). */
export function aggregateBehaviour(items: readonly CompletionBehaviour[]): BehaviourRates {
  const n = items.length;
  const rate = (pick: (b: CompletionBehaviour) => boolean) => (n === 0 ? 0 : items.filter(pick).length / n);
  return {
    count: n,
    valid_format_rate: rate((b) => b.validFormat),
    invalid_word_rate: rate((b) => b.invalidWord),
    feedback_consistent_rate: rate((b) => b.feedbackConsistent),
    dead_letter_reuse_rate: rate((b) => b.deadLetterReuse),
    win_rate: rate((b) => b.win),
  };
}
