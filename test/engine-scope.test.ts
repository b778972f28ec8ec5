// Tensor lifetimes: scopes free what they do not return, nest, survive awaits, and keep memory flat.
import assert from "node:assert/strict";
import { test } from "node:test";
import { keep, liveTensorCount, ones, scope, type Tensor, tensor, zeros } from "../src/engine/index.js";

test("scope frees everything created inside except the result", () => {
  const before = liveTensorCount();
  const out = scope(() => {
    const a = ones([2, 2]);
    const b = a.add(1).mul(3);
    b.sum();
    return b.sub(1);
  });
  assert.equal(liveTensorCount(), before + 1, "only the returned tensor survives");
  assert.deepEqual(out.toArray(), [5, 5, 5, 5]);
  out.dispose();
  assert.equal(liveTensorCount(), before);
});

test("returned arrays, objects and Maps of tensors survive; nested scopes hand results upward", () => {
  const before = liveTensorCount();
  const result = scope(() => {
    const inner = scope(() => {
      const x = tensor([1, 2]);
      x.mul(2);
      return { x, pair: [x.add(1), x.add(2)] as const, map: new Map([["y", x.neg()]]) };
    });
    assert.equal(inner.x.isDisposed, false);
    zeros([3]); // freed when the outer scope closes
    return inner;
  });
  assert.equal(liveTensorCount(), before + 4);
  assert.deepEqual(result.pair[1].toArray(), [3, 4]);
  assert.deepEqual(result.map.get("y")?.toArray(), [-1, -2]);
  for (const t of [result.x, ...result.pair, ...result.map.values()]) t.dispose();
  assert.equal(liveTensorCount(), before);
});

test("keep() takes a tensor out of its scope; dispose() is idempotent; use after dispose throws", () => {
  const before = liveTensorCount();
  let kept: Tensor | undefined;
  scope(() => {
    kept = keep(ones([2]));
    ones([2]);
  });
  assert.equal(liveTensorCount(), before + 1);
  const k = kept as Tensor;
  assert.deepEqual(k.toArray(), [1, 1]);
  k.dispose();
  k.dispose();
  assert.equal(liveTensorCount(), before);
  assert.throws(() => k.add(1), /used after dispose/);
});

test("a throwing scope frees its tensors and rethrows", () => {
  const before = liveTensorCount();
  assert.throws(
    () =>
      scope(() => {
        ones([4]);
        throw new Error("boom");
      }),
    /boom/,
  );
  assert.equal(liveTensorCount(), before);
});

test("async scopes keep their own scope across awaits while others interleave", async () => {
  const before = liveTensorCount();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
  const task = (v: number) =>
    scope(async () => {
      const a = tensor([v]);
      await tick();
      const b = a.add(v); // created after the await: must land in this task's scope
      await tick();
      return b.mul(2);
    });
  const [r1, r2] = await Promise.all([task(1), task(10)]);
  assert.deepEqual(r1.toArray(), [4]);
  assert.deepEqual(r2.toArray(), [40]);
  assert.equal(liveTensorCount(), before + 2, "each async scope freed its temporaries");
  r1.dispose();
  r2.dispose();
  assert.equal(liveTensorCount(), before);
});

test("tensors made after their async scope closed go to the enclosing owner, not a dead scope", async () => {
  const before = liveTensorCount();
  let late: Promise<Tensor> | undefined;
  scope(() => {
    late = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return ones([2]); // the scope has closed by now
    })();
  });
  const t = await (late as Promise<Tensor>);
  assert.equal(t.isDisposed, false);
  assert.equal(liveTensorCount(), before + 1);
  t.dispose(); // the caller owns it
  assert.equal(liveTensorCount(), before);
});

test("20,000 scoped iterations keep live tensors and RSS flat", () => {
  const w = ones([64, 64]);
  const x = ones([8, 64]);
  const step = () => scope(() => x.matmul(w).silu().softmax(-1).sum().item());
  for (let i = 0; i < 2000; i++) step(); // warm up allocator caches
  const liveBefore = liveTensorCount();
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < 20000; i++) step();
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  assert.equal(liveTensorCount(), liveBefore);
  // Each iteration allocates ~6 KB of tensors; a leak would add > 100 MB.
  assert.ok(rssGrowth < 30 * 1024 * 1024, `RSS grew by ${(rssGrowth / 1048576).toFixed(1)} MB`);
  w.dispose();
  x.dispose();
});

test("5,000 scoped forward+backward+zeroGrad iterations keep live tensors and RSS flat", () => {
  const w = ones([64, 64]).setRequiresGrad();
  const x = ones([8, 64]);
  const step = () =>
    scope(() => {
      x.matmul(w).tanh().sum().backward();
      w.grad?.norm().item();
      w.zeroGrad();
    });
  for (let i = 0; i < 500; i++) step();
  const liveBefore = liveTensorCount();
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < 5000; i++) step();
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  assert.equal(liveTensorCount(), liveBefore);
  assert.ok(rssGrowth < 30 * 1024 * 1024, `RSS grew by ${(rssGrowth / 1048576).toFixed(1)} MB`);
  w.dispose();
  x.dispose();
});
