import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketCounts, entropyOfCounts, filterByCode, guessEntropy } from "../src/wordle/entropy.js";
import { buildPatternTable, patternRow, patternTable } from "../src/wordle/pattern-table.js";
import { patternCode } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

test("the table agrees with patternCode on every pair of a hard word set", () => {
  // Triple letters, double letters in both words, greens that eat the only copy.
  const words = [
    "eerie",
    "geese",
    "speed",
    "abide",
    "steer",
    "mamma",
    "llama",
    "sassy",
    "essay",
    "error",
    "robot",
  ];
  const more = ["lllll", "abbey", "babes", "otter", "tower", "allee", "eagle", "fuzzy", "crane", "salet"];
  const all = [...words, ...more];
  const table = buildPatternTable(all, all);
  for (let g = 0; g < all.length; g++) {
    for (let a = 0; a < all.length; a++) {
      assert.equal(table.codes[g * all.length + a], patternCode(all[g], all[a]), `${all[g]} vs ${all[a]}`);
    }
  }
});

test("the full table agrees with patternCode on a spread of rows, and is cached", () => {
  const { answers, allowed } = loadWordLists();
  const table = patternTable(allowed, answers);
  assert.equal(table.codes.length, 12972 * 2315);
  assert.equal(patternTable(allowed, answers), table, "second call returns the cached table");
  for (let g = 0; g < allowed.length; g += 13) {
    const row = patternRow(table, g);
    for (let a = g % 7; a < answers.length; a += 7) {
      if (row[a] !== patternCode(allowed[g], answers[a])) {
        assert.fail(
          `${allowed[g]} vs ${answers[a]}: table ${row[a]}, patternCode ${patternCode(allowed[g], answers[a])}`,
        );
      }
    }
  }
  assert.equal(table.answerIndex.has("salet"), false, "SALET is a guess, never a secret");
  assert.equal(table.guesses[table.answerToGuess[table.answerIndex.get("crane")!]], "crane");
  assert.equal(table.guessToAnswer[table.guessIndex.get("soare")!], -1, "SOARE is a guess, not an answer");
});

test("bad words are rejected with their index", () => {
  assert.throws(() => buildPatternTable(["crane", "CRANE"], ["slate"]), /guesses\[1\]/);
});

test("entropy of hand-made splits", () => {
  assert.equal(entropyOfCounts([4]), 0);
  assert.equal(entropyOfCounts([1, 1, 1, 1]), 2);
  assert.equal(entropyOfCounts([2, 2, 0, 0]), 1);
  assert.ok(Math.abs(entropyOfCounts([2, 1, 1]) - 1.5) < 1e-12);
  assert.equal(entropyOfCounts([]), 0);
});

test("known opener entropies over the 2,315 answers (data/SOURCES.md section 4)", () => {
  const { answers, allowed } = loadWordLists();
  const table = patternTable(allowed, answers);
  const all = answers.map((_, i) => i);
  const bits = (w: string) => guessEntropy(table, table.guessIndex.get(w)!, all);
  const expected: [string, number][] = [
    ["soare", 5.886],
    ["roate", 5.883],
    ["raise", 5.878],
    ["slate", 5.856],
    ["salet", 5.835],
  ];
  for (const [word, h] of expected) assert.equal(bits(word).toFixed(3), h.toFixed(3), word);
  // SOARE is the best opener by one-step entropy among all 12,972 words.
  let best = "";
  let bestBits = -1;
  allowed.forEach((w, g) => {
    const h = guessEntropy(table, g, all);
    if (h > bestBits) [best, bestBits] = [w, h];
  });
  assert.equal(best, "soare");
});

test("bucket counts sum to the candidates and filterByCode keeps one bucket", () => {
  const { answers, allowed } = loadWordLists();
  const table = patternTable(allowed, answers);
  const all = answers.map((_, i) => i);
  const g = table.guessIndex.get("crane")!;
  const counts = bucketCounts(table, g, all);
  assert.equal(
    counts.reduce((s, c) => s + c, 0),
    answers.length,
  );
  const code = patternCode("crane", "sweat");
  const left = filterByCode(table, g, code, all);
  assert.equal(left.length, counts[code]);
  assert.ok(left.every((a) => patternCode("crane", answers[a]) === code));
  assert.ok(left.includes(table.answerIndex.get("sweat")!));
});
