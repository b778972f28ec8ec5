import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readJsonl } from "../src/run/jsonl.js";
import { RunLogs } from "../src/run/logs.js";
import { Monitor, type MonitorOptions } from "../src/run/monitor.js";
import { openRunDirectory } from "../src/run/run-dir.js";

const options: MonitorOptions = {
  successCriteria: ["running_mean(total) > 1 AND eval/win_rate > 0.1"],
  milestones: [{ step: 30, expect: "running_mean(format_rate) >= 0.5" }],
  runningMeanWindow: 3,
  plateau: { window: 20, min_gain: 0.01, early_stop: false, metric: "total" },
  rewardFunctions: ["format", "feedback"],
  totalSteps: 60,
  saveSteps: 20,
};

const trainRow = (step: number) => ({
  step,
  reward: 0.5 + step / 40,
  "rewards/format/mean": step / 60,
  "behaviour/format_rate": step / 60,
  step_time: 1 + (step % 7) / 10,
});

/** Log steps 10..60 (eval every 20, samples every step), optionally "crashing" after step `stopAt`. */
function run(root: string, from: number, stopAt = 60): void {
  const paths = openRunDirectory(root);
  const monitor = new Monitor(options);
  if (from > 0) RunLogs.prepareResume(paths, from, monitor);
  const logs = new RunLogs(paths, monitor);
  for (let step = from + 10; step <= stopAt; step += 10) {
    logs.logTrain(trainRow(step));
    logs.logSamples([
      {
        step,
        prompt_id: `p${step}`,
        secret: "frost",
        history: [],
        completion: "<guess>CRANE</guess>",
        guess: "crane",
        reward: 1,
        rewards: { format: 1 },
      },
    ]);
    if (step % 20 === 0) {
      logs.logEval({ step, "eval/win_rate": step / 100 });
      logs.logGames([{ step, secret: "frost", won: false, guesses: [{ word: "crane", feedback: "apaaa" }] }]);
    }
  }
  logs.close();
}

test("training rows carry the monitor's fields; eval rows, samples and games are written as given", () => {
  const root = mkdtempSync(join(tmpdir(), "run-logs-"));
  try {
    run(root, 0);
    const { rows } = readJsonl(join(root, "metrics.jsonl"));
    assert.equal(rows.length, 6 + 3);
    const train = rows.filter((r) => "reward" in r);
    assert.ok(
      train.every((r) => "running/reward" in r && "criteria" in r && "milestones" in r && "eta_seconds" in r),
    );
    const evals = rows.filter((r) => "eval/win_rate" in r);
    assert.deepEqual(Object.keys(evals[0]!).sort(), ["eval/win_rate", "step"]);
    assert.equal(readJsonl(join(root, "samples.jsonl")).rows.length, 6);
    assert.equal(readJsonl(join(root, "eval-games.jsonl")).rows.length, 3);
    // Step 30: running total (0.75 + 1 + 1.25) / 3 = 1, not > 1. Step 40: 1.25, and eval/win_rate 0.2.
    assert.equal(train[2]!.criteria_met, false);
    assert.equal(train[3]!.criteria_met, true);
    assert.equal(train[5]!.criteria_first_step, 40);
    assert.equal(train[5]!.criteria_checkpoint_step, 40);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a run cut off after step 50 and resumed from checkpoint 20 writes the same logs", () => {
  const whole = mkdtempSync(join(tmpdir(), "run-logs-"));
  const resumed = mkdtempSync(join(tmpdir(), "run-logs-"));
  try {
    run(whole, 0);
    run(resumed, 0, 50); // killed after logging step 50; the latest checkpoint is 20
    run(resumed, 20);
    for (const file of ["metrics.jsonl", "samples.jsonl", "eval-games.jsonl"]) {
      assert.deepEqual(readJsonl(join(resumed, file)).rows, readJsonl(join(whole, file)).rows, file);
    }
  } finally {
    rmSync(whole, { recursive: true, force: true });
    rmSync(resumed, { recursive: true, force: true });
  }
});
