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
  ];
  for (const [guess, secret, expected] of cases) {
    assert.equal(scoreGuess(guess, secret).join(","), expected, `${guess} vs ${secret}`);
  }
});

test("pattern codes round-trip and five greens is 242", () => {
  assert.equal(patternCode("salet", "salet"), ALL_CORRECT);
  for (let code = 0; code < 243; code++) assert.equal(encodePattern(decodePattern(code)), code);
  assert.throws(() => scoreGuess("toolong", "crane"), /5 letters/);
});
