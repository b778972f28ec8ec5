/**
 * The records an evaluation game leaves: each guess with its validity and feedback, and how
 * the guess related to what the player already knew. Feedback is written as in
 * docs/run-files.md's eval-games.jsonl: five characters, `c` correct, `p` present, `a` absent.
 */
import type { InvalidKind } from "../wordle/game.js";
import type { Feedback, LetterMark } from "../wordle/score.js";

/** Why a guess was refused: no `<guess>` tag pair at all, or WordleGame's reasons. */
export type InvalidGuessKind = "unparseable" | InvalidKind;
export const INVALID_GUESS_KINDS: readonly InvalidGuessKind[] = [
  "unparseable",
  "format",
  "not-a-word",
  "hard-mode",
];

export interface GuessRecord {
  /** The guess read from the completion, lowercase (any length); null when none could be read. */
  word: string | null;
  /** The completion, shortened to an excerpt for long texts (see playGames' excerptChars). */
  completion: string;
  /** `c`/`p`/`a` per letter for a scored guess; null for an invalid one. */
  feedback: string | null;
  valid: boolean;
  /** Why the guess was refused (invalid guesses only). */
  invalid?: InvalidGuessKind;
  /** Valid guesses: the word could still be the secret given every earlier feedback. */
  consistent?: boolean;
  /** Valid guesses: the word uses a letter the earlier feedback proved absent. */
  deadLetterReuse?: boolean;
}

export interface GameResult {
  /** Index of the secret in the evaluated list. */
  game: number;
  secret: string;
  guesses: GuessRecord[];
  won: boolean;
  /** Turns used: every guess, invalid ones included. */
  turns: number;
}

const MARK_CHAR: Record<LetterMark, string> = { correct: "c", present: "p", absent: "a" };
const CHAR_MARK: Record<string, LetterMark> = { c: "correct", p: "present", a: "absent" };

/** Marks as the five-character `cpa` string of eval-games.jsonl. */
export function feedbackString(feedback: Feedback | readonly LetterMark[]): string {
  return feedback.map((m) => MARK_CHAR[m]).join("");
}

/** The `cpa` string back to marks; throws naming the string when it is not five of c/p/a. */
export function feedbackMarks(text: string): LetterMark[] {
  if (!/^[cpa]{5}$/.test(text)) {
    throw new Error(`feedback must be five of c/p/a (correct/present/absent), got ${JSON.stringify(text)}`);
  }
  return [...text].map((ch) => CHAR_MARK[ch]);
}

/** A long text cut to about `max` characters: its head and tail, with the count of what was cut. */
export function excerpt(text: string, max: number): string {
  if (!(max >= 0)) throw new Error(`excerpt: max must be >= 0, got ${max}`);
  if (text.length <= max) return text;
  const head = Math.ceil(max / 2);
  const tail = max - head;
  return `${text.slice(0, head)}…[${text.length - max} chars cut]…${tail > 0 ? text.slice(-tail) : ""}`;
}
