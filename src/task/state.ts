/**
 * The unit every task component works on: one Wordle position, i.e. a secret and the guesses
 * already played with their feedback. Seed rows and generated rows both become this shape, so
 * prompts, rewards and metrics never care where a row came from.
 *
 * Convention (same as src/wordle): words are lowercase a-z; prompts upper-case them when rendering.
 */
import type { HistoryEntry } from "../wordle/candidates.js";
import { encodePattern } from "../wordle/score.js";
import type { RefusedGuess } from "./prompt.js";

export interface TaskState {
  /** Stable identifier, e.g. `seed-17` or `gen-42-103`. */
  id: string;
  /** The secret word, lowercase. */
  secret: string;
  /** Guesses already played (lowercase) with their feedback; never contains the secret. */
  history: readonly HistoryEntry[];
  /** Guesses the game refused that the prompt shows (multi_turn.show_refused), in play order. */
  refused?: readonly RefusedGuess[];
}

/**
 * A compact key that identifies a history (guess + pattern code per turn), for caching anything
 * that depends only on the history, such as the remaining candidates.
 */
export function historyKey(history: readonly HistoryEntry[]): string {
  return history.map((h) => `${h.guess.toLowerCase()}${encodePattern(h.feedback)}`).join(",");
}
