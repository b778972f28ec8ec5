/**
 * Fuzz: the guess parser, every reward function of every preset and the behaviour metrics take
 * 100,000 random and adversarial completions without throwing, and every reward is a finite
 * number. Adversarial means: arbitrary UTF-16 (lone surrogates, null bytes, RTL marks), tag soup
 * (nested, unclosed, mixed case), well-formed answers (so the info-gain paths run), and a few
 * multi-megabyte strings built to trip backtracking regular expressions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateStates } from "../src/task/generate-states.js";
import { completionBehaviour } from "../src/task/metrics.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { REWARD_PRESETS, rewardPreset } from "../src/task/rewards/presets.js";
import type { RewardState } from "../src/task/rewards/types.js";
import { Rng } from "../src/util/rng.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

const PIECES = [
  "<guess>",
  "</guess>",
  "<GUESS>",
  "</Guess>",
  "<think>",
  "</think>",
  "</think>\n<guess>",
  "\n",
  " ",
  "\t",
  "guessed-word:",
  "word:",
  "answer:",
  "CRANE",
  "crane",
  "ALLEY",
  "xyz",
  "\u0000",
  "\u200f",
  "\ud800",
  "\udfff",
  "😀",
  "ß",
  "İ",
  "<guess><guess>",
  "</guess></guess>",
  "<<guess>>",
  "<guess",
  "guess>",
  "<",
  ">",
  "/",
  "\\",
  "'",
  '"',
  "(✓)",
  "→",
];

function randomUnicode(rng: Rng, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += String.fromCharCode(rng.int(0x10000));
  return s;
}

function tagSoup(rng: Rng, pieces: number): string {
  let s = "";
  for (let i = 0; i < pieces; i++) s += PIECES[rng.int(PIECES.length)];
  return s;
}

function huge(kind: number): string {
  const n = 1 << 20;
  switch (kind) {
    case 0:
      return " ".repeat(4 * n);
    case 1:
      return "<guess>".repeat(n / 4);
    case 2:
      return "</think>\n<guess>".repeat(n / 8) + " ".repeat(n);
    case 3:
      return `</think>\n<guess>${" ".repeat(2 * n)}CRANE${"\n".repeat(n)}</guess>`;
    default:
      return `${"\u0000".repeat(n)}<guess>${"a".repeat(n)}</guess>`;
  }
}

test("parser, rewards and metrics survive 100,000 random and adversarial completions", () => {
  const { answers } = loadWordLists();
  const rng = new Rng(2024);
  const words = Array.from({ length: 200 }, () => rng.pick(answers));
  const states: RewardState[] = [
    { secret: "abhor", history: [] },
    { secret: "abide", history: [{ guess: "speed", feedback: scoreGuess("speed", "abide") }] },
    ...generateStates({ count: 20, seed: 3, policy: "random-consistent" }),
  ];
  const presets = REWARD_PRESETS.map((name) => rewardPreset(name));
  const progresses = [0, 0.37, 1, Number.NaN, -1, 2, Number.POSITIVE_INFINITY];
  const completions = function* (): Generator<string> {
    for (let kind = 0; kind < 5; kind++) yield huge(kind);
    for (let i = 5; i < 100_000; i++) {
      const r = rng.int(10);
      if (r < 3) yield randomUnicode(rng, rng.int(80));
      else if (r < 7) yield tagSoup(rng, rng.int(25));
      else if (r < 9)
        yield `${tagSoup(rng, rng.int(4))}</think>\n<guess>${rng.pick(words).toUpperCase()}</guess>`;
      else yield `<guess>${randomUnicode(rng, 5)}</guess>`;
    }
  };
  let count = 0;
  for (const completion of completions()) {
    const state = states[count % states.length];
    const progress = progresses[count % progresses.length];
    const guess = parseGuess(completion);
    assert.ok(guess === null || /^[A-Z]*$/.test(guess));
    for (const preset of presets) {
      for (const reward of preset.rewards) {
        const value = reward.fn(state, completion, progress);
        if (!Number.isFinite(value)) assert.fail(`${preset.name}.${reward.name} gave ${value}`);
      }
      assert.ok(Number.isFinite(preset.score(state, completion, progress).total));
    }
    completionBehaviour(state, completion);
    count++;
  }
  assert.equal(count, 100_000);
});
