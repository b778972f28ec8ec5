import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveConfig } from "../src/grpo/config/config.js";
import { loraParameterCount, planRun, QWEN25_05B_SHAPE } from "../src/grpo/plan.js";
import { stepsPerEpoch } from "../src/grpo/run-length.js";
import { FIXTURES_DIR, PACKAGE_ROOT } from "../src/paths.js";

const seed = resolveConfig({ preset: "seed" }).config;

test("seed preset: 60 prompts, 1 prompt per step, 60 steps per epoch, 4,200 steps for 70 epochs", () => {
  const plan = planRun(seed, { datasetSize: 60 });
  assert.equal(plan.completions_per_step, 2);
  assert.equal(plan.prompts_per_step, 1);
  assert.equal(plan.steps_per_epoch, 60);
  assert.equal(plan.total_steps, 4200);
  assert.equal(plan.naive_total_steps, 2100);
  assert.equal(plan.evals, 42);
  assert.equal(plan.saves, 42);
  assert.equal(plan.checkpoints_kept, 10);
  assert.equal(plan.logged_rows, 420);
  assert.ok(plan.notes.some((n) => /2,100 steps.*4,200 steps/.test(n)));
  // Every suggested alternative really gives 2,100 steps.
  const changes = plan.alternatives.map((a) => a.change);
  assert.ok(changes.some((c) => c.startsWith("per_device_train_batch_size 4")));
  assert.ok(changes.includes("num_train_epochs 35"));
  assert.ok(plan.alternatives.every((a) => a.total_steps === 2100));
  assert.equal(planRun({ ...seed, per_device_train_batch_size: 4 }, { datasetSize: 60 }).total_steps, 2100);
  assert.equal(planRun(seed, { datasetSize: 60, epochs: 35 }).total_steps, 2100);
});

test("target steps -> epochs, epochs -> steps, max_steps wins over epochs", () => {
  const toSteps = planRun(seed, { datasetSize: 60, targetSteps: 2100 });
  assert.equal(toSteps.total_steps, 2100);
  assert.equal(toSteps.epochs_for_target, 35);
  assert.equal(toSteps.steps_from, "target_steps");
  assert.equal(planRun(seed, { datasetSize: 60, epochs: 2.5 }).total_steps, 150);
  assert.equal(planRun({ ...seed, max_steps: 77 }, { datasetSize: 60 }).total_steps, 77);
  assert.throws(
    () => planRun(seed, { datasetSize: 60, epochs: 2, targetSteps: 5 }),
    /either --target-steps or --epochs/,
  );
});

test("TRL's sampler drops an incomplete last chunk; num_iterations repeats each step's batch", () => {
  // 3 prompts per step over 61 prompts: 20 full chunks, 1 prompt dropped.
  const c = { ...seed, per_device_train_batch_size: 6, num_generations: 2 };
  assert.equal(stepsPerEpoch(c, 61), 20);
  assert.equal(planRun(c, { datasetSize: 61 }).prompts_dropped_per_epoch, 1);
  assert.equal(stepsPerEpoch({ ...c, num_iterations: 2 }, 61), 40);
  // Gradient accumulation multiplies prompts per step.
  assert.equal(stepsPerEpoch({ ...seed, gradient_accumulation_steps: 4 }, 60), 15);
  // Fractional epochs round the step count up (HF: ceil(epochs * steps_per_epoch)).
  assert.equal(planRun({ ...seed, num_train_epochs: 0.51 }, { datasetSize: 60 }).total_steps, 31);
});

test("evals, saves and retention counts", () => {
  const c = { ...seed, eval_steps: 30, save_steps: 45, save_total_limit: null };
  const plan = planRun(c, { datasetSize: 60, targetSteps: 100 });
  assert.equal(plan.evals, 3);
  assert.equal(plan.saves, 2);
  assert.equal(plan.checkpoints_kept, 2);
  assert.equal(planRun({ ...c, eval_steps: null }, { datasetSize: 60, targetSteps: 100 }).evals, 0);
});

