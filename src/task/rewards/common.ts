/**
 * Small helpers every preset uses: input hygiene (rewards must accept anything) and the two
 * format readings of a completion.
 */
import { type GuessLocation, locateGuess } from "../parse-guess.js";

/** The completion as text; anything that is not a string counts as empty. */
export function asText(completion: unknown): string {
  return typeof completion === "string" ? completion : "";
}

/** Progress clamped into [0, 1]; NaN counts as the start of training. */
export function clampProgress(progress: number): number {
  if (typeof progress !== "number" || Number.isNaN(progress)) return 0;
  return Math.min(1, Math.max(0, progress));
}

/*
 * The format checks read `"<think>" + completion`, because the prompt pre-fills `<think>`. They
 * search the completion itself instead of building that string: every tag they look for starts
 * with "</" or "<g", which cannot begin inside the prefix "<think>" nor straddle its end, so a
 * match in the prefixed text is a match in the completion shifted by 7 characters. This keeps a
 * multi-megabyte completion from being copied once per reward function.
 */

export interface ThinkThenGuess {
  location: GuessLocation | null;
  /** True when `</think>` (any case) occurs before the first `<guess>`. */
  thinkClosedFirst: boolean;
}

// One-entry memo: the reward functions of a preset (and the metrics) read the same completion
// one after another; a repeated string is recognised by identity before any character compare.
let memoCompletion: string | undefined;
let memoReading: ThinkThenGuess = { location: null, thinkClosedFirst: false };

/** Locate the guess and whether the thinking was closed before it (the `<think>` is pre-filled). */
export function readThinkThenGuess(completion: unknown): ThinkThenGuess {
  const text = asText(completion);
  if (text === memoCompletion) return memoReading;
  const location = locateGuess(text);
  const close = location === null ? -1 : text.search(/<\/think>/i);
  memoCompletion = text;
  memoReading = { location, thinkClosedFirst: location !== null && close >= 0 && close < location.openIndex };
  return memoReading;
}

const COURSE_CLOSE = "</guess>";
const COURSE_SEPARATOR = "</think>\n<guess>";

/**
 * The course's format regex, `^<think>\s*([\s\S]*?)\s*<\/think>\n<guess>\s*([\s\S]*?)\s*<\/guess>$`
 * (Python `re.search`, case-sensitive), on `"<think>" + completion`, decided in linear time. The two
 * lazy groups absorb the `\s*` around them, so the regex matches exactly when the text ends with
 * `</guess>` (Python's `$` also allows one final "\n") and a `</think>\n<guess>` after the
 * prefilled `<think>` ends no later than that final `</guess>`. The regex itself backtracks
 * quadratically (or worse) on long whitespace runs, which a degenerate completion hits.
 */
export function matchesCourseFormat(completion: unknown): boolean {
  const text = asText(completion);
  let end: number;
  if (text.endsWith(COURSE_CLOSE)) end = text.length - COURSE_CLOSE.length;
  else if (text.endsWith(COURSE_CLOSE + "\n")) end = text.length - COURSE_CLOSE.length - 1;
  else return false;
  const at = text.indexOf(COURSE_SEPARATOR);
  return at >= 0 && at + COURSE_SEPARATOR.length <= end;
}

/** Number of distinct characters of a string. */
export function distinctCount(word: string): number {
  return new Set(word).size;
}
