/**
 * When does one generated row stop? On an end-of-sequence token, when its text comes to contain a
 * stop string (e.g. "</guess>"), or after max_new_tokens tokens (then it is "truncated").
 *
 * Stop strings are matched on decoded text, not on token ids: the same string can be tokenised
 * many ways ("</guess>" may arrive as "</", "guess", ">" or as ">\n" glued to the next line).
 * Decoding the whole completion after every token would cost O(length^2), so only a tail window
 * of tokens is decoded: a stop string that completes at the newest token lies entirely in the last
 * few characters, and each token adds at least one character (except ids the tokenizer skips, for
 * which the window grows). The first token of a window may decode differently from the same token
 * in context (a partial UTF-8 sequence, a Metaspace leading space), so the window carries a margin
 * of a few characters beyond the longest stop string.
 */

/** What the sampler needs from a tokenizer (src/model/tokenizer.ts's Tokenizer fits). */
export interface TokenDecoder {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/**
 * Why a completion ended. "max_new_tokens" means truncated: the limit was hit before any EOS token
 * or stop string (a completion whose last allowed token is EOS counts as "eos").
 */
export type StopReason = "eos" | "stop_string" | "max_new_tokens";

/** Characters a window's first token may decode to differently than in context. */
const WINDOW_MARGIN_CHARS = 4;

export class StopCriteria {
  private readonly eos: ReadonlySet<number>;
  private readonly stopStrings: readonly string[];
  private readonly longestStop: number;

  constructor(
    options: {
      eosTokenIds?: readonly number[];
      stopStrings?: readonly string[];
      maxNewTokens: number;
    },
    /** Needed only when there are stop strings. */
    private readonly decoder?: TokenDecoder,
  ) {
    if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 1))
      throw new Error(`maxNewTokens must be an integer >= 1 (got ${options.maxNewTokens})`);
    this.maxNewTokens = options.maxNewTokens;
    for (const id of options.eosTokenIds ?? [])
      if (!(Number.isInteger(id) && id >= 0)) throw new Error(`eosTokenIds: ${id} is not a token id`);
    this.eos = new Set(options.eosTokenIds ?? []);
    this.stopStrings = [...(options.stopStrings ?? [])];
    for (const s of this.stopStrings)
      if (typeof s !== "string" || s.length === 0)
        throw new Error("stopStrings: a stop string cannot be empty");
    if (this.stopStrings.length > 0 && !decoder)
      throw new Error("stopStrings need a tokenizer to decode the generated tokens");
    this.longestStop = Math.max(0, ...this.stopStrings.map((s) => s.length));
  }

  readonly maxNewTokens: number;

  get hasStopStrings(): boolean {
    return this.stopStrings.length > 0;
  }

  isEos(id: number): boolean {
    return this.eos.has(id);
  }

  /**
   * Call after each new token of a running row with all of that row's generated ids so far (the
   * new one last). Returns why the row stops now, or null to go on.
   */
  check(generated: readonly number[]): StopReason | null {
    const n = generated.length;
    if (n === 0) return null;
    if (this.eos.has(generated[n - 1])) return "eos";
    if (this.hasStopStrings && this.matchTail(generated) !== null) return "stop_string";
    if (n >= this.maxNewTokens) return "max_new_tokens";
    return null;
  }

  /** The stop string found in the decoded tail of `generated`, or null. */
  matchTail(generated: readonly number[]): string | null {
    const decoder = this.decoder as TokenDecoder;
    const wanted = this.longestStop + WINDOW_MARGIN_CHARS;
    let window = wanted;
    for (;;) {
      const start = Math.max(0, generated.length - window);
      const text = decoder.decode(generated.slice(start));
      if (start === 0 || text.length >= wanted) return this.stopStrings.find((s) => text.includes(s)) ?? null;
      window *= 2;
    }
  }

  /**
   * The completion's text cut right after the first occurrence of `stop` (the stop string is kept;
   * characters the last token carried past it are dropped). Text without it is returned whole
   * (e.g. a special-token stop string removed by skipSpecialTokens).
   */
  cutAfter(text: string, stop: string): string {
    const at = text.indexOf(stop);
    return at < 0 ? text : text.slice(0, at + stop.length);
  }
}
