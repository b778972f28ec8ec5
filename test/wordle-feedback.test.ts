import assert from "node:assert/strict";
import { test } from "node:test";
import { parseFeedback, renderFeedback } from "../src/wordle/feedback.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

test("renders both notations for known cases", () => {
  const cases: [string, string, string, string][] = [
    ["crane", "sweat", "C(x) R(x) A(-) N(x) E(-)", "C× R× A~ N× E~"],
    ["speed", "abide", "S(x) P(x) E(-) E(x) D(-)", "S× P× E~ E× D~"],
    ["eerie", "steer", "E(-) E(-) R(-) I(x) E(x)", "E~ E~ R~ I× E×"],
    ["storm", "brisk", "S(-) T(x) O(x) R(-) M(x)", "S~ T× O× R~ M×"],
    ["brisk", "brisk", "B(✓) R(✓) I(✓) S(✓) K(✓)", "B✓ R✓ I✓ S✓ K✓"],
  ];
  for (const [guess, secret, dataset, symbols] of cases) {
    const fb = scoreGuess(guess, secret);
    assert.equal(renderFeedback(guess, fb, "dataset"), dataset, `${guess}/${secret}`);
    assert.equal(renderFeedback(guess, fb, "symbols"), symbols, `${guess}/${secret}`);
  }
});

test("render -> parse round-trips in both notations for many guess/secret pairs", () => {
  const { answers, allowed } = loadWordLists();
  // A deterministic spread over the lists: every 37th allowed word against every 53rd answer.
  for (let g = 0; g < allowed.length; g += 37) {
    for (let s = 0; s < answers.length; s += 53) {
      const fb = scoreGuess(allowed[g], answers[s]);
      for (const notation of ["dataset", "symbols"] as const) {
        const parsed = parseFeedback(renderFeedback(allowed[g], fb, notation));
        assert.equal(parsed.guess, allowed[g]);
        assert.deepEqual(parsed.feedback, fb);
        assert.equal(parsed.notation, notation);
      }
    }
  }
});

test("parse forgives extra whitespace and lowercase letters", () => {
  const parsed = parseFeedback("  c(✓)   r(-) A(x)\tN(x) e(-) ");
  assert.equal(parsed.guess, "crane");
  assert.deepEqual(parsed.feedback, ["correct", "present", "absent", "absent", "present"]);
});

test("parse rejects bad input with an error naming it", () => {
  const bad: [string, RegExp][] = [
    ["", /found 0 tokens/],
    ["C(✓) R(-) A(x) N(x)", /found 4 tokens/],
    ["C(✓) R(-) A(?) N(x) E(-)", /token 3 "A\(\?\)".*expected ✓, - or x/],
    ["C✓ R~ A* N× E~", /token 3 "A\*".*expected ✓, ~ or ×/],
    ["C(✓) R~ A(x) N(x) E(-)", /token 2 "R~" uses the symbols notation after dataset/],
    ["CR(✓) R(-) A(x) N(x) E(-)", /token 1 "CR\(✓\)" is neither/],
    ["1(✓) R(-) A(x) N(x) E(-)", /token 1/],
  ];
  for (const [text, pattern] of bad) assert.throws(() => parseFeedback(text), pattern, text);
});

test("render rejects a bad guess, wrong mark count or notation", () => {
  const fb = scoreGuess("crane", "slate");
  assert.throws(() => renderFeedback("cran", fb, "dataset"), /5 letters/);
  assert.throws(() => renderFeedback("crane", fb.slice(1), "dataset"), /need 5 marks/);
  assert.throws(() => renderFeedback("crane", fb, "emoji" as "dataset"), /notation/);
});
