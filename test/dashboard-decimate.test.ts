import assert from "node:assert/strict";
import { test } from "node:test";
import { alignForDisplay, lowerBound, trailingMean, upperBound } from "../src/dashboard/shared/decimate.js";

test("short series are aligned exactly on the union of their steps, gaps as null", () => {
  const a = { x: [0, 10, 20], y: [1, 2, 3] };
  const b = { x: [5, 10, 25], y: [7, Number.NaN, 9] };
  const out = alignForDisplay([a, b], 100);
  assert.equal(out.decimated, false);
  assert.deepEqual(out.x, [0, 5, 10, 20, 25]);
  assert.deepEqual(out.ys[0], [1, null, 2, 3, null]);
  assert.deepEqual(out.ys[1], [null, 7, null, null, 9]);
});

test("long series are cut to two points per bucket and keep every bucket's min and max", () => {
  const n = 100_000;
  const x = Float32Array.from({ length: n }, (_, i) => i + 1);
  const y = Float32Array.from({ length: n }, (_, i) => Math.sin(i / 500));
  y[54_321] = 40; // one-step spike
  y[77_777] = -40;
  const buckets = 800;
  const out = alignForDisplay([{ x, y }], buckets);
  assert.equal(out.decimated, true);
  assert.equal(out.x.length, 2 * buckets);
  const values = out.ys[0].filter((v): v is number => v !== null);
  assert.equal(Math.max(...values), 40);
  assert.equal(Math.min(...values), -40);
  // x stays ascending (uPlot requires it) and inside the data range.
  for (let i = 1; i < out.x.length; i++) assert.ok(out.x[i] > out.x[i - 1]);
  assert.ok(out.x[0] >= 1 && out.x.at(-1)! <= n);
  // Each bucket's two points are its min and max in time order: the spike bucket has 40 then a value < 40.
  const spikeBucket = Math.floor(((54_322 - 1) / (n - 1)) * buckets);
  const pair = [out.ys[0][2 * spikeBucket], out.ys[0][2 * spikeBucket + 1]];
  assert.ok(pair.includes(40), `bucket ${spikeBucket} holds ${pair}`);
});

test("a zoomed range only uses points inside it, and a sparse run overlaid on a dense one is kept", () => {
  const dense = {
    x: Array.from({ length: 10_000 }, (_, i) => i),
    y: Array.from({ length: 10_000 }, (_, i) => i % 7),
  };
  const sparse = { x: [100, 4_000, 9_000], y: [1, 2, 3] };
  const out = alignForDisplay([dense, sparse], 300, [3_000, 6_000]);
  assert.equal(out.decimated, true);
  assert.ok(out.x[0] >= 3_000 && out.x.at(-1)! <= 6_000);
  assert.deepEqual(
    out.ys[1].filter((v) => v !== null),
    [2],
  );
  const zoomedShort = alignForDisplay([sparse], 300, [50, 5_000]);
  assert.deepEqual(zoomedShort.x, [100, 4_000]);
});

test("missing values (NaN) never become points, and an all-missing series stays empty", () => {
  const x = Array.from({ length: 5_000 }, (_, i) => i);
  const out = alignForDisplay([{ x, y: x.map(() => Number.NaN) }], 100);
  assert.ok(out.ys[0].every((v) => v === null));
  assert.deepEqual(alignForDisplay([{ x: [], y: [] }], 100), { x: [], ys: [[]], decimated: false });
});

test("binary searches find the first index at or after, and strictly after, a value", () => {
  const x = [1, 3, 3, 5];
  assert.equal(lowerBound(x, 3), 1);
  assert.equal(upperBound(x, 3), 3);
  assert.equal(lowerBound(x, 6), 4);
  assert.equal(upperBound(x, 0), 0);
});

test("trailingMean averages the last `window` values and skips NaN", () => {
  const mean = trailingMean([1, 2, 3, Number.NaN, 5, 6], 3);
  assert.deepEqual(Array.from(mean), [1, 1.5, 2, 2.5, 4, 5.5]);
});
