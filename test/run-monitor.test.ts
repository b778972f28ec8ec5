import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../src/grpo/config/config.js";
import { monitorFromConfig } from "../src/grpo/run-monitor.js";
import { Monitor, type MonitorFields, type MonitorOptions } from "../src/run/monitor.js";

const options: MonitorOptions = {
  successCriteria: ["running_mean(total) > 1.5 AND running_mean(feedback) > 0"],
  milestones: [
    { step: 20, expect: "running_mean(format_rate) >= 0.9", label: "format rate >= 90%" },
    { step: 40, expect: "running_mean(total) > 1.5" },
  ],
  runningMeanWindow: 2,
  plateau: { window: 30, min_gain: 0.05, early_stop: true, metric: "total" },
  rewardFunctions: ["format", "feedback", "info_gain"],
  totalSteps: 100,
  saveSteps: 20,
};

/** Training rows every 10 steps (TRL names). */
const rows: Array<Record<string, number>> = [
  {
    step: 10,
    reward: 1.0,
    "rewards/feedback/mean": -0.1,
    "behaviour/format_rate": 0.8,
    step_time: 2,
    frac_reward_zero_std: 0.75,
  },
  {
    step: 20,
    reward: 1.6,
    "rewards/feedback/mean": 0.1,
    "behaviour/format_rate": 0.95,
    step_time: 4,
    frac_reward_zero_std: 0.25,
  },
  { step: 30, reward: 2.0, "rewards/feedback/mean": 0.2, "behaviour/format_rate": 1.0, step_time: 3 },
  { step: 40, reward: 2.0, "rewards/feedback/mean": 0.2, step_time: 3 },
  { step: 50, reward: 1.9, "rewards/feedback/mean": 0.2, step_time: 3 },
  { step: 60, reward: 2.0, "rewards/feedback/mean": 0.2, step_time: 3 },
  { step: 70, reward: 1.95, "rewards/feedback/mean": 0.2, step_time: 3 },
];

const close = (a: number | null | undefined, b: number) =>
  assert.ok(a != null && Math.abs(a - b) < 1e-9, `${a} != ${b}`);

function runAll(monitor: Monitor): MonitorFields[] {
  return rows.map((r) => monitor.observe(r));
}

test("running means over the last N logged rows", () => {
  const f = runAll(new Monitor(options));
  close(f[0]!["running/reward"], 1.0);
  close(f[1]!["running/reward"], 1.3);
  close(f[1]!["running/rewards/feedback/mean"], 0);
  close(f[2]!["running/reward"], 1.8);
  // A key missing from some rows averages over the rows that have it.
  close(f[3]!["running/behaviour/format_rate"], 1.0);
  assert.equal(f[4]!["running/behaviour/format_rate"], undefined, "gone once it leaves the window");
  assert.equal(
    (f[0] as unknown as Record<string, unknown>)["running/step"],
    undefined,
    "step is not averaged",
  );
});

test("success criteria: each part tracked, first step they all held, and the checkpoint that holds it", () => {
  const f = runAll(new Monitor(options));
  assert.equal(f[0]!.criteria.length, 2, "the AND is split into two criteria");
  assert.deepEqual(f[0]!.criteria[0], {
    expr: "running_mean(total) > 1.5",
    value: 1.0,
    op: ">",
    threshold: 1.5,
    met: false,
    first_step: null,
  });
  assert.equal(f[1]!.criteria[0]!.met, false); // 1.3
  assert.equal(f[1]!.criteria[1]!.met, false); // running feedback exactly 0 is not > 0
  assert.equal(f[2]!.criteria_met, true);
  assert.equal(f[2]!.criteria_first_step, 30);
  assert.equal(f[2]!.criteria[1]!.first_step, 30);
  // Checkpoint 20 was saved while the criteria did not hold; 40 is the first that holds them.
  assert.equal(f[2]!.criteria_checkpoint_step, null);
  assert.equal(f[3]!.criteria_checkpoint_step, 40);
  assert.equal(f[6]!.criteria_first_step, 30, "first step never moves");
});

test("a checkpoint between logged rows holds the state of the row before it", () => {
  const m = new Monitor({ ...options, saveSteps: 25 });
  const f = runAll(m);
  // Criteria first hold at row 30; checkpoint 25 belongs to row 20 (not met), 50 to row 50 (met).
  assert.equal(f[2]!.criteria_checkpoint_step, null);
  assert.equal(f[4]!.criteria_checkpoint_step, 50);
  const early = new Monitor({ ...options, saveSteps: 35 });
  const g = runAll(early);
  // Checkpoint 35 lies between rows 30 (met) and 40: it holds row 30's state.
  assert.equal(g[3]!.criteria_checkpoint_step, 35);
});

