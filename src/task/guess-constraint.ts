/**
 * Constrained guessing: decoding that can only write a guess from a given word list, so a model
 * plays by the game's rules instead of merely being rewarded for them.
 *
 *   none        the model writes what it likes (a non-word costs a turn);
 *   valid       the first `<guess>...</guess>` holds a word the game accepts;
 *   consistent  ... a word the game accepts that also fits every feedback so far (what the
 *               random-consistent baseline plays; the model chooses WHICH such word).
 *
 * The text before `<guess>` (a reasoning model's thinking) is free, unless the template's
 * completion is the guess alone (tiny): then the completion must open with `<guess>`. Inside the
 * first guess the text must spell a prefix of `WORD</guess>` for some word of the list: exactly
 * five capital letters, no spaces, then the closing tag; after it the text is free again (the
 * guess parser reads the first pair only). Works for any tokenizer: a token is allowed when the
 * text it appends keeps the guess legal, so a BPE token spanning `>CR` or `NE</` is judged whole.
 * A position whose list is empty gets an empty allow list, which the sampler treats as free.
 */
import type { TokenConstraint, TokenFilter } from "../model/sampler.js";
import { memoizeOn } from "../util/weak-memo.js";
import { encodeHistory, type HistoryEntry, isConsistentCoded } from "../wordle/candidates.js";
import { loadWordLists } from "../wordle/words.js";
import type { PromptTemplateName } from "./prompt.js";

export type GuessConstraintMode = "none" | "valid" | "consistent";
export const GUESS_CONSTRAINT_MODES: readonly GuessConstraintMode[] = ["none", "valid", "consistent"];

/** Templates whose completion is `<guess>WORD</guess>` and nothing else (no reasoning first). */
export function completionIsGuessOnly(template: PromptTemplateName): boolean {
  return template === "tiny";
}

const OPEN = "<guess>";
const CLOSE = "</guess>";
const WORD_LENGTH = 5;

/** A sorted list of lowercase five-letter words with a prefix test by binary search. */
export class WordPrefixes {
  private readonly words: readonly string[];

  constructor(words: Iterable<string>) {
    this.words = [...new Set([...words].map((w) => w.toLowerCase()))].sort();
  }

  get size(): number {
    return this.words.length;
  }

  /** Some word starts with `prefix` (lowercase). */
  hasPrefix(prefix: string): boolean {
    let lo = 0;
    let hi = this.words.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.words[mid] < prefix) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.words.length && this.words[lo].startsWith(prefix);
  }
}

/** The words a constraint mode allows at a position (null for "none"). */
export function constraintWords(
  mode: GuessConstraintMode,
  history: readonly HistoryEntry[],
  accepted: readonly string[],
): WordPrefixes | null {
  if (mode === "none") return null;
  if (mode === "valid" || history.length === 0) return acceptedPrefixes(accepted);
  const coded = encodeHistory(history);
  return new WordPrefixes(accepted.filter((w) => isConsistentCoded(w, coded)));
}

const acceptedPrefixes = memoizeOn((accepted: readonly string[]) => new WordPrefixes(accepted));

/**
 * Whether `inside`, the text after the first `<guess>`, is still on the way to a legal guess:
 * capital letters that begin a word (every template shows guesses in capitals; a policy free to
 * switch case would wander into spellings it never learnt), a whole word and part of `</guess>`,
 * or a whole word and the closing tag followed by anything.
 */
export function legalGuessText(inside: string, words: WordPrefixes): boolean {
  const letters = inside.slice(0, WORD_LENGTH);
  if (!/^[A-Z]*$/.test(letters)) return false;
  if (!words.hasPrefix(letters.toLowerCase())) return false;
  if (inside.length <= WORD_LENGTH) return true;
  const rest = inside.slice(WORD_LENGTH).toLowerCase(); // after a whole word
  return rest.length <= CLOSE.length ? CLOSE.startsWith(rest) : rest.startsWith(CLOSE);
}

/** Where the first `<guess>` tag (any case, as the guess parser reads it) starts in `text`, or -1. */
function openTag(text: string): number {
  return text.search(/<guess>/i);
}

