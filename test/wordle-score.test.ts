import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_CORRECT, decodePattern, encodePattern, patternCode, scoreGuess } from "../src/wordle/score.js";

test("duplicate letters: greens first, then yellows bounded by remaining counts", () => {
  const cases: [string, string, string][] = [
    ["speed", "abide", "absent,absent,present,absent,present"],
    ["eerie", "steer", "present,present,present,absent,absent"],
    ["crane", "crane", "correct,correct,correct,correct,correct"],
    ["lllll", "hello", "absent,absent,correct,correct,absent"],
    ["geese", "eerie", "absent,correct,present,absent,correct"],
    ["abbey", "babes", "present,present,correct,correct,absent"],
    // A green takes the only copy, so an earlier duplicate gets no yellow.
    ["error", "robot", "absent,present,absent,correct,absent"],
    ["sassy", "essay", "present,present,correct,absent,correct"],
    ["mamma", "llama", "absent,present,absent,correct,correct"],
    ["otter", "tower", "present,present,absent,correct,correct"],
    ["allee", "eagle", "present,present,absent,present,correct"],
    ["crane", "fuzzy", "absent,absent,absent,absent,absent"],
  ];
  for (const [guess, secret, expected] of cases) {
    assert.equal(scoreGuess(guess, secret).join(","), expected, `${guess} vs ${secret}`);
    assert.equal(
      scoreGuess(guess.toUpperCase(), secret.toUpperCase()).join(","),
      expected,
      "case-insensitive",
    );
  }
});

test("pattern codes round-trip and five greens is 242", () => {
  assert.equal(patternCode("salet", "salet"), ALL_CORRECT);
  for (let code = 0; code < 243; code++) assert.equal(encodePattern(decodePattern(code)), code);
  // Digit i is position i: one green at position 1 is 2 * 3^1.
  assert.equal(patternCode("xaxxx", "zazzz".replace(/z/g, "q")), 6);
  assert.throws(() => scoreGuess("toolong", "crane"), /5 letters/);
  assert.throws(() => scoreGuess("crane", "cr4ne"), /secret must be 5 letters/);
  assert.throws(() => decodePattern(243), /0\.\.242/);
});
