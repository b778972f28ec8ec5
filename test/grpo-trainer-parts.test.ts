/**
 * The trainer's pure parts: the learning-rate schedule (transformers' formulas, hand-computed),
 * the per-epoch prompt order (TRL's RepeatSampler for one process) and its checkpointed state,
 * the micro-batch layout, and the metrics window.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DataOrder } from "../src/grpo/data-order.js";
import { learningRateFactor, warmupSteps } from "../src/grpo/schedule.js";
import { buildMicroBatch } from "../src/grpo/step/micro-batch.js";
import { MetricsWindow } from "../src/grpo/trainer-metrics.js";

const schedule = (type: "linear" | "cosine" | "constant" | "constant_with_warmup", warmup = 0) => ({
  lr_scheduler_type: type,
  warmup_steps: warmup,
  warmup_ratio: 0,
});
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test("learning-rate factors follow transformers' schedules", () => {
  // linear, 10 steps, 2 warmup: 0, 1/2, then (10 - s) / 8.
  const linear = Array.from({ length: 10 }, (_, s) => learningRateFactor(schedule("linear", 2), s, 10));
  [0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8].forEach((want, s) => {
    close(linear[s], want);
  });
  // cosine without warmup: 1 at the start, 1/2 half-way, (1 + cos(0.3 pi)) / 2 at s = 3.
  close(learningRateFactor(schedule("cosine"), 0, 10), 1);
  close(learningRateFactor(schedule("cosine"), 5, 10), 0.5);
  close(learningRateFactor(schedule("cosine"), 3, 10), (1 + Math.cos(0.3 * Math.PI)) / 2);
  // constant ignores warmup; constant_with_warmup ramps then stays.
  assert.equal(learningRateFactor(schedule("constant", 5), 0, 10), 1);
  assert.equal(learningRateFactor(schedule("constant_with_warmup", 4), 1, 10), 0.25);
  assert.equal(learningRateFactor(schedule("constant_with_warmup", 4), 7, 10), 1);
  // warmup_steps wins over warmup_ratio; the ratio rounds up.
  assert.equal(warmupSteps({ warmup_steps: 0, warmup_ratio: 0.05 }, 1000), 50);
  assert.equal(warmupSteps({ warmup_steps: 0, warmup_ratio: 0.1 }, 33), 4);
  assert.equal(warmupSteps({ warmup_steps: 7, warmup_ratio: 0.5 }, 100), 7);
});

test("data order: each epoch a fresh shuffle cut into whole chunks; state restores the stream", () => {
  const order = new DataOrder(7, 2, 42);
  assert.equal(order.chunksPerEpoch, 3);
  const epochs: number[][] = [[], [], []];
  for (let i = 0; i < 9; i++) {
    const { indices, epoch } = order.next();
    assert.equal(indices.length, 2);
    epochs[epoch].push(...indices);
  }
  for (const seen of epochs)
    assert.equal(new Set(seen).size, 6, "six distinct prompts per epoch, one dropped");
  assert.notDeepEqual(epochs[0], epochs[1]);

  const a = new DataOrder(7, 2, 42);
  for (let i = 0; i < 4; i++) a.next();
  const b = new DataOrder(7, 2, 42);
  b.restore(JSON.parse(JSON.stringify(a.state())));
  for (let i = 0; i < 7; i++) assert.deepEqual(b.next(), a.next());
  assert.notDeepEqual(new DataOrder(7, 2, 43).next().indices, new DataOrder(7, 2, 42).next().indices);
  assert.throws(() => new DataOrder(3, 4, 0), /cannot fill one generation batch/);
});

test("micro-batch: left-padded prompts, right-padded completions, positions and loss masks", () => {
  const mb = buildMicroBatch(
    [
      [5, 6, 7],
      [8, 9],
    ],
    [[10, 11], [12]],
    [true, false],
    0,
    "cpu",
    true,
  );
  assert.equal(mb.promptWidth, 3);
  assert.equal(mb.completionWidth, 2);
  assert.deepEqual(mb.inputIds.tolist(), [
    [5, 6, 7, 10, 11],
    [0, 8, 9, 12, 0],
  ]);
  assert.deepEqual(mb.attentionMask.tolist(), [
    [1, 1, 1, 1, 1],
    [0, 1, 1, 1, 0],
  ]);
  assert.deepEqual(mb.positionIds.tolist(), [
    [0, 1, 2, 3, 4],
    [0, 0, 1, 2, 2],
  ]);
  assert.deepEqual(mb.targets.tolist(), [
    [10, 11],
    [12, 0],
  ]);
  assert.deepEqual(mb.tokenMask.tolist(), [
    [1, 1],
    [1, 0],
  ]);
  // mask_truncated_completions: the truncated first completion leaves the loss entirely.
  assert.deepEqual(mb.lossMask.tolist(), [
    [0, 0],
    [1, 0],
  ]);
});

test("metrics window: means over steps, latest values for grad_norm and learning_rate, NaN left out", () => {
  const w = new MetricsWindow();
  w.add({ loss: 1, grad_norm: 3, learning_rate: 0.1, reward: 2 }, 100, 1, false);
  w.add({ loss: Number.NaN, grad_norm: Number.NaN, learning_rate: 0.2 }, 50, 1, true);
  const restored = new MetricsWindow();
  restored.restore(w.state());
  w.add({ loss: 3, grad_norm: 5, learning_rate: 0.3, reward: 4 }, 150, 2, false);
  restored.add({ loss: 3, grad_norm: 5, learning_rate: 0.3, reward: 4 }, 150, 2, false);
  const row = w.flush();
  assert.deepEqual(restored.flush(), row);
  assert.equal(row.loss, 2);
  assert.equal(row.reward, 3);
  assert.equal(row.grad_norm, 5);
  assert.equal(row.learning_rate, 0.3);
  assert.equal(row.step_time, 4 / 3);
  assert.equal(row.tokens_per_second, 300 / 4);
  assert.equal(row.skipped_steps, 1);
  assert.equal(w.steps, 0);
});
