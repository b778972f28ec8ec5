/**
 * Hand-worked reward values for the three presets, each at progress 0 and 1. The arithmetic is
 * written next to every expectation; the positions come from seed rows (secrets ALLEY, ALLOT,
 * DRONE, ABHOR) plus one duplicate-letter position (SPEED against ABIDE).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadCourseDictionary } from "../src/task/dictionaries.js";
import { courseCandidates } from "../src/task/rewards/course.js";
import { exactCandidates } from "../src/task/rewards/exact.js";
import { rewardPreset } from "../src/task/rewards/presets.js";
import type { RewardState } from "../src/task/rewards/types.js";
import { scoreGuess } from "../src/wordle/score.js";

function position(secret: string, guesses: string[]): RewardState {
  return { secret, history: guesses.map((guess) => ({ guess, feedback: scoreGuess(guess, secret) })) };
}
/** A well-formed completion (the prompt pre-fills `<think>`). */
const said = (guess: string) => `reasoning</think>\n<guess>${guess}</guess>`;

// Seed row 0. Empty history.
const ABHOR = position("abhor", []);
// Seed row 1. CRANE -> C(x) R(x) A(-) N(x) E(-); SWEAT -> S(x) W(x) E(-) A(-) T(x).
const ALLEY = position("alley", ["crane", "sweat"]);
// Seed row 2. CRANE -> C(x) R(x) A(-) N(x) E(x); ADULT -> A(✓) D(x) U(x) L(-) T(✓).
const ALLOT = position("allot", ["crane", "adult"]);
// Seed row 18. CRANE -> C(x) R(✓) A(x) N(✓) E(✓); BRINE -> B(x) R(✓) I(x) N(✓) E(✓).
const DRONE = position("drone", ["crane", "brine"]);
// Duplicate letters: SPEED vs ABIDE -> S(x) P(x) E(-) E(x) D(-): exactly one E, not at 3 or 4.
const ABIDE = position("abide", ["speed"]);

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);

function check(
  preset: ReturnType<typeof rewardPreset>,
  name: string,
  state: RewardState,
  completion: string,
  expected: [number, number],
) {
  const reward = preset.rewards.find((r) => r.name === name)!;
  near(
    reward.fn(state, completion, 0),
    expected[0],
    `${preset.name}.${name} at progress 0 on ${JSON.stringify(completion)}`,
  );
  near(
    reward.fn(state, completion, 1),
    expected[1],
    `${preset.name}.${name} at progress 1 on ${JSON.stringify(completion)}`,
  );
}

test("seed format: structure 0.4/0.2, word +0.4, penalty -1.5 x (0.5 + 0.5 x progress)", () => {
  const seed = rewardPreset("seed");
  check(seed, "format", ALLEY, said("ALLEY"), [0.8, 0.8]); // 0.4 (</think> first) + 0.4 (word)
  check(seed, "format", ALLEY, "reasoning <guess>ALLEY</guess>", [0.6, 0.6]); // 0.2 + 0.4
  check(seed, "format", ALLEY, "<guess>ALLEY</guess> then </think>", [0.6, 0.6]); // </think> after: 0.2 + 0.4
  check(seed, "format", ALLEY, said("ALLEX"), [-0.35, -1.1]); // 0.4 - 0.75 | 0.4 - 1.5
  check(seed, "format", ALLEY, said("AL"), [-0.35, -1.1]); // wrong length: same penalty, stop
  check(seed, "format", ALLEY, "reasoning, no tag", [0, 0]);
  // LUVED is in the course dictionary the seed uses, but not one of the 12,972 accepted words.
  check(seed, "format", ALLEY, said("LUVED"), [0.8, 0.8]);
});

