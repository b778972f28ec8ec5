/**
 * The guess x answer pattern table: codes[g * answers.length + a] = patternCode(guesses[g], answers[a]).
 * 12,972 x 2,315 = 30M bytes, built once per (guess list, answer list) pair and cached, so a
 * solver never scores a word pair twice; every later question ("how does this guess split the
 * candidates?") is a row lookup.
 *
 * Rows are guesses because the solvers' inner loop fixes a guess and walks the candidates.
 */
import { WORD_LENGTH } from "./score.js";

export interface PatternTable {
  readonly guesses: readonly string[];
  readonly answers: readonly string[];
  /** Row-major guesses x answers, values 0..242. */
  readonly codes: Uint8Array;
  readonly guessIndex: ReadonlyMap<string, number>;
  readonly answerIndex: ReadonlyMap<string, number>;
  /** For each answer, its row in `guesses` (-1 when the answer is not a valid guess). */
  readonly answerToGuess: Int32Array;
  /** For each guess, its column in `answers` (-1 when the guess can never be the secret). */
  readonly guessToAnswer: Int32Array;
}

const A = 97;
const POW3 = [1, 3, 9, 27, 81];

/** Letters as 0..25, five per word, in one flat array (cheap to index in the hot loop). */
function letterCodes(words: readonly string[], role: string): Uint8Array {
  const out = new Uint8Array(words.length * WORD_LENGTH);
  words.forEach((w, i) => {
    if (!/^[a-z]{5}$/.test(w)) {
      throw new Error(`patternTable: ${role}[${i}] must be 5 lowercase letters, got ${JSON.stringify(w)}`);
    }
    for (let k = 0; k < WORD_LENGTH; k++) out[i * WORD_LENGTH + k] = w.charCodeAt(k) - A;
  });
  return out;
}

/**
 * Per-answer facts that make a row cheap: the set of letters in the word (a 26-bit mask) and
 * how many times each letter occurs.
 */
interface AnswerFacts {
  letters: Uint8Array;
  masks: Int32Array;
  counts: Uint8Array; // answer * 26 + letter
}

function answerFacts(letters: Uint8Array, count: number): AnswerFacts {
  const masks = new Int32Array(count);
  const counts = new Uint8Array(count * 26);
  for (let a = 0; a < count; a++) {
    for (let k = 0; k < WORD_LENGTH; k++) {
      const s = letters[a * WORD_LENGTH + k];
      masks[a] |= 1 << s;
      counts[a * 26 + s]++;
    }
  }
  return { letters, masks, counts };
}

/**
 * Fill one guess's row. Why it is cheap:
 * - a guess letter that occurs once in the guess and is not green is yellow iff the answer
 *   contains it at all: the answer cannot have it at a green spot, because a green spot holds
 *   the guess's own letter there, and this letter occurs at only one spot in the guess. So one
 *   bit test against the answer's letter mask.
 * - a letter repeated in the guess needs counting: the copies left for yellows are the answer's
 *   copies minus those matched green, handed out left to right over the non-green spots.
 */
function fillRow(row: Uint8Array, guess: Uint8Array, gi: number, facts: AnswerFacts): void {
  const g0 = guess[gi];
  const g1 = guess[gi + 1];
  const g2 = guess[gi + 2];
  const g3 = guess[gi + 3];
  const g4 = guess[gi + 4];
  // Spots (as 5-bit sets) of each letter in the guess; a letter with two or more spots is "repeated".
  const spotsOf = new Map<number, number>();
  [g0, g1, g2, g3, g4].forEach((letter, k) => {
    spotsOf.set(letter, (spotsOf.get(letter) ?? 0) | (1 << k));
  });
  let uniqueSpots = 0;
  const repeated: { letter: number; spots: number }[] = [];
  for (const [letter, spots] of spotsOf) {
    if (BIT_COUNT[spots] === 1) uniqueSpots |= spots;
    else repeated.push({ letter, spots });
  }
  // A 5-letter guess repeats at most two letters; unused slots get an empty spot set.
  const r1 = repeated[0] ?? { letter: 0, spots: 0 };
  const r2 = repeated[1] ?? { letter: 0, spots: 0 };

  const { letters, masks, counts } = facts;
  for (let a = 0, ai = 0; a < row.length; a++, ai += WORD_LENGTH) {
    const greens =
      (letters[ai] === g0 ? 1 : 0) |
      (letters[ai + 1] === g1 ? 2 : 0) |
      (letters[ai + 2] === g2 ? 4 : 0) |
      (letters[ai + 3] === g3 ? 8 : 0) |
      (letters[ai + 4] === g4 ? 16 : 0);
    const mask = masks[a];
    // Bit k set: guess letter k occurs somewhere in the answer.
    const inAnswer =
      ((mask >>> g0) & 1) |
      (((mask >>> g1) & 1) << 1) |
      (((mask >>> g2) & 1) << 2) |
      (((mask >>> g3) & 1) << 3) |
      (((mask >>> g4) & 1) << 4);
    let yellows = inAnswer & ~greens & uniqueSpots;
    if (r1.spots !== 0) {
      // Copies left for yellows = answer's copies - copies matched green; first ones win.
      const left1 = counts[a * 26 + r1.letter] - BIT_COUNT[r1.spots & greens];
      yellows |= LOWEST_BITS[((r1.spots & ~greens) << 3) | left1];
      if (r2.spots !== 0) {
        const left2 = counts[a * 26 + r2.letter] - BIT_COUNT[r2.spots & greens];
        yellows |= LOWEST_BITS[((r2.spots & ~greens) << 3) | left2];
      }
    }
    row[a] = MARKS_TO_CODE[(greens << WORD_LENGTH) | yellows];
  }
}

