import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { feedbackString, writeDemoRun } from "../src/dashboard/demo-run.js";
import type { Criterion, EvalGame, Milestone } from "../src/dashboard/shared/protocol.js";
import { isEvalRow } from "../src/dashboard/shared/protocol.js";
import { checkEvalGame, checkMetricsRow, checkSampleRow } from "../src/dashboard/validate-rows.js";
import { patternCode } from "../src/wordle/score.js";

const readJsonl = (path: string): Record<string, unknown>[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

/** The training-row keys DESIGN.md lists ("Files a run writes"). */
const DESIGN_KEYS = [
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

test("the demo run writes every run file in the documented format", () => {
  const dir = mkdtempSync(join(tmpdir(), "dashboard-demo-"));
  try {
    writeDemoRun(dir, { loggedSteps: 60, maxSteps: 600, loggingSteps: 10, evalSteps: 100, gamesPerEval: 5 });
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.equal(config.max_steps, 600);
    const rows = readJsonl(join(dir, "metrics.jsonl"));
    const train = rows.filter((r) => !isEvalRow(r));
    const evals = rows.filter(isEvalRow);
    assert.equal(train.length, 60);
    assert.deepEqual(
      evals.map((r) => r.step),
      [100, 200, 300, 400, 500, 600],
    );
    for (const row of rows) assert.equal(checkMetricsRow(row), null);
    for (const row of train) {
      for (const key of DESIGN_KEYS) assert.equal(typeof row[key], "number", `step ${row.step}: ${key}`);
      for (const name of ["format", "feedback", "info_gain"]) {
        assert.equal(typeof row[`rewards/${name}/mean`], "number");
        assert.equal(typeof row[`running/rewards/${name}/mean`], "number");
      }
      assert.equal(typeof row.criteria_met, "boolean");
      assert.equal(typeof row.plateau, "boolean");
      assert.ok(Array.isArray(row.warnings));
      const criteria = row.criteria as Criterion[];
      assert.equal(criteria.length, 2);
      assert.equal(
        row.criteria_met,
        criteria.every((c) => c.met),
      );
    }
    for (const row of evals) {
      for (const key of ["eval/win_rate", "eval/mean_guesses", "eval/invalid_rate", "eval/reward"]) {
        assert.ok(key in row, `eval row at ${row.step} lacks ${key}`);
      }
      assert.ok(!("loss" in row));
    }
    const samples = readJsonl(join(dir, "samples.jsonl"));
    assert.equal(samples.length, 120);
    for (const s of samples) assert.equal(checkSampleRow(s), null);
    const games = readJsonl(join(dir, "eval-games.jsonl")) as unknown as EvalGame[];
    assert.equal(games.length, 30);
    for (const game of games) {
      assert.equal(checkEvalGame(game), null);
      assert.ok(game.guesses.length >= 1 && game.guesses.length <= 6);
      for (const g of game.guesses) {
        if (g.feedback !== null) assert.equal(g.feedback, feedbackString(patternCode(g.word, game.secret)));
      }
      assert.equal(game.won, game.guesses.at(-1)?.word === game.secret);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("monitor fields behave like the monitor's: first steps and decided milestones never change", () => {
  const dir = mkdtempSync(join(tmpdir(), "dashboard-demo-"));
  try {
    writeDemoRun(dir, { loggedSteps: 210, maxSteps: 2100 });
    const train = readJsonl(join(dir, "metrics.jsonl")).filter((r) => !isEvalRow(r));
    const firstSteps = new Map<string, number>();
    const decided = new Map<number, string>();
    for (const row of train) {
      for (const c of row.criteria as Criterion[]) {
        if (c.first_step === null) continue;
        assert.equal(firstSteps.get(c.expr) ?? c.first_step, c.first_step);
        firstSteps.set(c.expr, c.first_step);
      }
      for (const m of row.milestones as Milestone[]) {
        if (m.status === "pending") {
          assert.ok((row.step as number) < m.step || m.step === 2100, `milestone ${m.step} still pending`);
          continue;
        }
        assert.equal(decided.get(m.step) ?? m.status, m.status);
        decided.set(m.step, m.status);
      }
    }
    // The demo's curves cross both default criteria before the end, so the page has both states to show.
    assert.equal(firstSteps.size, 2);
    assert.equal(train.at(-1)?.criteria_met, true);
    assert.equal(train.at(0)?.criteria_met, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the same options write the same files", () => {
  const a = mkdtempSync(join(tmpdir(), "dashboard-demo-"));
  const b = mkdtempSync(join(tmpdir(), "dashboard-demo-"));
  try {
    writeDemoRun(a, { loggedSteps: 30, seed: 7 });
    writeDemoRun(b, { loggedSteps: 30, seed: 7 });
    for (const file of ["metrics.jsonl", "samples.jsonl", "eval-games.jsonl"]) {
      assert.equal(readFileSync(join(a, file), "utf8"), readFileSync(join(b, file), "utf8"), file);
    }
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
