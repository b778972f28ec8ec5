/**
 * Short runs of the tiny preset with TRL's loss variants: GSPO (sequence-level importance
 * sampling, with the bias-corrected KL) and CISPO (with the entropy bonus on the top half of the
 * tokens by entropy). Each completes, logs the variant's metrics, and resumes from its checkpoint
 * to the uninterrupted run's rows.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { train } from "../src/grpo/trainer.js";
import { readJsonl } from "../src/run/jsonl.js";
import { shippedTinyConfig, withoutTimings } from "./grpo-trainer-fixture.js";

const VARIANTS: Array<[string, Record<string, unknown>, string[]]> = [
  [
    "importance_sampling_level = sequence",
    { loss_type: "grpo", importance_sampling_level: "sequence", beta: 0.04, use_bias_correction_kl: true },
    ["kl", "clip_ratio/region_mean", "clip_ratio/low_min", "clip_ratio/high_max", "entropy"],
  ],
  [
    "loss_type = cispo",
    { loss_type: "cispo", epsilon_high: 5, entropy_coef: 0.01, top_entropy_quantile: 0.5 },
    ["cispo_clip_ratio", "policy_loss", "entropy_coef", "entropy"],
  ],
];

for (const [name, settings, metrics] of VARIANTS) {
  test(`tiny preset, ${name}: completes, logs its metrics, resumes to the same rows`, async () => {
    const root = mkdtempSync(join(tmpdir(), "wordle-grpo-variant-"));
    const configFor = (out: string) =>
      shippedTinyConfig(out, {
        max_steps: 3,
        multi_turn: { secrets_per_step: 2 },
        eval: { games: 0 },
        ...settings,
      });
    const rowsOf = (dir: string) =>
      readJsonl(join(dir, "metrics.jsonl"))
        .rows.filter((r) => "loss" in r)
        .map(withoutTimings);
    try {
      const a = join(root, "a");
      const whole = await train({ config: configFor(a), threads: 1 });
      assert.equal(whole.reason, "completed");
      const rows = rowsOf(a);
      assert.equal(rows.length, 3);
      for (const row of rows) {
        for (const key of [...metrics, "loss", "grad_norm"])
          assert.ok(Number.isFinite(row[key] as number), `${key} = ${row[key]}`);
      }
      if (settings.entropy_coef !== undefined) assert.equal(rows[0]!.entropy_coef, settings.entropy_coef);

      const b = join(root, "b");
      let checks = 0;
      const first = await train({ config: configFor(b), threads: 1, shouldStop: () => ++checks > 2 });
      assert.equal(first.reason, "interrupted");
      assert.ok(first.steps < 3, `stopped after ${first.steps} steps`);
      const second = await train({ config: configFor(b), resume: "latest", threads: 1 });
      assert.equal(second.steps, 3);
      assert.deepEqual(rowsOf(b), rows);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}