test("adapter size: LoRA parameters from the model's shapes", () => {
  // Qwen2.5-0.5B, r 16, all 7 projections: per block q,o 16·(896+896); k,v 16·(896+128);
  // gate,up,down 16·(896+4864) -> 366,592 per block, × 24 blocks.
  assert.equal(
    loraParameterCount(QWEN25_05B_SHAPE, { r: 16, target_modules: seed.lora.target_modules }),
    8_798_208,
  );
  assert.equal(
    loraParameterCount(QWEN25_05B_SHAPE, { r: 8, target_modules: ["q_proj", "v_proj"] }),
    24 * 8 * (1792 + 1024),
  );
  assert.throws(
    () => loraParameterCount(QWEN25_05B_SHAPE, { r: 8, target_modules: ["qkv"] }),
    /`qkv` is not a linear layer/,
  );
  const plan = planRun(seed, { datasetSize: 60 });
  assert.equal(plan.disk.adapter_bytes, 8_798_208 * 4);
  assert.equal(plan.disk.optimizer_state_bytes, 8_798_208 * 4, "SGD with momentum keeps one buffer");
  const adam = planRun({ ...seed, optim: "adamw", momentum: 0 }, { datasetSize: 60 });
  assert.equal(adam.disk.optimizer_state_bytes, 2 * 8_798_208 * 4, "AdamW keeps two");
});

test("timeline from seconds per step", () => {
  const plan = planRun(seed, { datasetSize: 60, secPerStep: 6 });
  assert.equal(plan.timeline?.total_seconds, 25_200);
  assert.equal(plan.timeline?.seconds_per_epoch, 360);
  const m1000 = plan.timeline?.events.find((e) => e.step === 1000);
  assert.equal(m1000?.seconds, 6000);
  assert.match(m1000?.what ?? "", /milestone/);
  const short = planRun(seed, { datasetSize: 60, targetSteps: 600 });
  assert.ok(short.notes.some((n) => /1000, 1500, 2100 fall after the last step/.test(n)));
});

/** Run the CLI: the compiled one under dist/, or the TypeScript one through tsx. */
function cli(args: string[]) {
  const here = fileURLToPath(import.meta.url);
  const compiled = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
  const argv =
    here.includes(`${join("dist", "test")}`) && existsSync(compiled)
      ? [compiled, ...args]
      : ["--import", "tsx", join(PACKAGE_ROOT, "src", "cli", "main.ts"), ...args];
  return spawnSync(process.execPath, argv, { cwd: PACKAGE_ROOT, encoding: "utf8" });
}

test("CLI: plan --preset seed --json reports 60 steps per epoch and 4,200 steps", () => {
  const r = cli(["plan", "--preset", "seed", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.dataset_size, 60);
  assert.equal(plan.steps_per_epoch, 60);
  assert.equal(plan.total_steps, 4200);
  assert.equal(plan.num_train_epochs, 70);
});

test("CLI: batch 1 with G 2 exits non-zero naming both settings and a fix", () => {
  const r = cli(["plan", "--preset", "seed", "--set", "per_device_train_batch_size=1"]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /per_device_train_batch_size \(1\)/);
  assert.match(r.stderr, /num_generations \(2\)/);
  assert.match(r.stderr, /Fix: set per_device_train_batch_size to 2/);
});

test("CLI: --model reads the adapter shapes from a model directory", () => {
  const r = cli(["plan", "--preset", "seed", "--json", "--model", join(FIXTURES_DIR, "qwen2-tiny")]);
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.match(plan.disk.model, /qwen2-tiny/);
  // hidden 64, intermediate 160, 4 heads / 2 KV heads of 16, 2 layers, r 16:
  // q,o 16·128; k,v 16·96; gate,up,down 16·224 -> 17,920 per block.
  assert.equal(plan.disk.lora_parameters, 2 * 17_920);
});

test("the plan names the loss and what its settings cost", () => {
  const notesOf = (preset: string, overrides: Record<string, unknown>) =>
    planRun(resolveConfig({ preset, overrides }).config, { datasetSize: 60 }).notes.join("\n");
  assert.match(notesOf("seed", {}), /Loss: loss_type dapo, token-level importance ratio\./);
  const gspo = notesOf("tiny", { loss_type: "grpo", importance_sampling_level: "sequence" });
  assert.match(gspo, /loss_type grpo, sequence-level importance ratio/);
  assert.match(gspo, /Each turn of a game is scored in a row of its own/);
  assert.doesNotMatch(notesOf("tiny", { loss_type: "cispo", epsilon_high: 5 }), /row of its own/);
  assert.match(notesOf("seed", { top_entropy_quantile: 0.2 }), /no-grad forward pass per micro-batch/);
  assert.match(notesOf("seed", { entropy_coef: 0.01 }), /entropy bonus 0\.01.*forward and a backward pass/s);
});
