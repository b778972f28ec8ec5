import assert from "node:assert/strict";
import { test } from "node:test";
import { aggregateBehaviour, behaviourMetrics, completionBehaviour } from "../src/task/metrics.js";
import { scoreGuess } from "../src/wordle/score.js";

const history = (secret: string, guesses: string[]) =>
  guesses.map((guess) => ({ guess, feedback: scoreGuess(guess, secret) }));
// CRANE -> C(x) R(x) A(-) N(x) E(-); SWEAT -> S(x) W(x) E(-) A(-) T(x)
const ALLEY = { secret: "alley", history: history("alley", ["crane", "sweat"]) };
const said = (guess: string) => `reasoning</think>\n<guess>${guess}</guess>`;

test("per-completion behaviour", () => {
  assert.deepEqual(completionBehaviour(ALLEY, said("ALLEY")), {
    guess: "ALLEY",
    validFormat: true,
    invalidWord: false,
    feedbackConsistent: true,
    deadLetterReuse: false,
    win: true,
  });
  // TEASE: a real word, but A and E sit where they were yellow, and T, S are dead.
  assert.deepEqual(completionBehaviour(ALLEY, said("TEASE")), {
    guess: "TEASE",
    validFormat: true,
    invalidWord: false,
    feedbackConsistent: false,
    deadLetterReuse: true,
    win: false,
  });
  // ALLEX reproduces both past patterns (so it "could be the answer" by feedback) but is not a
  // word; without </think> the format is not valid.
  assert.deepEqual(completionBehaviour(ALLEY, "<guess>ALLEX</guess>"), {
    guess: "ALLEX",
    validFormat: false,
    invalidWord: true,
    feedbackConsistent: true,
    deadLetterReuse: false,
    win: false,
  });
  const none = completionBehaviour(ALLEY, "I am not sure");
  assert.equal(none.guess, null);
  assert.ok(
    !none.validFormat && !none.invalidWord && !none.feedbackConsistent && !none.deadLetterReuse && !none.win,
  );
});

test("dead letters use exact duplicate semantics", () => {
  // SPEED vs ABIDE: one E is yellow and one grey, so E is NOT dead; S and P are.
  const ABIDE = { secret: "abide", history: history("abide", ["speed"]) };
  assert.equal(completionBehaviour(ABIDE, said("DEBIT")).deadLetterReuse, false);
  assert.equal(completionBehaviour(ABIDE, said("DEBIT")).feedbackConsistent, true);
  assert.equal(completionBehaviour(ABIDE, said("SPITE")).deadLetterReuse, true);
});

test("aggregate rates: format over all completions, the rest over 5-letter guesses", () => {
  const items = [said("ALLEY"), said("TEASE"), "<guess>ALLEX</guess>", said("AL"), "no guess"].map((c) =>
    completionBehaviour(ALLEY, c),
  );
  const rates = aggregateBehaviour(items);
  assert.deepEqual(rates, {
    count: 5,
    guess_count: 3, // ALLEY, TEASE, ALLEX
    format_rate: 2 / 5, // ALLEY, TEASE
    invalid_word_rate: 1 / 3, // ALLEX
    feedback_consistent_rate: 2 / 3, // ALLEY, ALLEX
    dead_letter_reuse_rate: 1 / 3, // TEASE
    win_rate: 1 / 3, // ALLEY
  });
  assert.deepEqual(behaviourMetrics(rates), {
    "behaviour/format_rate": 0.4,
    "behaviour/invalid_word_rate": 1 / 3,
    "behaviour/feedback_consistent_rate": 2 / 3,
    "behaviour/dead_letter_reuse_rate": 1 / 3,
    "behaviour/win_rate": 1 / 3,
  });
  assert.equal(aggregateBehaviour([]).win_rate, 0);
});
