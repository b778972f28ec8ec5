import assert from "node:assert/strict";
import { test } from "node:test";
import { generateStates, type StatePolicy } from "../src/task/generate-states.js";
import { splitSecrets } from "../src/task/split.js";
import { isConsistent } from "../src/wordle/candidates.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

const lists = loadWordLists();

function checkStates(policy: StatePolicy, count: number, minHistory = 0, maxHistory = 5) {
  const states = generateStates({ count, seed: 11, policy, minHistory, maxHistory });
  assert.equal(states.length, count);
  for (const s of states) {
    assert.ok(lists.answerSet.has(s.secret));
    assert.ok(s.history.length <= maxHistory);
    s.history.forEach((h, t) => {
      assert.notEqual(h.guess, s.secret, `${s.id}: the history never contains the solved secret`);
      assert.ok(lists.allowedSet.has(h.guess));
      assert.deepEqual(h.feedback, scoreGuess(h.guess, s.secret), `${s.id}: feedback is the real scoring`);
      if (policy === "random-consistent") {
        assert.ok(
          isConsistent(h.guess, s.history.slice(0, t)),
          `${s.id}: guess ${t} uses all earlier feedback`,
        );
      }
    });
  }
  return states;
}

test("random-word states: lengths spread over 0..5, real feedback, no repeats", () => {
  const states = checkStates("random-word", 600);
  const lengths = new Set(states.map((s) => s.history.length));
  assert.deepEqual([...lengths].sort(), [0, 1, 2, 3, 4, 5]);
  for (const s of states) assert.equal(new Set(s.history.map((h) => h.guess)).size, s.history.length);
});

test("random-consistent states use all feedback; a drawn length stops before the solving guess", () => {
  const states = checkStates("random-consistent", 400, 2, 5);
  assert.ok(states.some((s) => s.history.length === 5));
  // Only a solve can cut a history below minHistory, and solving by the second guess is rare.
  const short = states.filter((s) => s.history.length < 2).length;
  assert.ok(short < states.length * 0.05, `${short} of ${states.length} histories shorter than 2`);
});

test("entropy states: the opener first, then a deterministic choice per history", () => {
  const states = checkStates("entropy", 150, 1, 5);
  const next = new Map<string, string>();
  for (const s of states) {
    assert.equal(s.history[0].guess, "salet");
    if (s.history.length >= 2) {
      const key = s.history[0].feedback.join();
      assert.equal(next.get(key) ?? s.history[1].guess, s.history[1].guess, "same feedback, same reply");
      next.set(key, s.history[1].guess);
    }
  }
  const crane = generateStates({
    count: 5,
    seed: 1,
    policy: "entropy",
    minHistory: 1,
    maxHistory: 1,
    opener: "CRANE",
  });
  assert.ok(crane.every((s) => s.history.length === 0 || s.history[0].guess === "crane"));
});

test("generation is deterministic by seed, and a shorter request is a prefix of a longer one", () => {
  const a = generateStates({ count: 50, seed: 5, policy: "random-consistent" });
  const b = generateStates({ count: 50, seed: 5, policy: "random-consistent" });
  const c = generateStates({ count: 20, seed: 5, policy: "random-consistent" });
  const d = generateStates({ count: 50, seed: 6, policy: "random-consistent" });
  assert.deepEqual(a, b);
  assert.deepEqual(c, a.slice(0, 20));
  assert.notDeepEqual(
    d.map((s) => s.secret),
    a.map((s) => s.secret),
  );
  assert.equal(a[7].id, "gen-5-7");
});

test("held-out secrets never appear in generated training states", () => {
  const split = splitSecrets(3, 315);
  assert.equal(split.heldOut.length, 315);
  assert.equal(split.train.length, 2315 - 315);
  assert.deepEqual(new Set([...split.train, ...split.heldOut]), lists.answerSet);
  assert.deepEqual(splitSecrets(3, 315), split, "deterministic");
  const heldOut = new Set(split.heldOut);
  const states = generateStates({ count: 3000, seed: 9, policy: "random-word", maxHistory: 1, heldOut });
  assert.ok(states.every((s) => !heldOut.has(s.secret)));
  // With secrets given, the held-out ones are still removed.
  const only = generateStates({
    count: 30,
    seed: 1,
    policy: "random-word",
    secrets: ["CRANE", "SLATE"],
    heldOut: ["slate"],
  });
  assert.ok(only.every((s) => s.secret === "crane"));
});

test("bad options get clear errors", () => {
  const base = { count: 1, seed: 1, policy: "random-word" as const };
  assert.throws(() => generateStates({ ...base, maxHistory: 6 }), /0 <= minHistory <= maxHistory <= 5/);
  assert.throws(
    () => generateStates({ ...base, minHistory: 3, maxHistory: 2 }),
    /0 <= minHistory <= maxHistory <= 5/,
  );
  assert.throws(() => generateStates({ ...base, policy: "smart" as never }), /policy must be one of/);
  assert.throws(
    () => generateStates({ ...base, secrets: ["zzzzz"] }),
    /"zzzzz" is not one of the 2,315 answers/,
  );
  assert.throws(() => generateStates({ ...base, secrets: ["crane"], heldOut: ["crane"] }), /no secrets left/);
  assert.throws(() => generateStates({ ...base, policy: "entropy", opener: "qqqqq" }), /opener "qqqqq"/);
  assert.throws(() => splitSecrets(1, 2315), /heldOutCount must be an integer in 0\.\.2314/);
});
