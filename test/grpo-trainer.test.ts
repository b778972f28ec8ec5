/**
 * The GRPO trainer end to end on a tiny random model (CPU, float32, one thread): a 30-step run and
 * its files, an interrupted-and-resumed run that must log exactly the same rows, and the handling
 * of a non-finite loss.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readSafetensors } from "../src/engine/safetensors.js";
import { learningRateAt } from "../src/grpo/schedule.js";
import { type TrainResult, train } from "../src/grpo/trainer.js";
import { readJsonl } from "../src/run/jsonl.js";
import { comparable, letterRewards, makeTinyModel, tinyConfig } from "./grpo-trainer-fixture.js";

/** Evaluation twice (validation prompts + 2 games), so best/ and eval rows are exercised too. */
const EVAL = { eval_steps: 15, "eval.games": 2 };

let modelDir: string;
let runA: string;
let resultA: TrainResult;
const temps: string[] = [];

before(async () => {
  modelDir = makeTinyModel();
  temps.push(modelDir);
  runA = join(modelDir, "run-a");
  resultA = await train({ config: tinyConfig(modelDir, runA, EVAL), threads: 1, rewards: letterRewards() });
});

after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

test("a 30-step run writes the documented metrics (docs/run-files.md), samples, retained checkpoints and the monitor's fields", () => {
  assert.equal(resultA.reason, "completed");
  assert.equal(resultA.steps, 30);
  const rows = readJsonl(join(runA, "metrics.jsonl")).rows;
  const trainRows = rows.filter((r) => "loss" in r);
  assert.deepEqual(
    trainRows.map((r) => r.step),
    [5, 10, 15, 20, 25, 30],
  );
  const keys = [
    "step",
    "epoch",
    "loss",
    "grad_norm",
    "learning_rate",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "completions/mean_length",
    "completions/clipped_ratio",
    "kl",
    "entropy",
    "clip_ratio/region_mean",
    "step_time",
    "tokens_per_second",
    ...["format", "feedback", "info_gain"].flatMap((f) => [`rewards/${f}/mean`, `rewards/${f}/std`]),
    "behaviour/format_rate",
    "behaviour/feedback_consistent_rate",
  ];
  for (const row of trainRows) {
    for (const key of keys) assert.ok(Number.isFinite(row[key]), `step ${row.step}: ${key} = ${row[key]}`);
    for (const key of ["running/reward", "running/rewards/feedback/mean"])
      assert.ok(Number.isFinite(row[key]), `step ${row.step}: ${key}`);
    assert.equal(typeof row.criteria_met, "boolean");
    assert.ok(Array.isArray(row.criteria) && row.criteria.length === 2);
    assert.ok(Array.isArray(row.milestones) && Array.isArray(row.warnings));
    assert.equal(typeof row.plateau, "boolean");
    assert.ok(Number.isFinite(row.eta_seconds));
  }
  // Fractional epochs (60 prompts / 1 per step) and the scheduled learning rate of the last step.
  const config = tinyConfig(modelDir, runA, EVAL);
  assert.equal(trainRows[5]?.epoch, 0.5);
  assert.equal(trainRows[5]?.learning_rate, learningRateAt(config, 29, 30));
  // The rewards vary, so the policy gradient is not zero and the adapter moved.
  assert.ok(trainRows.some((r) => (r.loss as number) !== 0));
  assert.ok(trainRows.some((r) => (r.grad_norm as number) > 0));

  // Evaluations at 15 and 30: validation rewards and two games (FROST first); best/ by eval/win_rate.
  const evalRows = rows.filter((r) => "eval/reward" in r);
  assert.deepEqual(
    evalRows.map((r) => r.step),
    [15, 30],
  );
  for (const row of evalRows) {
    for (const key of ["eval/reward", "eval/rewards/feedback/mean", "eval/win_rate", "eval/invalid_rate"])
      assert.ok(Number.isFinite(row[key]), `eval ${key}`);
    assert.equal(row["eval/games"], 2);
  }
  const games = readJsonl(join(runA, "eval-games.jsonl")).rows;
  assert.equal(games.length, 4);
  assert.equal(games[0]?.secret, "frost");
  assert.ok(existsSync(join(runA, "best", "adapter_model.safetensors")));
  assert.equal(resultA.bestStep, 15, "ties keep the earlier step");

  // Every completion of the logged step's batch (1 prompt x G = 2) with its rewards.
  const samples = readJsonl(join(runA, "samples.jsonl")).rows;
  assert.equal(samples.length, 12);
  for (const s of samples) {
    assert.match(String(s.prompt_id), /^seed-/);
    assert.equal(typeof s.completion, "string");
    assert.ok(Number.isFinite(s.reward));
    assert.deepEqual(Object.keys(s.rewards as object), ["format", "feedback", "info_gain"]);
  }

  // save_steps 10, save_total_limit 2: checkpoint-10 was deleted.
  const checkpoints = readdirSync(runA).filter((n) => n.startsWith("checkpoint-"));
  assert.deepEqual(checkpoints.sort(), ["checkpoint-20", "checkpoint-30"]);
  for (const file of [
    "adapter_model.safetensors",
    "adapter_config.json",
    "optimizer.safetensors",
    "optimizer.json",
    "rng_state.json",
    "trainer_state.json",
  ])
    assert.ok(existsSync(join(runA, "checkpoint-30", file)), file);
  const state = JSON.parse(readFileSync(join(runA, "checkpoint-30", "trainer_state.json"), "utf8"));
  assert.equal(state.global_step, 30);
  const adapter = readSafetensors(join(runA, "final", "adapter_model.safetensors")).tensors;
  const bWeights = [...adapter.entries()].filter(([name]) => name.endsWith("lora_B.weight"));
  assert.ok(bWeights.length > 0);
  assert.ok(
    bWeights.some(([, t]) => new Float32Array(t.data.slice().buffer).some((v) => v !== 0)),
    "LoRA B matrices left the zero init",
  );
  assert.equal(JSON.parse(readFileSync(join(runA, "config.json"), "utf8")).max_steps, 30);
});