/** Number of set bits of a 5-bit set. */
const BIT_COUNT = Uint8Array.from({ length: 32 }, (_, x) => {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
});

/** LOWEST_BITS[set << 3 | n]: the n lowest set bits of a 5-bit set (all of them when n >= size). */
const LOWEST_BITS = Uint8Array.from({ length: 32 * 8 }, (_, i) => {
  const set = i >> 3;
  let n = i & 7;
  let out = 0;
  for (let k = 0; k < WORD_LENGTH && n > 0; k++) {
    if (set & (1 << k)) {
      out |= 1 << k;
      n--;
    }
  }
  return out;
});

/** Pattern code from a 5-bit green set and a 5-bit yellow set (index green << 5 | yellow). */
const MARKS_TO_CODE = (() => {
  const table = new Uint8Array(1 << (2 * WORD_LENGTH));
  for (let greens = 0; greens < 32; greens++) {
    for (let yellows = 0; yellows < 32; yellows++) {
      let code = 0;
      for (let k = 0; k < WORD_LENGTH; k++) {
        if (greens & (1 << k)) code += 2 * POW3[k];
        else if (yellows & (1 << k)) code += POW3[k];
      }
      table[(greens << WORD_LENGTH) | yellows] = code;
    }
  }
  return table;
})();

/** Build a fresh table (no cache). Words must be lowercase a-z, length 5. */
export function buildPatternTable(guesses: readonly string[], answers: readonly string[]): PatternTable {
  const g = letterCodes(guesses, "guesses");
  const a = letterCodes(answers, "answers");
  const codes = new Uint8Array(guesses.length * answers.length);
  const facts = answerFacts(a, answers.length);
  for (let r = 0; r < guesses.length; r++) {
    fillRow(codes.subarray(r * answers.length, (r + 1) * answers.length), g, r * WORD_LENGTH, facts);
  }
  const guessIndex = new Map(guesses.map((w, i) => [w, i]));
  const answerIndex = new Map(answers.map((w, i) => [w, i]));
  const answerToGuess = Int32Array.from(answers, (w) => guessIndex.get(w) ?? -1);
  const guessToAnswer = Int32Array.from(guesses, (w) => answerIndex.get(w) ?? -1);
  return { guesses, answers, codes, guessIndex, answerIndex, answerToGuess, guessToAnswer };
}

// Cached by array identity: loadWordLists returns the same arrays each time, so a process
// builds each table at most once.
const cache = new WeakMap<readonly string[], WeakMap<readonly string[], PatternTable>>();

/** The cached table for this (guesses, answers) pair, built on first use. */
export function patternTable(guesses: readonly string[], answers: readonly string[]): PatternTable {
  let byAnswers = cache.get(guesses);
  if (!byAnswers) {
    byAnswers = new WeakMap();
    cache.set(guesses, byAnswers);
  }
  let table = byAnswers.get(answers);
  if (!table) {
    table = buildPatternTable(guesses, answers);
    byAnswers.set(answers, table);
  }
  return table;
}

/** The row of one guess: pattern code against every answer. A view, not a copy. */
export function patternRow(table: PatternTable, guess: number): Uint8Array {
  const n = table.answers.length;
  return table.codes.subarray(guess * n, (guess + 1) * n);
}
