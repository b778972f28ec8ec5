/**
 * Reading the guess out of a model completion, the same way for every reward preset:
 * take the first `<guess> ... </guess>` (tags case-insensitive, content may span lines), strip a
 * leading `guessed-word:` / `word:` / `answer:` label, keep the letters A-Z only, upper-case.
 *
 * These functions sit on the training hot path and in a fuzz test, so they never throw and stay
 * linear in the input length: plain substring searches, no backtracking regular expressions.
 */

const OPEN_TAG = /<guess>/i;
const CLOSE_TAG = /<\/guess>/gi;
const OPEN_LENGTH = "<guess>".length;
/** Labels models copy from the system prompt's `<guess> guessed-word </guess>` example. */
const LEADING_LABEL = /^\s*(?:guessed[- _]?word|word|answer)\s*:/i;

export interface GuessLocation {
  /** The cleaned guess (A-Z only, upper case); may be empty or of any length. */
  guess: string;
  /** Index of `<guess>` in the text. */
  openIndex: number;
  /** Index of the matching `</guess>`. */
  closeIndex: number;
}

/** Find the first complete `<guess>...</guess>` pair; null when there is none. */
export function locateGuess(text: unknown): GuessLocation | null {
  if (typeof text !== "string") return null;
  const open = text.search(OPEN_TAG);
  if (open < 0) return null;
  const close = new RegExp(CLOSE_TAG.source, CLOSE_TAG.flags);
  close.lastIndex = open + OPEN_LENGTH;
  const match = close.exec(text);
  if (match === null) return null;
  return {
    guess: cleanGuess(text.slice(open + OPEN_LENGTH, match.index)),
    openIndex: open,
    closeIndex: match.index,
  };
}

/** Strip a label and keep A-Z letters, upper-cased (filter first so "ß" cannot become "SS"). */
export function cleanGuess(inner: string): string {
  return inner
    .replace(LEADING_LABEL, "")
    .replace(/[^A-Za-z]/g, "")
    .toUpperCase();
}

/**
 * The guess in a completion: upper-case letters (possibly empty, possibly not 5 long), or null
 * when the completion has no complete `<guess>...</guess>` pair. Never throws.
 */
export function parseGuess(completion: unknown): string | null {
  return locateGuess(completion)?.guess ?? null;
}