/** Each token's text, as the constraint joins them (a tokenizer's decode of one id). */
export interface TokenTexts {
  readonly texts: readonly string[];
  /** Tokens whose text holds a `>`: only they can complete an opening `<guess>`. */
  readonly closers: readonly number[];
}

/** Every token's text, once per tokenizer. */
export const tokenTexts = memoizeOn(
  (tokenizer: {
    readonly vocabSize: number;
    decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  }): TokenTexts => {
    const texts = Array.from({ length: tokenizer.vocabSize }, (_, id) =>
      tokenizer.decode([id], { skipSpecialTokens: false }),
    );
    return { texts, closers: texts.flatMap((t, id) => (t.includes(">") ? [id] : [])) };
  },
);

/**
 * The next tokens a completion may pick so that its first guess comes from `words`: null when
 * anything goes (before any token could open the guess, or after the guess has closed). With
 * `guessFirst` the completion must open with the guess (no text before `<guess>`).
 */
export function nextGuessTokens(
  table: TokenTexts,
  generated: readonly number[],
  words: WordPrefixes,
  guessFirst = false,
): TokenFilter | null {
  const text = generated.map((id) => table.texts[id] ?? "").join("");
  const open = openTag(text);
  if (open < 0 && guessFirst) {
    // Still spelling the opening tag: the tag's next characters, or the tag and a legal start.
    const allow: number[] = [];
    table.texts.forEach((t, id) => {
      const joined = text + t;
      if (t.length === 0) return;
      if (
        joined.length <= OPEN.length
          ? OPEN.startsWith(joined.toLowerCase())
          : openTag(joined) === 0 && legalGuessText(joined.slice(OPEN.length), words)
      )
        allow.push(id);
    });
    return { allow };
  }
  if (open < 0) {
    // Outside a guess: block only the tokens that would open one with an illegal start.
    const block = table.closers.filter((id) => {
      const joined = text + table.texts[id];
      const at = openTag(joined);
      return at >= 0 && !legalGuessText(joined.slice(at + OPEN.length), words);
    });
    return block.length === 0 ? null : { block };
  }
  const inside = text.slice(open + OPEN.length);
  if (inside.length > WORD_LENGTH && inside.slice(WORD_LENGTH).toLowerCase().startsWith(CLOSE)) return null;
  const allow: number[] = [];
  table.texts.forEach((t, id) => {
    if (t.length > 0 && legalGuessText(inside + t, words)) allow.push(id);
  });
  return { allow };
}

/**
 * A sampler constraint (GenerateOptions.constrain) for completion rows whose positions' word
 * lists are `wordsOfRow(row)`; rows with null play unconstrained. `guessFirst`: as nextGuessTokens.
 */
export function guessConstraint(
  table: TokenTexts,
  wordsOfRow: (row: number) => WordPrefixes | null,
  guessFirst = false,
): TokenConstraint {
  return (row, generated) => {
    const words = wordsOfRow(row);
    return words === null ? null : nextGuessTokens(table, generated, words, guessFirst);
  };
}

/**
 * The sampler constraint for one generate call at these positions (prompt p's history is
 * `histories[p]`, its `perPrompt` completion rows p * perPrompt ...), over the game's accepted
 * words (default: the 12,972-word list); undefined for "none".
 */
export function positionsConstraint(
  mode: GuessConstraintMode,
  histories: readonly (readonly HistoryEntry[])[],
  options: {
    tokenizer: Parameters<typeof tokenTexts>[0];
    template: PromptTemplateName;
    perPrompt?: number;
    accepted?: readonly string[];
  },
): TokenConstraint | undefined {
  if (mode === "none") return undefined;
  const accepted = options.accepted ?? loadWordLists().allowed;
  const words = histories.map((history) => constraintWords(mode, history, accepted));
  const perPrompt = options.perPrompt ?? 1;
  return guessConstraint(
    tokenTexts(options.tokenizer),
    (row) => words[Math.floor(row / perPrompt)],
    completionIsGuessOnly(options.template),
  );
}
