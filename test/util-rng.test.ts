import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../src/util/rng.js";

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