test("seed feedback: per-clue arithmetic, the clamp at -1.2, and the duplicate-letter quirk", () => {
  const seed = rewardPreset("seed");
  // Empty history: 0.05 x 5 distinct letters.
  check(seed, "feedback", ABHOR, said("CRANE"), [0.25, 0.25]);
  // ALLEY: present A {2,3}: first A at 0, untried +0.3; present E {4,2}: first E at 3 +0.3;
  // no dead letter; L, Y unknown +0.05 x 2.  0.3 + 0.3 + 0.1 = 0.7
  check(seed, "feedback", ALLEY, said("ALLEY"), [0.7, 0.7]);
  // TEASE: A first at 2, tried -0.2; E first at 1 +0.3; dead T, S -0.5 x 2.  -0.2 + 0.3 - 1.0 = -0.9
  check(seed, "feedback", ALLEY, said("TEASE"), [-0.9, -0.9]);
  // CRUST: dead C R S T -2.0; A, E missing -0.4 x 2; U unknown +0.05 = -2.75 -> clamped -1.2
  check(seed, "feedback", ALLEY, said("CRUST"), [-1.2, -1.2]);
  // ALLOT: confirmed A@0, T@4 kept +0.8; present A {2} first at 0 +0.3; L {3} first at 1 +0.3;
  // O unknown +0.05.  1.45
  check(seed, "feedback", ALLOT, said("ALLOT"), [1.45, 1.45]);
  // Quirk: SPEED marks E present AND dead. ABIDE: E first at 4 (tried {2}) +0.3; D first at 3
  // (tried {4}) +0.3; E dead -0.5; A, B, I unknown +0.15.  0.25 (the exact preset gives 0.75)
  check(seed, "feedback", ABIDE, said("ABIDE"), [0.25, 0.25]);
  check(seed, "feedback", ALLEY, said("ALLEYS"), [0, 0]); // not 5 letters
});

test("seed info_gain: 0.6 x uniqueness + 0.4 x commonality over the filter's letters", () => {
  const seed = rewardPreset("seed");
  const letters = new Set(loadCourseDictionary().words.join(""));
  assert.equal(letters.size, 26, "with no history every letter is in some dictionary word");
  // CRANE, empty history: uniqueness 5/5; commonality C no, R A N E yes = 4/5.  0.6 + 0.32 = 0.92
  check(seed, "info_gain", ABHOR, said("CRANE"), [0.92, 0.92]);
  // ALLOT: the secret passes the filter, so A, L, O, T are in the letter set. Uniqueness 4/5
  // (A L O T), commonality 5/5 (A L L O T all in ETAOINSHRDLU).  0.48 + 0.4 = 0.88
  check(seed, "info_gain", ALLOT, said("ALLOT"), [0.88, 0.88]);
  // DENIM after CRANE/BRINE: the filter keeps ?R?NE words without C A B I (DRONE among them);
  // none has an M (checked below) and I is dead. Uniqueness D E N = 3/5; commonality D E N = 3/5.
  const kept = loadCourseDictionary().words.filter((w) => /^.r.ne$/.test(w) && !/[cabi]/.test(w));
  assert.ok(kept.includes("drone") && !kept.some((w) => w.includes("m")));
  check(seed, "info_gain", DRONE, said("DENIM"), [0.6, 0.6]); // 0.36 + 0.24
  // Quirk: "E present" and "E absent" leave no word at all, so every guess is worth 0.
  check(seed, "info_gain", ABIDE, said("ABIDE"), [0, 0]);
  check(seed, "info_gain", ABHOR, said("CRANX"), [0, 0]); // not a dictionary word
});

test("seed total is the weighted sum; weights are configurable", () => {
  // CRANE on an empty history: 0.8 + 0.25 + 0.92 = 1.97, the same at any progress.
  const seed = rewardPreset("seed");
  near(seed.score(ABHOR, said("CRANE"), 0).total, 1.97, "total p=0");
  near(seed.score(ABHOR, said("CRANE"), 1).total, 1.97, "total p=1");
  // CRANX: format 0.4 - 0.75 | 0.4 - 1.5; feedback 0.25; info_gain 0.  -0.1 | -0.85
  near(seed.score(ABHOR, said("CRANX"), 0).total, -0.1, "CRANX p=0");
  near(seed.score(ABHOR, said("CRANX"), 1).total, -0.85, "CRANX p=1");
  // Weight 2 on info_gain: 0.8 + 0.25 + 2 x 0.92 = 2.89
  near(
    rewardPreset("seed", { weights: { info_gain: 2 } }).score(ABHOR, said("CRANE"), 0).total,
    2.89,
    "weighted",
  );
  // Progress outside [0, 1] is clamped; NaN reads as 0.
  near(seed.score(ABHOR, said("CRANX"), 7).total, -0.85, "progress 7");
  near(seed.score(ABHOR, said("CRANX"), Number.NaN).total, -0.1, "progress NaN");
});

