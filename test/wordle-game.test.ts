import assert from "node:assert/strict";
import { test } from "node:test";
import { type GuessResult, WordleGame } from "../src/wordle/game.js";
import { hardModeRules, hardModeViolation } from "../src/wordle/hard-mode.js";
import { scoreGuess } from "../src/wordle/score.js";

test("a won game: feedback each turn, win on the secret, then over", () => {
  const game = new WordleGame({ secret: "BRISK" });
  const r1 = game.guess("storm");
  assert.equal(r1.status, "continue");
  assert.deepEqual(r1.status === "continue" && r1.feedback, scoreGuess("storm", "brisk"));
  assert.equal(game.guess("Brave").status, "continue");
  const r3 = game.guess("brisk");
  assert.deepEqual(r3, { status: "win", guess: "brisk", feedback: scoreGuess("brisk", "brisk"), turn: 3 });
  assert.equal(game.turnsUsed, 3);
  assert.ok(game.isOver && game.isWon);
  assert.deepEqual(
    game.history.map((t) => t.guess),
    ["storm", "brave", "brisk"],
  );
  assert.throws(() => game.guess("crane"), /game is over \(won\)/);
});

test("a lost game ends after six turns and reveals the secret", () => {
  const game = new WordleGame({ secret: "fuzzy" });
  const guesses = ["crane", "slate", "pious", "moldy", "tight", "brick"];
  const results: GuessResult[] = guesses.map((g) => game.guess(g));
  assert.deepEqual(
    results.map((r) => r.status),
    ["continue", "continue", "continue", "continue", "continue", "loss"],
  );
  const last = results[5];
  assert.equal(last.status === "loss" && last.secret, "fuzzy");
  assert.ok(game.isOver && !game.isWon);
});

test("invalid guesses are refused with a reason and do not use a turn", () => {
  const game = new WordleGame({ secret: "crane", maxTurns: 2 });
  const cases: [unknown, string, RegExp][] = [
    ["cran", "format", /5 letters/],
    ["crane!", "format", /5 letters/],
    ["", "format", /5 letters/],
    ["zzzzz", "not-a-word", /ZZZZZ is not in the word list/],
    ["fréck", "format", /5 letters/],
  ];
  for (const [word, kind, reason] of cases) {
    const r = game.guess(word as string);
    assert.equal(r.status, "invalid", String(word));
    if (r.status === "invalid") {
      assert.equal(r.kind, kind);
      assert.match(r.reason, reason);
    }
  }
  assert.equal(game.turnsUsed, 0);
  assert.equal(game.invalidGuesses, cases.length);
  assert.equal(game.guess("slate").status, "continue");
  assert.equal(game.guess("trace").status, "loss", "maxTurns 2 ends the game on the second valid guess");
});

test("the 14,855 list accepts newer words that the 12,972 list refuses; custom sets work", () => {
  // ABEAT is in the later NYT list only (data/wordle-allowed-14855.txt minus wordle-allowed.txt).
  const game12 = new WordleGame({ secret: "crane", allowed: "12972" });
  const game14 = new WordleGame({ secret: "crane", allowed: "14855" });
  assert.equal(game12.guess("abeat").status, "invalid");
  assert.equal(game14.guess("abeat").status, "continue");
  const custom = new WordleGame({ secret: "crane", allowed: new Set(["crane"]) });
  assert.equal(custom.guess("slate").status, "invalid");
  assert.equal(custom.guess("crane").status, "win");
});

test("hard mode: greens stay in place, yellows must be reused", () => {
  const game = new WordleGame({ secret: "abide", hardMode: true });
  // SPEED vs ABIDE: S(x) P(x) E(-) E(x) D(-) -> must contain E and D.
  assert.equal(game.guess("speed").status, "continue");
  const r = game.guess("crane");
  assert.equal(r.status, "invalid");
  assert.equal(r.status === "invalid" && r.kind, "hard-mode");
  assert.match(r.status === "invalid" ? r.reason : "", /hard mode: guess must contain D/);
  assert.equal(game.turnsUsed, 1);
  assert.equal(game.guess("dense").status, "continue", "contains D and E; reusing grey S is allowed");
  // DENSE vs ABIDE: D(-) E(x) N(x) S(x) E(✓) -> E must stay 5th.
  const moved = game.guess("ended");
  assert.equal(moved.status === "invalid" && moved.reason, "hard mode: 5th letter must be E");
  assert.equal(game.guess("glide").status, "continue", "GLIDE keeps E last and has D");
  assert.equal(game.guess("abide").status, "win");
  assert.equal(game.turnsUsed, 4);
  assert.equal(game.invalidGuesses, 2);
});

test("hardModeViolation names the missing green or letter count", () => {
  const rules = hardModeRules([
    { guess: "geese", feedback: scoreGuess("geese", "eerie") }, // absent,correct,present,absent,correct
  ]);
  assert.equal(hardModeViolation("eerie", rules), null);
  assert.equal(hardModeViolation("crane", rules), "2nd letter must be E");
  assert.equal(hardModeViolation("beene", rules), null);
  assert.equal(hardModeViolation("melee", rules), null, "three Es with the green one in place");
  assert.equal(hardModeViolation("metre", rules), "guess must contain 3 copies of E");
});

test("bad secrets and maxTurns are rejected", () => {
  assert.throws(() => new WordleGame({ secret: "toolong" }), /secret must be 5 letters/);
  assert.throws(() => new WordleGame({ secret: "crane", maxTurns: 0 }), /maxTurns/);
});
