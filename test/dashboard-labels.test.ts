import assert from "node:assert/strict";
import { test } from "node:test";
import { evalHint, formatPercentTicks, formatTicks } from "../src/dashboard/web/labels.js";

test("tick labels get the decimals their spacing needs (a narrow range no longer reads '7' on every tick)", () => {
  assert.deepEqual(formatTicks([6.8, 7, 7.2, 7.4]), ["6.8", "7.0", "7.2", "7.4"]);
  assert.deepEqual(formatTicks([7, 7.25, 7.5, 7.75]), ["7.00", "7.25", "7.50", "7.75"]);
  assert.deepEqual(formatTicks([7.001, 7.002, 7.003]), ["7.001", "7.002", "7.003"]);
  // uPlot's float noise does not add digits.
  assert.deepEqual(formatTicks([0.1, 0.2, 0.30000000000000004]), ["0.1", "0.2", "0.3"]);
  assert.deepEqual(formatTicks([0, 5, 10, 15]), ["0", "5", "10", "15"]);
  assert.deepEqual(formatTicks([-1, -0.5, 0, 0.5]), ["-1.0", "-0.5", "0.0", "0.5"]);
  // Big values keep thousands separators; an increment given by uPlot wins over the gaps.
  assert.deepEqual(formatTicks([10_000, 15_000, 20_000]), ["10,000", "15,000", "20,000"]);
  assert.deepEqual(formatTicks([1000, 1000.5, 1001], 0.5), ["1,000.0", "1,000.5", "1,001.0"]);
  assert.deepEqual(formatTicks([2, 4], 1), ["2", "4"]);
});

test("tiny and huge ranges use an exponent with enough digits to tell ticks apart", () => {
  assert.deepEqual(formatTicks([1e-6, 2e-6, 3e-6]), ["1e-6", "2e-6", "3e-6"]);
  assert.deepEqual(formatTicks([1e-6, 1.05e-6, 1.1e-6]), ["1.00e-6", "1.05e-6", "1.10e-6"]);
  assert.deepEqual(formatTicks([0, 5e-5, 1e-4]), ["0", "5e-5", "1e-4"]);
  assert.deepEqual(formatTicks([2e7, 3e7]), ["2e7", "3e7"]);
});

test("tick label edge cases: one tick, none, non-finite", () => {
  assert.deepEqual(formatTicks([]), []);
  assert.deepEqual(formatTicks([7]), ["7"]);
  assert.deepEqual(formatTicks([7.25]), ["7.25"]);
  assert.deepEqual(formatTicks([1, Number.NaN, 2]), ["1", "", "2"]);
});

test("percent ticks: whole percents when the spacing allows, decimals when it does not", () => {
  assert.deepEqual(formatPercentTicks([0, 0.2, 0.4, 0.6, 0.8, 1]), [
    "0%",
    "20%",
    "40%",
    "60%",
    "80%",
    "100%",
  ]);
  assert.deepEqual(formatPercentTicks([0.01, 0.015, 0.02]), ["1.0%", "1.5%", "2.0%"]);
});

test("the Evaluation panel's hint says when the next evaluation comes, or that it is at the end", () => {
  assert.equal(evalHint({ eval_steps: 100, max_steps: 1000 }, 130, true), null);
  assert.equal(
    evalHint({ eval_steps: 100, max_steps: 1000 }, 130, false),
    "no evaluation yet: evaluations run every 100 steps (eval_steps) — next at step 200",
  );
  assert.equal(
    evalHint({ eval_steps: 1000, max_steps: 5000 }, 0, false),
    "no evaluation yet: evaluations run every 1,000 steps (eval_steps) — next at step 1,000",
  );
  assert.equal(
    evalHint({ eval_steps: null, max_steps: 300 }, 42, false),
    "no evaluation yet: evaluations run only at the end of the run (step 300) (eval_steps not set)",
  );
  assert.equal(
    evalHint({ eval_steps: 500, max_steps: 300 }, 42, false),
    "no evaluation in this run: eval_steps (500) is past max_steps (300)",
  );
  assert.match(evalHint(null, 0, false) ?? "", /config\.json/);
});