test("course format: the regex, then 0.1 / 0.5 / 1.0, independent of progress", () => {
  const course = rewardPreset("course");
  check(course, "format", ALLEY, said("ALLEY"), [1, 1]);
  check(course, "format", ALLEY, said("ALLEX"), [0.5, 0.5]); // 5 letters, not a word
  check(course, "format", ALLEY, said("AL"), [0.1, 0.1]);
  check(course, "format", ALLEY, "reasoning</think> <guess>ALLEY</guess>", [0, 0]); // needs "\n" exactly
  check(course, "format", ALLEY, `${said("ALLEY")} done`, [0, 0]); // must end at </guess>
  check(course, "format", ALLEY, `${said("ALLEY")}\n`, [1, 1]); // Python's $ allows one final newline
  // Documented difference: the shared parser upper-cases, so lower case counts as the word.
  check(course, "format", ALLEY, said("alley"), [1, 1]);
});

test("course feedback: per-letter rules, first match wins", () => {
  const course = rewardPreset("course");
  check(course, "feedback", ABHOR, said("CRANE"), [0.1, 0.1]); // empty history
  // ALLEY: A@0 yellow elsewhere +0.1; L, L, Y untested +0.05 x 3; E@3 yellow elsewhere +0.1.  0.35
  check(course, "feedback", ALLEY, said("ALLEY"), [0.35, 0.35]);
  // TEASE: T absent -0.5; E@1 new spot +0.1; A@2 same yellow spot -0.2; S absent -0.5;
  // E@4 same yellow spot -0.2.  -1.3 (no clamp in the course)
  check(course, "feedback", ALLEY, said("TEASE"), [-1.3, -1.3]);
  // ALLOT: A@0 green +0.2; L@1, L@2 yellow elsewhere +0.1 x 2; O untested +0.05; T@4 green +0.2.  0.65
  check(course, "feedback", ALLOT, said("ALLOT"), [0.65, 0.65]);
  // DENIM: D, E, N absent -0.5 x 3; I, M untested +0.05 x 2.  -1.4
  check(course, "feedback", ALLOT, said("DENIM"), [-1.4, -1.4]);
  check(course, "feedback", ALLOT, "<guess>ALLOT</guess>", [0, 0]); // format regex fails
});

test("course info_gain: normalised expected information over consistent dictionary words", () => {
  const course = rewardPreset("course");
  assert.deepEqual(courseCandidates(ALLOT), ["alist", "allot", "aloft"]);
  // ALLOT gives ALIST, ALLOT, ALOFT three different patterns: (log2 3 - 0) / log2 3 = 1
  check(course, "info_gain", ALLOT, said("ALLOT"), [1, 1]);
  // DENIM: only ALIST has a letter of it (I), so buckets {ALIST}, {ALLOT, ALOFT}:
  // (log2 3 - (2/3) log2 2) / log2 3 = (1.5849625 - 0.6666667) / 1.5849625 = 0.5793802
  const twoOne = (Math.log2(3) - (2 / 3) * 1) / Math.log2(3);
  check(course, "info_gain", ALLOT, said("DENIM"), [twoOne, twoOne]);
  check(course, "info_gain", ALLOT, said("ALLOX"), [0, 0]); // not a dictionary word
  check(course, "info_gain", ALLOT, "<guess>ALLOT</guess>", [0, 0]); // format regex fails
  // Total: 1 + 0.65 + 1 = 2.65
  near(course.score(ALLOT, said("ALLOT"), 1).total, 2.65, "course total");
});

