import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  FROST,
  HELD_OUT_RESERVE,
  heldOutSecrets,
  reservedSecrets,
  resolveEvalSet,
  seedDatasetSecrets,
  trainingSecrets,
} from "../src/eval/secrets.js";
import { generateStates } from "../src/task/generate-states.js";
import { loadWordLists } from "../src/wordle/words.js";

test("held-out secrets: FROST first, 200 more, none of them a training or seed-dataset secret", () => {
  const heldOut = heldOutSecrets({ count: HELD_OUT_RESERVE });
  assert.equal(heldOut[0], FROST);
  assert.equal(heldOut.length, 201);
  assert.equal(new Set(heldOut).size, 201);
  const training = new Set(trainingSecrets());
  const seed = seedDatasetSecrets();
  assert.equal(seed.size, 75);
  for (const word of heldOut) {
    assert.ok(!training.has(word), `${word} is held out and a training secret`);
    assert.ok(!seed.has(word), `${word} is held out and a seed-dataset secret`);
  }
  // Together they cover the answers exactly once.
  assert.equal(training.size + reservedSecrets().size, loadWordLists().answers.length);
});

test("generated training states never use a reserved secret", () => {
  const reserved = reservedSecrets();
  const states = generateStates({ count: 4000, seed: 5, policy: "random-consistent", heldOut: reserved });
  for (const s of states) assert.ok(!reserved.has(s.secret), s.secret);
  // Without the exclusion the same draw does hit reserved words: the check above can fail.
  const open = generateStates({ count: 4000, seed: 5, policy: "random-consistent" });
  assert.ok(open.some((s) => reserved.has(s.secret)));
});

test("held-out sets are nested and fixed: the 100 of the in-training eval lie inside the 200", () => {
  const hundred = heldOutSecrets();
  assert.equal(hundred.length, 101);
  const all = new Set(heldOutSecrets({ count: 200 }));
  for (const w of hundred) assert.ok(all.has(w), w);
  assert.deepEqual(heldOutSecrets(), hundred, "deterministic");
  assert.deepEqual(heldOutSecrets({ count: 3, includeFrost: false }).length, 3);
  assert.throws(() => heldOutSecrets({ count: 201 }), /count must be an integer in 0\.\.200/);
});

test("resolveEvalSet: all, held-out, words:, list:FILE and clear errors", () => {
  assert.equal(resolveEvalSet("all").secrets.length, 2315);
  assert.equal(resolveEvalSet("held-out").secrets.length, 201);
  assert.equal(resolveEvalSet("held-out", { heldOutCount: 10 }).secrets.length, 11);
  assert.deepEqual(resolveEvalSet("words:Frost, crane").secrets, ["frost", "crane"]);
  assert.throws(
    () => resolveEvalSet("words:frost,xyzzy"),
    /word 2: "xyzzy" is not one of the 2,315 Wordle answers/,
  );
  const dir = mkdtempSync(join(tmpdir(), "eval-secrets-"));
  const file = join(dir, "list.txt");
  writeFileSync(file, "# my list\nfrost crane\n\nabide, # trailing comment\nqqqqq\n");
  assert.throws(() => resolveEvalSet(`list:${file}`), /line 5: "qqqqq" is not one of/);
  writeFileSync(file, "# my list\nfrost crane\n\nabide, # trailing comment\n");
  assert.deepEqual(resolveEvalSet(`list:${file}`).secrets, ["frost", "crane", "abide"]);
  assert.throws(() => resolveEvalSet(`list:${join(dir, "missing.txt")}`), /cannot read it/);
  assert.throws(() => resolveEvalSet("everything"), /--set must be all, held-out, list:FILE or words:a,b,c/);
});
