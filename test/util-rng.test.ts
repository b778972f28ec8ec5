import assert from "node:assert/strict";
import { test } from "node:test";
import { keyedUniform, mixSeeds, Rng } from "../src/util/rng.js";

test("same seed, same stream; different seeds, different streams", () => {
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 8 }, () => rng.nextUint32());
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(0), draw(1));
  assert.notDeepEqual(draw(1), draw(2 ** 32 + 1), "seeds above 2^32 are not folded onto small ones");
});

test("a saved state continues the exact stream", () => {
  const rng = new Rng(7);
  for (let i = 0; i < 100; i++) rng.next();
  const saved = rng.state();
  const a = Array.from({ length: 20 }, () => rng.next());
  const b = new Rng(saved);
  assert.deepEqual(
    Array.from({ length: 20 }, () => b.next()),
    a,
  );
  assert.throws(() => new Rng([0, 0, 0, 0]), /all-zero/);
  assert.throws(() => new Rng([1, 2, 3] as unknown as [number, number, number, number]), /four uint32/);
});

test("next() is in [0, 1) and int(n) covers 0..n-1 about evenly", () => {
  const rng = new Rng(123);
  const n = 6;
  const counts = new Array(n).fill(0);
  const draws = 60000;
  for (let i = 0; i < draws; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1);
    counts[rng.int(n)]++;
  }
  // Chi-square with 5 degrees of freedom: 20.5 is the 0.999 quantile.
  const expected = draws / n;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 20.5, `chi2 ${chi2.toFixed(2)} counts ${counts}`);
  assert.throws(() => rng.int(0), /1\.\.2\^32/);
  assert.throws(() => rng.pick([]), /empty/);
});

test("shuffle is a permutation; fork gives an independent generator", () => {
  const rng = new Rng(5);
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = rng.shuffle([...items]);
  assert.deepEqual(
    [...shuffled].sort((a, b) => a - b),
    items,
  );
  assert.notDeepEqual(shuffled, items);
  const child = rng.fork();
  assert.notEqual(child.nextUint32(), rng.nextUint32());
});

test("keyedUniform: a counter-based stream in (0, 1], uniform, independent across keys and seeds", () => {
  assert.equal(keyedUniform(3, 17, 5), keyedUniform(3, 17, 5));
  const n = 20_000;
  const draws = Array.from({ length: n }, (_, i) => keyedUniform(42, i % 100, Math.floor(i / 100)));
  assert.ok(draws.every((u) => u > 0 && u <= 1));
  const mean = draws.reduce((s, u) => s + u, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  // Ten equal bins each get about a tenth (chi-square with 9 degrees of freedom, far below 40).
  const bins = new Array(10).fill(0);
  for (const u of draws) bins[Math.min(9, Math.floor(u * 10))]++;
  const chi = bins.reduce((s, b) => s + (b - n / 10) ** 2 / (n / 10), 0);
  assert.ok(chi < 40, `chi-square ${chi}`);
  // Neighbouring keys, positions and seeds are not correlated.
  const pairs = (f: (i: number) => [number, number]) => {
    const xs = Array.from({ length: 5000 }, (_, i) => f(i));
    const mx = xs.reduce((s, [a]) => s + a, 0) / xs.length;
    const my = xs.reduce((s, [, b]) => s + b, 0) / xs.length;
    const cov = xs.reduce((s, [a, b]) => s + (a - mx) * (b - my), 0) / xs.length;
    return cov / (1 / 12);
  };
  assert.ok(Math.abs(pairs((i) => [keyedUniform(1, i, 0), keyedUniform(1, i + 1, 0)])) < 0.05);
  assert.ok(Math.abs(pairs((i) => [keyedUniform(1, 0, i), keyedUniform(1, 0, i + 1)])) < 0.05);
  assert.ok(Math.abs(pairs((i) => [keyedUniform(i, 5, 5), keyedUniform(i + 1, 5, 5)])) < 0.05);
  assert.notEqual(mixSeeds(1, 2), mixSeeds(2, 1));
});
