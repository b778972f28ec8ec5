import assert from "node:assert/strict";
import { test } from "node:test";
import { consoleEvents, warningDeduper, warningKey } from "../src/grpo/trainer-console.js";
import type { MonitorFields } from "../src/run/monitor.js";

const plateau = (gain: string, stop = false) =>
  `plateau: reward (running mean) gained ${gain} over the last 200 steps (needs > 0.01)${stop ? "; stopping early" : ""}`;
const zeroStd = (pct: number) =>
  `${pct}% of groups have zero reward std (no learning signal): raise num_generations or make the reward finer-grained`;

test("a warning's key ignores its figures", () => {
  assert.equal(warningKey(plateau("0.004")), warningKey(plateau("-0.012")));
  assert.equal(warningKey(zeroStd(55)), warningKey(zeroStd(90)));
  assert.notEqual(warningKey(plateau("0.004")), warningKey(plateau("0.004", true)));
  assert.notEqual(warningKey("loss is null/NaN"), warningKey("loss is Infinity"));
});

test("warnings print once, again when they change, and again when they come back", () => {
  const dedup = warningDeduper();
  assert.deepEqual(dedup.next([]), []);
  assert.deepEqual(dedup.next([plateau("0.004")]), [plateau("0.004")]);
  assert.deepEqual(dedup.next([plateau("0.003")]), []);
  assert.deepEqual(dedup.next([plateau("0.001"), zeroStd(60)]), [zeroStd(60)]);
  assert.deepEqual(dedup.next([plateau("0.002"), zeroStd(75)]), []);
  // The words changed: early stopping now.
  assert.deepEqual(dedup.next([plateau("0.002", true), zeroStd(75)]), [plateau("0.002", true)]);
  // Gone for a step, then back: said again.
  assert.deepEqual(dedup.next([]), []);
  assert.deepEqual(dedup.next([plateau("0.000")]), [plateau("0.000")]);
});

test("the console prints the plateau warning once, while every status line still prints", () => {
  let out = "";
  const write = (s: string) => {
    out += s;
    return true;
  };
  const stream = { isTTY: false, write } as unknown as NodeJS.WriteStream;
  const events = consoleEvents(stream);
  const fields = (warnings: string[]) =>
    ({ criteria: [], criteria_met: false, warnings }) as unknown as MonitorFields;
  events.logged({ step: 1 }, fields([]), "step 1/9");
  events.logged({ step: 2 }, fields([plateau("0.004")]), "step 2/9 | PLATEAU");
  events.logged({ step: 3 }, fields([plateau("0.002")]), "step 3/9 | PLATEAU");
  events.logged({ step: 4 }, fields([plateau("0.001")]), "step 4/9 | PLATEAU");
  events.close();
  const lines = out.trimEnd().split("\n");
  assert.deepEqual(lines, [
    "step 1/9",
    "step 2/9 | PLATEAU",
    `  warning: ${plateau("0.004")}`,
    "step 3/9 | PLATEAU",
    "step 4/9 | PLATEAU",
  ]);
});
