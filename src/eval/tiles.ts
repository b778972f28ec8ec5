/**
 * A guess as Wordle tiles for a terminal: coloured cells (ANSI green / yellow / grey backgrounds)
 * when the output is a colour terminal, otherwise the training plan's symbols notation
 * (`C✓ R~ A×`), which reads the same in a log file or a pipe.
 */
import type { GuessRecord } from "./game-record.js";

const RESET = "\x1b[0m";
/** Bold black on green, bold black on yellow, bold white on dark grey. */
const STYLE: Record<string, string> = { c: "\x1b[1;30;42m", p: "\x1b[1;30;43m", a: "\x1b[1;97;100m" };
const SYMBOL: Record<string, string> = { c: "✓", p: "~", a: "×" };

/** Colour by default only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function useColor(stream: { isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

/** Tiles for a word and its `cpa` feedback string. */
export function renderTiles(word: string, feedback: string, color: boolean): string {
  const letters = word.toUpperCase();
  if (letters.length !== feedback.length) {
    throw new Error(
      `renderTiles: ${JSON.stringify(word)} and feedback ${JSON.stringify(feedback)} differ in length`,
    );
  }
  return [...letters]
    .map((letter, i) =>
      color ? `${STYLE[feedback[i]]} ${letter} ${RESET}` : `${letter}${SYMBOL[feedback[i]]}`,
    )
    .join(color ? "" : " ");
}

const INVALID_TEXT: Record<string, string> = {
  unparseable: "no <guess>...</guess> in the completion",
  format: "not five letters",
  "not-a-word": "not an accepted word",
  "hard-mode": "breaks the hard-mode rules",
};

/** One guess of a game: tiles, or what was wrong with it (an invalid guess costs a turn). */
export function renderGuess(record: GuessRecord, color: boolean): string {
  if (record.valid && record.word !== null && record.feedback !== null) {
    return renderTiles(record.word, record.feedback, color);
  }
  const shown = record.word === null ? "" : `${record.word.toUpperCase()}: `;
  return `invalid guess, ${shown}${INVALID_TEXT[record.invalid ?? "format"]} (costs a turn)`;
}
