import assert from "node:assert/strict";
import { test } from "node:test";
import type { MetricsRow, RunInit, SampleRow } from "../src/dashboard/shared/protocol.js";
import { RunData } from "../src/dashboard/shared/run-data.js";

/** An init message plus the binary columns the page would fetch for `keys`. */
function load(rows: MetricsRow[], keys: string[]): { init: RunInit; binary: ArrayBuffer } {
  const n = rows.length;
  const values = new Float32Array(n * keys.length);
  keys.forEach((key, c) => {
    rows.forEach((row, r) => {
      const v = row[key];
      values[c * n + r] = typeof v === "number" ? v : Number.NaN;
    });
  });
  const init: RunInit = {
    run: { id: 0, label: "run", dir: "/runs/run" },
    config: null,
    keys,
    rowCount: n,
    latest: rows.at(-1) ?? null,
    evalRows: [],
    samples: [],
    games: [],
    problems: [],
    lastWriteMs: null,
  };
  return { init, binary: values.buffer };
}

const row = (step: number, reward: number, loss = step / 100): MetricsRow => ({ step, reward, loss });

test("columns from the binary load and live rows append after them, new keys included", () => {
  const { init, binary } = load([row(10, 1), row(20, 2)], ["step", "reward"]);
  const run = new RunData(init, ["step", "reward"], binary);
  assert.deepEqual(Array.from(run.steps), [10, 20]);
  run.append([{ step: 30, reward: 3, entropy: 0.5 }]);
  assert.deepEqual(Array.from(run.column("reward") ?? []), [1, 2, 3]);
  // A key first seen live has no history: NaN for the loaded rows.
  assert.deepEqual(Array.from(run.column("entropy") ?? []), [Number.NaN, Number.NaN, 0.5]);
  assert.equal(run.latest?.step, 30);
  assert.equal(run.lastStep, 30);
});

test("a resumed run (step going back) replaces the rows from that step on", () => {
  const { init, binary } = load([row(10, 1), row(20, 2), row(30, 3)], ["step", "reward"]);
  const run = new RunData(init, ["step", "reward"], binary);
  run.append([row(20, 9), row(30, 8)]);
  assert.deepEqual(Array.from(run.steps), [10, 20, 30]);
  assert.deepEqual(Array.from(run.column("reward") ?? []), [1, 9, 8]);
});

test("a stored history with a resume in it keeps the newest copy of each step, in order", () => {
  const rows = [row(10, 1), row(20, 2), row(30, 3), row(20, 5), row(30, 6), row(40, 7)];
  const { init, binary } = load(rows, ["step", "reward"]);
  const run = new RunData(init, ["step", "reward"], binary);
  assert.deepEqual(Array.from(run.steps), [10, 20, 30, 40]);
  assert.deepEqual(Array.from(run.column("reward") ?? []), [1, 5, 6, 7]);
});

test("columns fetched after the first paint fill the start-up rows, through any resume compaction", () => {
  const rows = [row(10, 1, 0.1), row(20, 2, 0.2), row(20, 5, 0.5), row(30, 6, 0.6)];
  const first = load(rows, ["step", "reward"]);
  const run = new RunData(first.init, ["step", "reward"], first.binary);
  run.append([row(40, 7, 0.7)]);
  const later = load(rows, ["loss"]);
  run.addColumns(["loss"], later.binary, rows.length);
  assert.deepEqual(
    Array.from(run.column("loss") ?? []).map((v) => Number(v.toFixed(2))),
    [0.1, 0.5, 0.6, 0.7],
  );
});

test("eval rows of a re-evaluated step replace the older ones; samples and games are capped", () => {
  const { init, binary } = load([], []);
  const run = new RunData(init, [], binary);
  run.addEvalRows([
    { step: 100, "eval/win_rate": 0.1 },
    { step: 200, "eval/win_rate": 0.2 },
  ]);
  run.addEvalRows([{ step: 200, "eval/win_rate": 0.3 }]);
  assert.deepEqual(
    run.evalRows.map((r) => [r.step, r["eval/win_rate"]]),
    [
      [100, 0.1],
      [200, 0.3],
    ],
  );
  const sample = (step: number): SampleRow => ({
    step,
    prompt_id: `p${step}`,
    secret: "crane",
    history: [],
    completion: "<guess>slate</guess>",
    guess: "SLATE",
    reward: 0,
    rewards: {},
  });
  run.addSamples(
    Array.from({ length: 10 }, (_, i) => sample(i)),
    4,
  );
  assert.deepEqual(
    run.samples.map((s) => s.step),
    [6, 7, 8, 9],
  );
  const game = (step: number) => ({ step, secret: "frost", won: true, guesses: [] });
  run.addGames([game(1), game(2), game(2), game(3)], 2);
  assert.deepEqual(
    run.games.map((g) => g.step),
    [2, 2, 3],
  );
});
