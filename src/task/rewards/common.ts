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

/** The completion as the format checks see it: the prompt pre-fills `<think>`. */
export function withThinkPrefix(completion: unknown): string {
  return "<think>" + asText(completion);
}

export interface ThinkThenGuess {
  location: GuessLocation | null;
  /** True when `</think>` (any case) occurs before the first `<guess>`. */
  thinkClosedFirst: boolean;
}

/** Locate the guess in `"<think>" + completion` and whether the thinking was closed before it. */
export function readThinkThenGuess(completion: unknown): ThinkThenGuess {
  const text = withThinkPrefix(completion);
  const location = locateGuess(text);
  if (location === null) return { location, thinkClosedFirst: false };
  const close = text.search(/<\/think>/i);
  return { location, thinkClosedFirst: close >= 0 && close < location.openIndex };
}

/**
 * The course's format regex, `^<think>\s*([\s\S]*?)\s*<\/think>\n<guess>\s*([\s\S]*?)\s*<\/guess>$`
 * (Python `re.search`, case-sensitive), decided in linear time. The two lazy groups absorb the
 * `\s*` around them, so the regex matches exactly when the text starts with `<think>`, ends with
 * `</guess>` (Python's `$` also allows one final "\n"), and a `</think>\n<guess>` starts at or
 * after offset 7 and ends no later than that final `</guess>`. The regex itself backtracks
 * quadratically (or worse) on long whitespace runs, which a fuzzed or degenerate completion hits.
 */
export function matchesCourseFormat(completion: unknown): boolean {
  const text = withThinkPrefix(completion);
  const CLOSE = "</guess>";
  let end: number;
  if (text.endsWith(CLOSE)) end = text.length - CLOSE.length;
  else if (text.endsWith(CLOSE + "\n")) end = text.length - CLOSE.length - 1;
  else return false;
  const SEPARATOR = "</think>\n<guess>";
  const at = text.indexOf(SEPARATOR, "<think>".length);
  return at >= 0 && at + SEPARATOR.length <= end;
}

/** Number of distinct characters of a string. */
export function distinctCount(word: string): number {
  return new Set(word).size;
}
