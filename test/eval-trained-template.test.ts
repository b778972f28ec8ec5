import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  shippedModelDir,
  trainedConstrain,
  trainedPromptTemplate,
  trainedShowRefused,
} from "../src/eval/load-policy.js";

test("evaluation defaults to the prompt template the model was trained with", () => {
  const shipped = shippedModelDir();
  assert.ok(shipped, "a model ships in models/");
  assert.equal(trainedPromptTemplate(shipped), "tiny");

  const dir = mkdtempSync(join(tmpdir(), "trained-template-"));
  assert.equal(trainedPromptTemplate(dir), null, "no training.json: no recorded template");
  writeFileSync(join(dir, "training.json"), JSON.stringify({ made_by: "someone" }));
  assert.equal(trainedPromptTemplate(dir), null, "a record without prompt_template");
  writeFileSync(join(dir, "training.json"), JSON.stringify({ prompt_template: "fancy" }));
  assert.throws(() => trainedPromptTemplate(dir), /prompt_template must be one of course, compact, tiny/);
  writeFileSync(join(dir, "training.json"), "{ not json");
  assert.throws(() => trainedPromptTemplate(dir), /training\.json: not valid JSON/);
});

test("refused guesses are shown when the adapter (else the model) was trained with them", () => {
  const model = mkdtempSync(join(tmpdir(), "trained-model-"));
  const adapter = mkdtempSync(join(tmpdir(), "trained-adapter-"));
  assert.equal(trainedShowRefused([adapter, model]), false, "no record anywhere: not shown");
  writeFileSync(
    join(model, "training.json"),
    JSON.stringify({ prompt_template: "tiny", show_refused: true }),
  );
  assert.equal(trainedShowRefused([adapter, model]), true, "the model's record");
  writeFileSync(join(adapter, "training.json"), JSON.stringify({ show_refused: false }));
  assert.equal(trainedShowRefused([adapter, model]), false, "the adapter's record comes first");
  writeFileSync(join(adapter, "training.json"), JSON.stringify({ show_refused: "yes" }));
  assert.throws(() => trainedShowRefused([adapter, model]), /show_refused must be true or false, got "yes"/);
});

test("the guess constraint is the adapter's (else the model's) recorded one, none without a record", () => {
  const model = mkdtempSync(join(tmpdir(), "constrained-model-"));
  const adapter = mkdtempSync(join(tmpdir(), "constrained-adapter-"));
  assert.equal(trainedConstrain([adapter, model]), "none");
  writeFileSync(join(model, "training.json"), JSON.stringify({ constrain: "valid" }));
  assert.equal(trainedConstrain([adapter, model]), "valid");
  writeFileSync(join(adapter, "training.json"), JSON.stringify({ constrain: "consistent" }));
  assert.equal(trainedConstrain([adapter, model]), "consistent");
  writeFileSync(join(adapter, "training.json"), JSON.stringify({ constrain: "hard" }));
  assert.throws(
    () => trainedConstrain([adapter, model]),
    /constrain must be one of none, valid, consistent, got "hard"/,
  );
});
