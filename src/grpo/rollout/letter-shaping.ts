/**
 * Letter-level shaping for multi-turn GRPO (`multi_turn.credit = "letter"`).
 *
 * Turn-level shaping scores a guess as a whole, so every letter of "ACHOA" (not a word) is pushed
 * down, the good prefix "ACHO" (as in ACHOO) as much as the final "A" that broke it. Here each
 * letter is judged on the prefix it completes:
 *
 *   valid_j      = the guess's first j letters start some accepted word
 *   consistent_j = they start some accepted word that fits every feedback so far
 *   value_j      = validity * valid_j + consistency * consistent_j      (j = 1..5)
 *
 * so the value stays high along a prefix that can still become a good guess and drops at the
 * letter that makes that impossible. value_5 is the turn's own shaping (a whole valid, consistent
 * word); a repeated guess is never consistent (its own feedback rules it out) and its last letter
 * also pays the repeat penalty. Tokens outside the guess's letters (tags, end of turn) and guesses
 * that are not five letters keep the turn's shaping.
 *
 * Both checks are prefix-set lookups: all prefixes of the accepted words once, and per history the
 * prefixes of the accepted words consistent with it, filtered from the history one guess shorter
 * (a word fits a history when it fits each of its entries), cached by history.
 */
import type { Tokenizer } from "../../model/tokenizer.js";
import { locateGuess } from "../../task/parse-guess.js";
import { BoundedCache } from "../../util/bounded-cache.js";
import { encodeHistory, type HistoryEntry, isConsistentCoded } from "../../wordle/candidates.js";

export interface LetterWeights {
  consistency: number;
  validity: number;
  repeatPenalty: number;
}

function prefixesOf(words: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const w of words) for (let j = 1; j <= w.length; j++) out.add(w.slice(0, j));
  return out;
}

function historyKey(history: readonly HistoryEntry[]): string {
  return history.map((h) => `${h.guess}:${h.feedback.join("")}`).join("|");
}

export class PrefixJudge {
  private readonly validPrefixes: Set<string>;
  private readonly fitting = new BoundedCache<string, { words: string[]; prefixes: Set<string> }>(4096);

  constructor(private readonly allowed: readonly string[]) {
    this.validPrefixes = prefixesOf(allowed);
  }

  /** The accepted words that fit every entry of the history, and their prefixes. */
  private fits(history: readonly HistoryEntry[]): { words: string[]; prefixes: Set<string> } {
    return this.fitting.getOrCompute(historyKey(history), () => {
      if (history.length === 0) return { words: [...this.allowed], prefixes: this.validPrefixes };
      const parent = this.fits(history.slice(0, -1)).words;
      const last = encodeHistory(history.slice(-1));
      const words = parent.filter((w) => isConsistentCoded(w, last));
      return { words, prefixes: prefixesOf(words) };
    });
  }

  /** value_j for j = 1..5 of a five-letter lower-case guess (see the file comment). */
  letterValues(guess: string, history: readonly HistoryEntry[], w: LetterWeights): number[] {
    const fitting = this.fits(history).prefixes;
    const values: number[] = [];
    for (let j = 1; j <= guess.length; j++) {
      const prefix = guess.slice(0, j);
      values.push(
        w.validity * Number(this.validPrefixes.has(prefix)) + w.consistency * Number(fitting.has(prefix)),
      );
    }
    if (history.some((h) => h.guess === guess)) values[values.length - 1] -= w.repeatPenalty;
    return values;
  }
}

/**
 * For each letter of the completion's guess, the index of the token that holds it; null when the
 * completion has no `<guess>` of `letters` letters. Token boundaries come from decoding growing
 * prefixes of the ids (special tokens dropped, as the sampler's text), so multi-letter tokens of
 * a BPE vocabulary map several letters to one token.
 */
export function letterTokens(
  tokenizer: Tokenizer,
  tokenIds: readonly number[],
  letters = 5,
): number[] | null {
  const ends: number[] = [];
  for (let k = 1; k <= tokenIds.length; k++)
    ends.push(tokenizer.decode(tokenIds.slice(0, k), { skipSpecialTokens: true }).length);
  const text = tokenizer.decode(tokenIds, { skipSpecialTokens: true });
  const at = locateGuess(text);
  if (at === null || at.guess.length !== letters) return null;
  // cleanGuess drops a leading label and keeps the letters after it: the guess is the span's
  // last `letters` letters.
  const positions: number[] = [];
  for (let i = at.openIndex + "<guess>".length; i < at.closeIndex; i++)
    if (/[A-Za-z]/.test(text[i])) positions.push(i);
  return positions.slice(-letters).map((p) => ends.findIndex((end) => end > p));
}

/**
 * The shaping value of every completion token: letter tokens get the value of the last letter they
 * hold, every other token the turn's value.
 */
export function tokenShaping(
  numTokens: number,
  turnValue: number,
  letterValues: readonly number[] | null,
  tokenOfLetter: readonly number[] | null,
): number[] {
  const values = new Array<number>(numTokens).fill(turnValue);
  if (letterValues === null || tokenOfLetter === null) return values;
  tokenOfLetter.forEach((k, j) => {
    if (k >= 0 && k < numTokens) values[k] = letterValues[j];
  });
  return values;
}
