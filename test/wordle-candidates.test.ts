import assert from "node:assert/strict";
import { test } from "node:test";
import { candidates, encodeHistory, type HistoryEntry, isConsistent } from "../src/wordle/candidates.js";
import { type LetterMark, scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

/**
 * An independent, rule-by-rule filter used as the oracle: greens fix letters, and for every
 * letter the guess's green+yellow count is a lower bound on the secret's count (an exact count
 * when the same letter also drew a grey); a yellow or grey letter is not at that position.
 */
function bruteForceConsistent(word: string, history: HistoryEntry[]): boolean {
  for (const { guess, feedback } of history) {
    const g = guess.toLowerCase();
    const shown = new Map<string, number>();
    const capped = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const mark = feedback[i];
      if (mark === "correct" && word[i] !== g[i]) return false;
      if (mark !== "correct" && word[i] === g[i]) return false;
      if (mark === "absent") capped.add(g[i]);
      else shown.set(g[i], (shown.get(g[i]) ?? 0) + 1);
    }
    for (const letter of new Set(g)) {
      const have = [...word].filter((c) => c === letter).length;
      const need = shown.get(letter) ?? 0;
      if (capped.has(letter) ? have !== need : have < need) return false;
    }
  }
  return true;
}

test("candidates equal a brute-force rule filter on many histories", () => {
  const { answers, allowed } = loadWordLists();
  const guesses = ["salet", "speed", "eerie", "geese", "llama", "mamma", "abbey", "crane", "fuzzy", "sissy"];
  let checked = 0;
  for (let s = 0; s < answers.length; s += 97) {
    const secret = answers[s];
    for (let a = 0; a < guesses.length; a++) {
      const second = allowed[(s * 7 + a * 131) % allowed.length];
      const history: HistoryEntry[] = [guesses[a], second].map((guess) => ({
        guess,
        feedback: scoreGuess(guess, secret),
      }));
      const fast = candidates(history, answers);
      const slow = answers.filter((w) => bruteForceConsistent(w, history));
      assert.deepEqual(fast, slow, `${secret} after ${guesses[a]},${second}`);
      assert.ok(fast.includes(secret), `${secret} must stay possible`);
      checked++;
    }
  }
  assert.ok(checked > 200);
});

test("known filter results, including duplicate-letter feedback", () => {
  const mark = (s: string): LetterMark[] =>
    [...s].map((c) => (c === "g" ? "correct" : c === "y" ? "present" : "absent"));
  // SPEED vs ABIDE: the second E is grey because ABIDE has one E, so exactly one E.
  const history: HistoryEntry[] = [{ guess: "SPEED", feedback: mark("..y.y") }];
  assert.ok(isConsistent("abide", history));
  assert.ok(!isConsistent("eerie", history), "more than one E contradicts the grey E");
  assert.ok(!isConsistent("deeds", history));
  const none = candidates([{ guess: "crane", feedback: mark("ggggg") }], ["crane", "crate"]);
  assert.deepEqual(none, ["crane"]);
  assert.deepEqual(candidates([], ["b", "a"]), ["b", "a"], "empty history keeps every word");
});

test("bad history entries are named", () => {
  assert.throws(
    () => encodeHistory([{ guess: "toolong", feedback: scoreGuess("crane", "crane") }]),
    /history\[0\]/,
  );
});

test("encodeHistory accepts marks or codes and names bad entries", () => {
  const fb = scoreGuess("crane", "sweat");
  const coded = encodeHistory([
    { guess: "CRANE", feedback: fb },
    { guess: "Sweat", code: 242 },
  ]);
  assert.deepEqual(coded[1], { guess: "sweat", code: 242 });
  assert.equal(coded[0].guess, "crane");
  assert.throws(() => encodeHistory([{ guess: "crane", code: 243 }]), /history\[0\]: pattern code/);
  const badMarks = [
    { guess: "crane", feedback: ["correct", "green", "absent", "absent", "absent"] as LetterMark[] },
  ];
  assert.throws(() => encodeHistory(badMarks), /history\[0\]: feedback must be 5 of/);
  assert.throws(() => encodeHistory([fbEntry("crane"), fbEntry("cran")]), /history\[1\]/);
});

function fbEntry(guess: string): HistoryEntry {
  return { guess, feedback: ["absent", "absent", "absent", "absent", "absent"] };
}
