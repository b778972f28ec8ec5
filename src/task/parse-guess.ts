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
const LABEL = /(?:guessed[- _]?word|word|answer)\s*:/iy;
const LEADING_SPACE = /\s*/y;

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

/**
 * Strip a label and keep A-Z letters, upper-cased (filter first so "ß" cannot become "SS").
 * Sticky regexes and a char-code loop keep this linear even for megabytes of input.
 */
export function cleanGuess(inner: string): string {
  LEADING_SPACE.lastIndex = 0;
  LEADING_SPACE.exec(inner);
  LABEL.lastIndex = LEADING_SPACE.lastIndex;
  const start = LABEL.exec(inner) === null ? 0 : LABEL.lastIndex;
  return upperLetters(inner, start);
}

/** The A-Z/a-z letters of `s` from `start`, upper-cased; a char-code loop, linear for any input. */
function upperLetters(s: string, start: number): string {
  const chunk: number[] = [];
  let out = "";
  for (let i = start; i < s.length; i++) {
    const lower = s.charCodeAt(i) | 0x20; // folds A-Z onto a-z; no other code lands in a-z
    if (lower >= 97 && lower <= 122) {
      chunk.push(lower - 32);
      if (chunk.length === 4096) {
        out += String.fromCharCode(...chunk);
        chunk.length = 0;
      }
    }
  }
  return out + String.fromCharCode(...chunk);
}

/**
 * The guess in a completion: upper-case letters (possibly empty, possibly not 5 long), or null
 * when the completion has no complete `<guess>...</guess>` pair. Never throws.
 */
export function parseGuess(completion: unknown): string | null {
  if (typeof completion !== "string") return null;
  // One-entry memo: several reward functions parse the same completion in a row.
  if (completion !== lastCompletion) {
    lastCompletion = completion;
    lastGuess = locateGuess(completion)?.guess ?? null;
  }
  return lastGuess;
}
let lastCompletion: string | undefined;
let lastGuess: string | null = null;
