/**
 * Feedback as text, in the two notations the project meets:
 *
 * - "dataset": the predibase/wordle-grpo notation, `C(✓) R(-) A(x) N(x) E(-)`: uppercase letter,
 *   then the mark in parentheses (✓ correct, - present elsewhere, x absent), single spaces.
 * - "symbols": the training plan's notation, `C✓ R~ A× N× E~`: uppercase letter directly followed
 *   by its mark (✓ correct, ~ present elsewhere, × absent), single spaces.
 *
 * `parseFeedback` reads either one back. It forgives extra whitespace and lowercase letters (models
 * write them) but not unknown marks or a mix of the two notations in one string, because a mixed
 * line is more likely a corrupted one than a deliberate choice.
 */
import { type Feedback, type LetterMark, WORD_LENGTH } from "./score.js";

export type FeedbackNotation = "dataset" | "symbols";

const DATASET_MARK: Record<LetterMark, string> = { correct: "✓", present: "-", absent: "x" };
const SYMBOLS_MARK: Record<LetterMark, string> = { correct: "✓", present: "~", absent: "×" };

function invert(table: Record<LetterMark, string>): Map<string, LetterMark> {
  return new Map(Object.entries(table).map(([mark, symbol]) => [symbol, mark as LetterMark]));
}
const DATASET_SYMBOL = invert(DATASET_MARK);
const SYMBOLS_SYMBOL = invert(SYMBOLS_MARK);

/** Render one guess and its feedback, e.g. `renderFeedback("crane", fb, "dataset")`. */
export function renderFeedback(
  guess: string,
  feedback: readonly LetterMark[],
  notation: FeedbackNotation,
): string {
  if (!/^[a-z]{5}$/i.test(guess)) {
    throw new Error(`renderFeedback: guess must be 5 letters A-Z, got ${JSON.stringify(guess)}`);
  }
  if (feedback.length !== WORD_LENGTH) {
    throw new Error(
      `renderFeedback: need ${WORD_LENGTH} marks for ${JSON.stringify(guess)}, got ${feedback.length}`,
    );
  }
  if (notation !== "dataset" && notation !== "symbols") {
    throw new Error(
      `renderFeedback: notation must be "dataset" or "symbols", got ${JSON.stringify(notation)}`,
    );
  }
  const letters = guess.toUpperCase();
  const parts: string[] = [];
  for (let i = 0; i < WORD_LENGTH; i++) {
    const mark = feedback[i];
    const symbol = notation === "dataset" ? DATASET_MARK[mark] : SYMBOLS_MARK[mark];
    if (symbol === undefined) {
      throw new Error(
        `renderFeedback: mark ${i + 1} must be correct|present|absent, got ${JSON.stringify(mark)}`,
      );
    }
    parts.push(notation === "dataset" ? `${letters[i]}(${symbol})` : `${letters[i]}${symbol}`);
  }
  return parts.join(" ");
}

export interface ParsedFeedback {
  /** The guess, lowercase. */
  guess: string;
  feedback: Feedback;
  /** Which notation the text used. */
  notation: FeedbackNotation;
}

const DATASET_TOKEN = /^([A-Za-z])\((.)\)$/u;
const SYMBOLS_TOKEN = /^([A-Za-z])(.)$/u;

/**
 * Parse `C(✓) R(-) A(x) N(x) E(-)` or `C✓ R~ A× N× E~` back into a guess and its marks.
 * Throws an Error that quotes the text and names the bad token.
 */
export function parseFeedback(text: string): ParsedFeedback {
  const fail = (why: string): never => {
    throw new Error(`parseFeedback: ${why} in ${JSON.stringify(text)}`);
  };
  if (typeof text !== "string") fail("expected a string");
  const tokens = text
    .trim()
    .split(/\s+/u)
    .filter((t) => t.length > 0);
  if (tokens.length !== WORD_LENGTH) {
    fail(`expected ${WORD_LENGTH} space-separated letters with marks, found ${tokens.length} tokens`);
  }
  let notation: FeedbackNotation | undefined;
  let guess = "";
  const feedback: Feedback = [];
  tokens.forEach((token, i) => {
    const dataset = DATASET_TOKEN.exec(token);
    const symbols = dataset ? null : SYMBOLS_TOKEN.exec(token);
    const match = dataset ?? symbols;
    const tokenNotation: FeedbackNotation = dataset ? "dataset" : "symbols";
    if (!match) {
      fail(`token ${i + 1} ${JSON.stringify(token)} is neither "L(✓|-|x)" nor "L✓|L~|L×"`);
      return;
    }
    if (notation !== undefined && notation !== tokenNotation) {
      fail(
        `token ${i + 1} ${JSON.stringify(token)} uses the ${tokenNotation} notation after ${notation} tokens`,
      );
    }
    notation = tokenNotation;
    const mark = (dataset ? DATASET_SYMBOL : SYMBOLS_SYMBOL).get(match[2]);
    if (mark === undefined) {
      const allowed = dataset ? "✓, - or x" : "✓, ~ or ×";
      fail(
        `token ${i + 1} ${JSON.stringify(token)} has mark ${JSON.stringify(match[2])}, expected ${allowed}`,
      );
      return;
    }
    guess += match[1].toLowerCase();
    feedback.push(mark);
  });
  return { guess, feedback, notation: notation as FeedbackNotation };
}
