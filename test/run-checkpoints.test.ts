import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../src/grpo/config/config.js";
import { readRunConfig, writeRunConfig } from "../src/grpo/config/run-config.js";
import {
  applyRetention,
  BestTracker,
  checkpointStep,
  findCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  saveCheckpoint,
} from "../src/run/checkpoints.js";
import { openRunDirectory, runPaths } from "../src/run/run-dir.js";

function withRun(fn: (root: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "run-ckpt-"));
  try {
    fn(join(dir, "my-run"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const save = (root: string, step: number) =>
  saveCheckpoint(runPaths(root), step, (dir) =>
    writeFileSync(join(dir, "trainer_state.json"), `{"step":${step}}`),
  );
const steps = (root: string) => listCheckpoints(runPaths(root)).map((c) => c.step);

test("layout and naming", () => {
  const p = runPaths("/runs/x");
  assert.equal(p.config, "/runs/x/config.json");
  assert.equal(p.metrics, "/runs/x/metrics.jsonl");
  assert.equal(p.samples, "/runs/x/samples.jsonl");
  assert.equal(p.checkpoint(300), "/runs/x/checkpoint-300");
  assert.equal(p.best, "/runs/x/best");
  assert.equal(p.final, "/runs/x/final");
  assert.equal(checkpointStep("checkpoint-1200"), 1200);
  assert.equal(checkpointStep("checkpoint-1200.tmp"), undefined);
  assert.equal(checkpointStep("best"), undefined);
});

test("save, list (numeric order), latest, find; temp folders are not checkpoints", () => {
  withRun((root) => {
    const paths = openRunDirectory(root);
    for (const s of [100, 20, 3]) save(root, s);
    mkdirSync(join(root, "checkpoint-400.tmp")); // an interrupted save
    assert.deepEqual(steps(root), [3, 20, 100]);
    assert.equal(latestCheckpoint(paths)?.step, 100);
    assert.equal(findCheckpoint(paths, "latest").step, 100);
    assert.equal(findCheckpoint(paths, 20).step, 20);
    assert.equal(findCheckpoint(paths, "20").step, 20);
    assert.equal(findCheckpoint(paths, join(root, "checkpoint-3")).step, 3);
    assert.throws(() => findCheckpoint(paths, 7), /available steps: 3, 20, 100/);
    assert.equal(readFileSync(join(root, "checkpoint-20", "trainer_state.json"), "utf8"), '{"step":20}');
    openRunDirectory(root); // reopening clears the interrupted save
    assert.equal(existsSync(join(root, "checkpoint-400.tmp")), false);
  });
  withRun((root) => {
    const paths = openRunDirectory(root);
    assert.equal(latestCheckpoint(paths), undefined);
    assert.throws(() => findCheckpoint(paths, true), /no checkpoint-<step>\/ folder to resume from/);
  });
});

test("retention keeps the newest save_total_limit checkpoints", () => {
  withRun((root) => {
    for (const s of [100, 200, 300, 400, 500]) save(root, s);
    assert.deepEqual(applyRetention(runPaths(root), 3), [100, 200]);
    assert.deepEqual(steps(root), [300, 400, 500]);
    assert.deepEqual(applyRetention(runPaths(root), null), [], "null keeps everything");
  });
});

test("retention never deletes the best checkpoint (it counts toward the limit, like HF)", () => {
  withRun((root) => {
    for (const s of [100, 200, 300, 400, 500]) save(root, s);
    assert.deepEqual(applyRetention(runPaths(root), 3, [100]), [200, 300]);
    assert.deepEqual(steps(root), [100, 400, 500]);
    // Limit 1 with an old best: the best and the newest stay.
    assert.deepEqual(applyRetention(runPaths(root), 1, [100]), [400]);
    assert.deepEqual(steps(root), [100, 500]);
    assert.deepEqual(readdirSync(root).sort(), ["checkpoint-100", "checkpoint-500"]);
  });
});

test("best tracking: strictly better wins, ties keep the earlier step, either direction", () => {
  const best = new BestTracker("eval/win_rate", true);
  assert.equal(best.consider(100, { "eval/win_rate": 0.2 }), true);
  assert.equal(best.consider(200, { "eval/win_rate": 0.2 }), false);
  assert.equal(best.consider(300, { "eval/win_rate": 0.1 }), false);
  assert.equal(best.consider(350, { reward: 9 }), false, "rows without the metric are ignored");
  assert.equal(best.consider(360, { "eval/win_rate": null }), false);
  assert.equal(best.consider(400, { "eval/win_rate": 0.35 }), true);
  assert.equal(best.bestStep, 400);
  assert.equal(best.bestValue, 0.35);
  // Saved with the trainer state and restored on resume.
  const restored = new BestTracker("eval/win_rate", true, JSON.parse(JSON.stringify(best)));
  assert.equal(restored.consider(500, { "eval/win_rate": 0.3 }), false);
  assert.equal(restored.bestStep, 400);
  assert.throws(
    () => new BestTracker("eval/reward", true, best.toJSON()),
    /saved state tracks eval\/win_rate/,
  );

  const lower = new BestTracker("eval/mean_guesses", false);
  lower.consider(100, { "eval/mean_guesses": 4.2 });
  lower.consider(200, { "eval/mean_guesses": 3.9 });
  lower.consider(300, { "eval/mean_guesses": 4.0 });
  assert.equal(lower.bestStep, 200);
});

test("config.json: resolved config plus the keys tools read; reads back to the same config", () => {
  withRun((root) => {
    const paths = openRunDirectory(root);
    const { config } = resolveConfig({ preset: "seed" });
    writeRunConfig(paths, config, 4200);
    const written = JSON.parse(readFileSync(paths.config, "utf8"));
    assert.equal(written.max_steps, 4200);
    assert.equal(written.run_name, "my-run");
    assert.equal(written.reward_preset, "seed");
    assert.equal(written.logging_steps, 10);
    const back = readRunConfig(paths);
    assert.deepEqual(back, { ...config, max_steps: 4200, run_name: "my-run" });
  });
});