test("a run stopped between logging steps and resumed logs exactly the uninterrupted run's rows", async () => {
  const runB = join(modelDir, "run-b");
  let checks = 0;
  const first = await train({
    config: tinyConfig(modelDir, runB, EVAL),
    threads: 1,
    rewards: letterRewards(),
    shouldStop: () => ++checks > 13,
  });
  assert.equal(first.reason, "interrupted");
  assert.equal(first.steps, 13);
  const saved = JSON.parse(readFileSync(join(runB, "checkpoint-13", "trainer_state.json"), "utf8"));
  assert.equal(saved.window.steps, 3, "the partial logging window travels with the checkpoint");

  const second = await train({
    config: tinyConfig(modelDir, runB, EVAL),
    resume: "latest",
    threads: 1,
    rewards: letterRewards(),
  });
  assert.equal(second.reason, "completed");
  assert.equal(second.steps, 30);
  const rows = (dir: string, file: string) => comparable(readJsonl(join(dir, file)).rows);
  assert.deepEqual(rows(runB, "metrics.jsonl"), rows(runA, "metrics.jsonl"));
  assert.deepEqual(rows(runB, "samples.jsonl"), rows(runA, "samples.jsonl"));
  assert.deepEqual(rows(runB, "eval-games.jsonl"), rows(runA, "eval-games.jsonl"));
  const adapter = (dir: string) => readFileSync(join(dir, "final", "adapter_model.safetensors"));
  assert.ok(adapter(runB).equals(adapter(runA)), "final adapters are byte-identical");
});

test("a non-finite loss skips the update and is counted; three in a row save and stop", async () => {
  const runC = join(modelDir, "run-c");
  const nanSteps = new Set([2, 4, 5, 6]);
  const result = await train({
    config: tinyConfig(modelDir, runC, { logging_steps: 1, max_steps: 10 }),
    threads: 1,
    rewards: letterRewards(),
    lossHook: (step, loss) => (nanSteps.has(step) ? loss.mul(Number.NaN) : loss),
  });
  assert.equal(result.reason, "nonfinite");
  assert.equal(result.steps, 6);
  assert.equal(result.nonfiniteSteps, 4);
  assert.ok(existsSync(join(runC, "checkpoint-6", "trainer_state.json")));
  assert.ok(!existsSync(join(runC, "final")), "no final adapter for a diverged run");
  const rows = readJsonl(join(runC, "metrics.jsonl")).rows;
  const byStep = new Map(rows.map((r) => [r.step, r]));
  assert.equal(byStep.get(2)?.loss, null);
  assert.equal(byStep.get(2)?.skipped_steps, 1);
  assert.equal(byStep.get(2)?.nonfinite_steps, 1);
  assert.ok(Number.isFinite(byStep.get(3)?.loss));
  assert.equal(byStep.get(3)?.skipped_steps, 0);
  assert.equal(byStep.get(6)?.nonfinite_steps, 4);
  const state = JSON.parse(readFileSync(join(runC, "checkpoint-6", "trainer_state.json"), "utf8"));
  assert.equal(state.consecutive_nonfinite, 3);
  assert.ok(((byStep.get(2)?.warnings ?? []) as string[]).some((w) => w.includes("loss")));
});
