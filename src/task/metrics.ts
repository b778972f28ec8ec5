/**
 * Behaviour metrics: what the model's guesses DO, next to what the rewards pay. A run can raise
 * its reward by gaming one term (say, format) while playing no better; these catch that.
 *
 * Per completion (all judged with exact Wordle semantics and the 12,972 accepted words):
 * - validFormat: `</think>` comes before the first `<guess>` (the prompt pre-fills `<think>`) and
 *   the guess has exactly 5 letters.
 * - invalidWord: a guess tag was found but its letters are not an accepted word (wrong length
 *   included; the aggregate rate only counts 5-letter guesses, as docs/run-files.md defines it).
 * - feedbackConsistent: the guess could still be the secret given every past feedback (it
 *   reproduces all past patterns; dictionary membership is not required).
 * - deadLetterReuse: the guess uses a letter the history proves absent (no copy at all).
 * - win: the guess is the secret.
 *
 * Aggregated rates follow docs/run-files.md (`behaviour/<name>`): format_rate divides by all
 * completions; the other four divide by the completions whose guess has 5 letters ("guesses"),
 * so they describe how the model plays when it does play, and are 0 when there is no such guess.
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
  /** Completions seen. */
  count: number;
  /** Completions with a 5-letter guess (the denominator of the four guess rates). */
  guess_count: number;
  format_rate: number;
  invalid_word_rate: number;
  feedback_consistent_rate: number;
  dead_letter_reuse_rate: number;
  win_rate: number;
}

/** The rates of a batch of completions (see the file comment for the denominators). */
export function aggregateBehaviour(items: readonly CompletionBehaviour[]): BehaviourRates {
  const guesses = items.filter((b) => b.guess !== null && b.guess.length === 5);
  const fraction = (list: readonly CompletionBehaviour[], pick: (b: CompletionBehaviour) => boolean) =>
    list.length === 0 ? 0 : list.filter(pick).length / list.length;
  return {
    count: items.length,
    guess_count: guesses.length,
    format_rate: fraction(items, (b) => b.validFormat),
    invalid_word_rate: fraction(guesses, (b) => b.invalidWord),
    feedback_consistent_rate: fraction(guesses, (b) => b.feedbackConsistent),
    dead_letter_reuse_rate: fraction(guesses, (b) => b.deadLetterReuse),
    win_rate: fraction(guesses, (b) => b.win),
  };
}

/** The rates under their metrics.jsonl names (`behaviour/format_rate`, ...). */
export function behaviourMetrics(rates: BehaviourRates): Record<string, number> {
  return {
    "behaviour/format_rate": rates.format_rate,
    "behaviour/invalid_word_rate": rates.invalid_word_rate,
    "behaviour/feedback_consistent_rate": rates.feedback_consistent_rate,
    "behaviour/dead_letter_reuse_rate": rates.dead_letter_reuse_rate,
    "behaviour/win_rate": rates.win_rate,
  };
}
