/**
 * Wordle scoring with exact duplicate-letter semantics: greens are assigned first, then each
 * remaining guess letter (left to right) is yellow only while the secret still has an unmatched
 * copy of it. Example: SPEED vs ABIDE -> absent, absent, present, absent, present.
 */

export type LetterMark = "correct" | "present" | "absent";
export type Feedback = LetterMark[];

export const WORD_LENGTH = 5;
/** Number of distinct feedback patterns: 3^5. */
export const PATTERN_COUNT = 243;
/** Pattern code of five greens. */
export const ALL_CORRECT = PATTERN_COUNT - 1;

const MARK_DIGIT: Record<LetterMark, number> = { absent: 0, present: 1, correct: 2 };
const DIGIT_MARK: LetterMark[] = ["absent", "present", "correct"];

const A = 97;

function assertWord(word: string, role: string): void {
  if (word.length !== WORD_LENGTH || !/^[a-z]{5}$/i.test(word)) {
    throw new Error(`scoreGuess: ${role} must be 5 letters A-Z, got ${JSON.stringify(word)}`);
  }
}

/**
 * Pattern code in 0..242 (base 3, position i is digit i: absent 0, present 1, correct 2).
 * Both words must be lowercase a-z of length 5; this is the hot path of the solvers, so it
 * does no validation and allocates nothing.
 */
export function patternCode(guess: string, secret: string): number {
  // Unmatched secret letter counts after greens.
  const counts = scratchCounts;
  counts.fill(0);
  let code = 0;
  let greenMask = 0;
  for (let i = 0; i < WORD_LENGTH; i++) {
    const s = secret.charCodeAt(i) - A;
    if (guess.charCodeAt(i) - A === s) greenMask |= 1 << i;
    else counts[s]++;
  }
  let pow = 1;
  for (let i = 0; i < WORD_LENGTH; i++) {
    if (greenMask & (1 << i)) code += 2 * pow;
    else {
      const g = guess.charCodeAt(i) - A;
      if (counts[g] > 0) {
        counts[g]--;
        code += pow;
      }
    }
    pow *= 3;
  }
  return code;
}
const scratchCounts = new Int8Array(26);

export function decodePattern(code: number): Feedback {
  if (!Number.isInteger(code) || code < 0 || code >= PATTERN_COUNT) {
    throw new Error(`decodePattern: code must be an integer in 0..242, got ${code}`);
  }
  const marks: Feedback = [];
  for (let i = 0; i < WORD_LENGTH; i++) {
    marks.push(DIGIT_MARK[code % 3]);
    code = Math.floor(code / 3);
  }
  return marks;
}

export function encodePattern(feedback: readonly LetterMark[]): number {
  if (feedback.length !== WORD_LENGTH) throw new Error(`encodePattern: need 5 marks, got ${feedback.length}`);
  let code = 0;
  let pow = 1;
  for (const mark of feedback) {
    code += MARK_DIGIT[mark] * pow;
    pow *= 3;
  }
  return code;
}

/** Score a guess against the secret (case-insensitive). */
export function scoreGuess(guess: string, secret: string): Feedback {
  assertWord(guess, "guess");
  assertWord(secret, "secret");
  return decodePattern(patternCode(guess.toLowerCase(), secret.toLowerCase()));
}