test("exact format: the seed's rule against the 12,972 accepted words", () => {
  const exact = rewardPreset("exact");
  check(exact, "format", ALLEY, said("ALLEY"), [0.8, 0.8]);
  check(exact, "format", ALLEY, said("ALLEX"), [-0.35, -1.1]);
  check(exact, "format", ALLEY, said("LUVED"), [-0.35, -1.1]); // not accepted by Wordle
});

test("exact feedback: letter-count bounds instead of the seed's letter-by-letter reading", () => {
  const exact = rewardPreset("exact");
  check(exact, "feedback", ABHOR, said("CRANE"), [0.25, 0.25]);
  // ALLOT: greens A@0, T@4 kept +0.8; L (min 1, no green) placed at 1, 2 (never ruled out) +0.3;
  // A and T are fully located by greens (no present term); O untried +0.05.  1.15
  check(exact, "feedback", ALLOT, said("ALLOT"), [1.15, 1.15]);
  // ABIDE after SPEED: E exactly once, not at 3/4 (1-based); D at least once, not at 5.
  // E at 5 fine +0.3; D at 4 fine +0.3; E count 1 <= max 1, no penalty; A B I untried +0.15.  0.75
  check(exact, "feedback", ABIDE, said("ABIDE"), [0.75, 0.75]);
  // EERIE: E x3 beyond max 1: -0.5 x 2; E copies at 1, 2, 5 all allowed +0.3; D missing -0.4;
  // R, I untried +0.1.  -1.0 + 0.3 - 0.4 + 0.1 = -1.0
  check(exact, "feedback", ABIDE, said("EERIE"), [-1.0, -1.0]);
  // TEASE after CRANE/SWEAT: A@3 where A was yellow -0.2; E@5 where E was yellow -0.2;
  // T, S dead -0.5 x 2.  -1.4 -> clamped -1.2
  check(exact, "feedback", ALLEY, said("TEASE"), [-1.2, -1.2]);
});

test("exact info_gain over consistent answers, and win", () => {
  const exact = rewardPreset("exact");
  assert.deepEqual(exactCandidates(DRONE), ["drone", "prone", "prune"]);
  check(exact, "info_gain", DRONE, said("DRONE"), [1, 1]); // three patterns of three
  // DENIM: D green only for DRONE; PRONE and PRUNE share a pattern.  (log2 3 - 2/3) / log2 3
  const twoOne = (Math.log2(3) - 2 / 3) / Math.log2(3);
  check(exact, "info_gain", DRONE, said("DENIM"), [twoOne, twoOne]);
  // ALLOT's answers are ALLOT and ALOFT; DENIM scores both all-grey: one bucket, (1 - 1) / 1 = 0
  assert.deepEqual(exactCandidates(ALLOT), ["allot", "aloft"]);
  check(exact, "info_gain", ALLOT, said("DENIM"), [0, 0]);
  check(exact, "info_gain", DRONE, said("DRONX"), [0, 0]);
  check(exact, "win", DRONE, said("DRONE"), [1, 1]);
  check(exact, "win", DRONE, said("drone"), [1, 1]);
  check(exact, "win", DRONE, said("PRONE"), [0, 0]);
  // DRONE total: format 0.8; feedback greens R N E kept 1.2 + D, O untried 0.1 = 1.3;
  // info_gain 1; win 1.  4.1, or 3.1 with the win weight at 0.
  near(exact.score(DRONE, said("DRONE"), 0).total, 4.1, "exact total");
  near(rewardPreset("exact", { weights: { win: 0 } }).score(DRONE, said("DRONE"), 1).total, 3.1, "no win");
});

test("rewardPreset rejects unknown presets and weights with a clear message", () => {
  assert.throws(
    () => rewardPreset("best" as never),
    /unknown preset "best"; expected one of seed, course, exact/,
  );
  assert.throws(
    () => rewardPreset("seed", { weights: { win: 1 } }),
    /weights\.win is not a reward of this preset/,
  );
  assert.throws(() => rewardPreset("exact", { weights: { win: Number.NaN } }), /must be a finite number/);
  assert.deepEqual(
    rewardPreset("exact").rewards.map((r) => [r.name, r.weight]),
    [
      ["format", 1],
      ["feedback", 1],
      ["info_gain", 1],
      ["win", 1],
    ],
  );
});
