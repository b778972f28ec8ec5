import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DemoRun, writeDemoRun } from "../src/dashboard/demo-run.js";
import { isEvalRow, type Milestone } from "../src/dashboard/shared/protocol.js";
import { checkEvalGame, checkMetricsRow, checkSampleRow } from "../src/dashboard/validate-rows.js";
import { rewardFunctionNames } from "../src/grpo/config/config.js";
import { readRunConfig } from "../src/grpo/config/run-config.js";
import { monitorFromConfig } from "../src/grpo/run-monitor.js";
import { readJsonl } from "../src/run/jsonl.js";
import { runPaths } from "../src/run/run-dir.js";

/** The training-row keys docs/run-files.md lists (TRL's names). */
const TRL_KEYS = [
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
];

function withDirs(count: number, body: (...dirs: string[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const dirs = Array.from({ length: count }, () => mkdtempSync(join(tmpdir(), "dashboard-demo-")));
    try {
      await body(...dirs);
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  "the demo writes a run directory the trainer's readers and the dashboard's validators accept",
  withDirs(1, async (dir) => {
    await writeDemoRun(dir, { loggedSteps: 60, maxSteps: 600, evalSteps: 100, gamesPerEval: 5 });
    const paths = runPaths(dir);
    const config = readRunConfig(paths);
    assert.equal(config.max_steps, 600);
    const rows = readJsonl(paths.metrics).rows;
    const train = rows.filter((r) => !isEvalRow(r));
    assert.equal(train.length, 60);
    assert.deepEqual(
      rows.filter(isEvalRow).map((r) => r.step),
      [100, 200, 300, 400, 500, 600],
    );
    for (const row of rows) assert.equal(checkMetricsRow(row), null);
    for (const row of train) {
      for (const key of TRL_KEYS) assert.equal(typeof row[key], "number", `step ${row.step}: ${key}`);
      for (const name of rewardFunctionNames(config.reward.preset))
        assert.equal(typeof row[`rewards/${name}/mean`], "number", `step ${row.step}: ${name}`);
    }
    const samples = readJsonl(paths.samples).rows;
    assert.equal(samples.length, 60 * config.num_generations);
    for (const sample of samples) assert.equal(checkSampleRow(sample), null);
    const games = readJsonl(paths.evalGames).rows;
    assert.equal(games.length, 6 * 5);
    for (const game of games) assert.equal(checkEvalGame(game), null);
  }),
);

test(
  "criteria, milestones and plateau are what the real Monitor computes from the run's config and rows",
  withDirs(1, async (dir) => {
    await writeDemoRun(dir, { loggedSteps: 210 });
    const paths = runPaths(dir);
    const config = readRunConfig(paths);
    const monitor = monitorFromConfig(config, config.max_steps);
    const train = [];
    for (const row of readJsonl(paths.metrics).rows) {
      if (isEvalRow(row)) {
        monitor.observeEval(row);
        continue;
      }
      const fields = monitor.observe(row);
      const written = Object.fromEntries(Object.keys(fields).map((key) => [key, row[key]]));
      assert.deepEqual(written, fields, `step ${row.step}`);
      train.push(row);
    }
    // The made-up curves cross the plan's criteria and milestones, so the page has every state to show.
    assert.equal(train.at(0)?.criteria_met, false);
    assert.equal(train.at(-1)?.criteria_met, true);
    const milestones = train.flatMap((row) => row.milestones as Milestone[]);
    for (const status of ["pending", "pass"])
      assert.ok(
        milestones.some((m) => m.status === status),
        status,
      );
  }),
);

test(
  "the same options write the same files, at once or a few steps at a time",
  withDirs(2, async (once, inPieces) => {
    await writeDemoRun(once, { loggedSteps: 30, seed: 7 });
    const demo = new DemoRun(inPieces, { seed: 7 });
    demo.writeConfig();
    // Closed between pieces, as the CLI's demo is when stopped: appending again continues the run.
    for (const count of [10, 1, 19]) {
      await demo.appendSteps(count);
      demo.close();
    }
    for (const file of ["config.json", "metrics.jsonl", "samples.jsonl", "eval-games.jsonl"]) {
      assert.equal(readFileSync(join(once, file), "utf8"), readFileSync(join(inPieces, file), "utf8"), file);
    }
  }),
);