test("milestones: pending, then decided once at the first logged step at or after their step", () => {
  const f = runAll(new Monitor(options));
  assert.deepEqual(
    f[0]!.milestones.map((m) => m.status),
    ["pending", "pending"],
  );
  assert.equal(f[0]!.milestones[0]!.value, null);
  // Step 20: running format rate (0.8 + 0.95) / 2 = 0.875 < 0.9 -> fail, and it stays failed.
  assert.equal(f[1]!.milestones[0]!.status, "fail");
  close(f[1]!.milestones[0]!.value, 0.875);
  assert.equal(f[1]!.milestones[0]!.label, "format rate >= 90%");
  assert.ok(f[1]!.warnings.some((w) => /milestone "format rate >= 90%" \(step 20\) failed/.test(w)));
  assert.equal(f[2]!.milestones[0]!.status, "fail", "later rows with format 1.0 do not change it");
  assert.equal(f[3]!.milestones[1]!.status, "pass");
  close(f[3]!.milestones[1]!.value, 2.0);
  assert.equal(f[3]!.milestones[1]!.label, "running_mean(total) > 1.5", "label defaults to the expression");
});

test("a milestone whose step is skipped by logging is decided at the next logged step", () => {
  const m = new Monitor({ ...options, milestones: [{ step: 15, expect: "running_mean(total) > 1.2" }] });
  assert.equal(m.observe(rows[0]!).milestones[0]!.status, "pending");
  assert.equal(m.observe(rows[1]!).milestones[0]!.status, "pass"); // decided at 20 with 1.3
});

test("plateau: no gain above min_gain over the window warns and asks to stop when early_stop", () => {
  const f = runAll(new Monitor(options));
  assert.equal(f[2]!.plateau_gain, null, "not enough history at step 30 for a 30-step window");
  close(f[3]!.plateau_gain, 1.0); // 2.0 now vs 1.0 at step 10
  close(f[5]!.plateau_gain, 0.15); // 1.95 vs 1.8 at step 30
  assert.equal(f[5]!.plateau, false);
  close(f[6]!.plateau_gain, -0.025); // 1.975 vs 2.0 at step 40
  assert.equal(f[6]!.plateau, true);
  assert.equal(f[6]!.plateau_stop, true);
  assert.ok(f[6]!.warnings.some((w) => w.startsWith("plateau:")));
  const noStop = runAll(new Monitor({ ...options, plateau: { ...options.plateau, early_stop: false } }));
  assert.equal(noStop[6]!.plateau, true);
  assert.equal(noStop[6]!.plateau_stop, false);
});

test("zero-variance warning, non-finite loss warning, ETA from the running step time", () => {
  const m = new Monitor(options);
  const f0 = m.observe(rows[0]!);
  assert.ok(f0.warnings.some((w) => w.startsWith("75% of groups have zero reward std")));
  assert.equal(f0.eta_seconds, 90 * 2);
  const f1 = m.observe(rows[1]!);
  assert.ok(!f1.warnings.some((w) => /zero reward std/.test(w)), "25% is below the threshold");
  assert.equal(f1.eta_seconds, 80 * 3); // running step time (2 + 4) / 2
  const f2 = m.observe({ step: 30, reward: 1, loss: Number.NaN });
  assert.ok(f2.warnings.some((w) => /loss is/.test(w)));
  const noTime = new Monitor(options).observe({ step: 10, reward: 1 });
  assert.equal(noTime.eta_seconds, null);
});

test("eval rows feed criteria that read eval metrics", () => {
  const m = new Monitor({
    ...options,
    successCriteria: ["eval/win_rate >= 0.3", "running_mean(eval/win_rate) > 0.2"],
  });
  assert.equal(m.observe(rows[0]!).criteria_met, false);
  m.observeEval({ step: 10, "eval/win_rate": 0.1 });
  m.observeEval({ step: 20, "eval/win_rate": 0.4 });
  const f = m.observe(rows[1]!);
  assert.deepEqual(
    f.criteria.map((c) => c.value),
    [0.4, 0.25],
  );
  assert.equal(f.criteria_met, true);
});

test("replaying a metrics file restores the exact state (resume)", () => {
  const full = runAll(new Monitor(options));
  // What metrics.jsonl holds after step 40: rows with the monitor's fields, through JSON.
  const written = rows.slice(0, 4).map((r, i) => JSON.parse(JSON.stringify({ ...r, ...full[i] })));
  written.splice(2, 0, { step: 20, "eval/win_rate": 0.5 }); // an eval row in between
  const resumed = new Monitor(options);
  resumed.replay(written);
  const rest = rows.slice(4).map((r) => resumed.observe(r));
  assert.deepEqual(rest, full.slice(4));
});

test("steps must increase; rows need a step", () => {
  const m = new Monitor(options);
  m.observe(rows[1]!);
  assert.throws(() => m.observe(rows[0]!), /steps must increase/);
  assert.throws(() => m.observe({ reward: 1 }), /integer step/);
});

test("status line and construction from a config", () => {
  const { config } = resolveConfig({ preset: "seed" });
  const m = monitorFromConfig(config, 4200);
  const row = {
    step: 20,
    reward: 1.1,
    "rewards/format/mean": 0.7,
    "rewards/feedback/mean": 0.05,
    step_time: 6,
  };
  const line = m.statusLine(row, m.observe(row));
  assert.match(
    line,
    /^step 20\/4200 \| 6\.00 s\/step \| ETA 6h58m \| total 1\.10 format 0\.70 feedback 0\.05 info_gain - \| criteria 1\/2$/,
  );
});
