/**
 * Preset `seed`: the original Python system's final rewards, reproduced faithfully,
 * quirks included. total = format + feedback + info_gain (weights 1, 1, 1). The dictionary is the
 * course word list (data/predibase-five_letter_words.csv), the file the dataset's `word_list` names.
 *
 * Duplicate-letter quirk (kept on purpose, see docs/rewards.md): the history is read letter by letter,
 * and a letter marked `(x)` is "dead" even when the same letter is green or yellow elsewhere in that
 * guess. Example: SPEED vs ABIDE marks the first E present and the second E absent, so the seed
 * rewards call E dead and present at once; a later guess with an E gets -0.5 for it, and the
 * info_gain filter (a letter marked x must not occur) rules out every word, so info_gain is 0
 * after such a turn. The `exact` preset reads the same history correctly.
 */
import { BoundedCache } from "../../util/bounded-cache.js";
import { loadCourseDictionary } from "../dictionaries.js";
import { parseGuess } from "../parse-guess.js";
import { historyKey } from "../state.js";
import { clampProgress, distinctCount, readThinkThenGuess } from "./common.js";
import type { NamedReward, RewardState } from "./types.js";

/** Penalty for a wrong-length or unknown word: half strength at the start, full at the end. */
export function seedPenalty(progress: number): number {
  return -1.5 * (0.5 + 0.5 * clampProgress(progress));
}

/**
 * format (`output_format_check`): 0 without a complete `<guess>...</guess>` (an unclosed tag counts
 * as none); +0.4 when `</think>` comes before `<guess>`,
 * else +0.2; then a wrong-length guess adds the penalty and stops; a dictionary word adds +0.4,
 * any other 5-letter string adds the penalty.
 */
export function seedFormat(_state: RewardState, completion: string, progress: number): number {
  const { location, thinkClosedFirst } = readThinkThenGuess(completion);
  if (location === null) return 0;
  const structure = thinkClosedFirst ? 0.4 : 0.2;
  if (location.guess.length !== 5) return structure + seedPenalty(progress);
  const known = loadCourseDictionary().set.has(location.guess.toLowerCase());
  return structure + (known ? 0.4 : seedPenalty(progress));
}

/** The seed's per-letter reading of a history (with the duplicate-letter quirk). */
interface SeedClues {
  confirmed: Map<number, string>;
  /** Present letter -> positions where it was marked present. */
  present: Map<string, Set<number>>;
  dead: Set<string>;
}

function seedClues(state: RewardState): SeedClues {
  const confirmed = new Map<number, string>();
  const present = new Map<string, Set<number>>();
  const dead = new Set<string>();
  for (const { guess, feedback } of state.history) {
    const word = guess.toUpperCase();
    for (let i = 0; i < 5; i++) {
      const letter = word[i];
      if (feedback[i] === "correct") confirmed.set(i, letter);
      else if (feedback[i] === "present") {
        const tried = present.get(letter) ?? new Set<number>();
        tried.add(i);
        present.set(letter, tried);
      } else dead.add(letter);
    }
  }
  return { confirmed, present, dead };
}

/**
 * feedback (`uses_previous_feedback`), for a 5-letter guess (else 0). Empty history: 0.05 per
 * distinct letter. Otherwise: each confirmed position +0.4 kept / -0.2 not; each present letter
 * +0.3 if its first occurrence is at an untried position, -0.2 if at a tried one, -0.4 if missing;
 * -0.5 per occurrence of a dead letter; +0.05 per distinct letter not yet known at all; clamped
 * below at -1.2.
 */
export function seedFeedback(state: RewardState, completion: string): number {
  const guess = parseGuess(completion);
  if (guess === null || guess.length !== 5) return 0;
  if (state.history.length === 0) return 0.05 * distinctCount(guess);
  const { confirmed, present, dead } = seedClues(state);
  let reward = 0;
  for (const [position, letter] of confirmed) reward += guess[position] === letter ? 0.4 : -0.2;
  for (const [letter, tried] of present) {
    const first = guess.indexOf(letter);
    if (first < 0) reward -= 0.4;
    else reward += tried.has(first) ? -0.2 : 0.3;
  }
  for (const letter of guess) if (dead.has(letter)) reward -= 0.5;
  const confirmedLetters = new Set(confirmed.values());
  for (const letter of new Set(guess)) {
    if (!confirmedLetters.has(letter) && !present.has(letter) && !dead.has(letter)) reward += 0.05;
  }
  return Math.max(reward, -1.2);
}

/**
 * The seed's candidate filter, letter by letter: a green letter must be at its position, a
 * present letter must occur but not at that position, an absent letter must not occur at all
 * (the quirk: wrong for duplicates). Returns the bit set (bit 0 = A) of letters in the survivors.
 */
function seedCandidateLetters(state: RewardState, words: readonly string[]): number {
  const rules: { position: number; letter: string; mark: string }[] = [];
  for (const { guess, feedback } of state.history) {
    const word = guess.toLowerCase();
    for (let i = 0; i < 5; i++) rules.push({ position: i, letter: word[i], mark: feedback[i] });
  }
  let letters = 0;
  for (const word of words) {
    const ok = rules.every(({ position, letter, mark }) =>
      mark === "correct"
        ? word[position] === letter
        : mark === "present"
          ? word.includes(letter) && word[position] !== letter
          : !word.includes(letter),
    );
    if (ok) for (let i = 0; i < 5; i++) letters |= 1 << (word.charCodeAt(i) - 97);
  }
  return letters;
}

const candidateLetterCache = new BoundedCache<string, number>(4096);
const COMMON_LETTERS = new Set("ETAOINSHRDLU");

/**
 * info_gain (`guess_value`): 0 unless the guess is a dictionary word. With A the letters of the
 * dictionary words the seed filter keeps: uniqueness = |distinct guess letters in A| / 5,
 * commonality = (guess letters, repeats counted, in ETAOINSHRDLU and in A) / 5,
 * value = 0.6 * uniqueness + 0.4 * commonality.
 */
export function seedInfoGain(state: RewardState, completion: string): number {
  const guess = parseGuess(completion);
  if (guess === null || guess.length !== 5) return 0;
  const dictionary = loadCourseDictionary();
  if (!dictionary.set.has(guess.toLowerCase())) return 0;
  const letters = candidateLetterCache.getOrCompute(historyKey(state.history), () =>
    seedCandidateLetters(state, dictionary.words),
  );
  const inA = (letter: string) => (letters & (1 << (letter.charCodeAt(0) - 65))) !== 0;
  let unique = 0;
  for (const letter of new Set(guess)) if (inA(letter)) unique++;
  let common = 0;
  for (const letter of guess) if (COMMON_LETTERS.has(letter) && inA(letter)) common++;
  return 0.6 * (unique / 5) + 0.4 * (common / 5);
}

export function seedRewards(): NamedReward[] {
  return [
    { name: "format", weight: 1, fn: seedFormat },
    { name: "feedback", weight: 1, fn: seedFeedback },
    { name: "info_gain", weight: 1, fn: seedInfoGain },
  ];
}
