// Optimiser steps against values computed by hand from the torch.optim formulas.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AdamW, clipGradNorm, SGD, scope, type Tensor, tensor } from "../src/engine/index.js";

function close(actual: readonly number[], expected: readonly number[], tol = 1e-12): void {
  for (const [i, a] of actual.entries()) {
    assert.ok(Math.abs(a - (expected[i] as number)) <= tol, `element ${i}: ${a} != ${expected[i]}`);
  }
}

/** A float64 leaf with a fixed gradient: loss = sum(grad * p) gives exactly that gradient. */
function setGrad(p: Tensor, g: number[]): void {
  scope(() =>
    p
      .mul(tensor(g, { dtype: "float64" }))
      .sum()
      .backward(),
  );
}

/** torch.optim.AdamW, one scalar parameter, written out step by step. */
function adamwReference(
  p0: number,
  grads: number[],
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
): number {
  let p = p0;
  let m = 0;
  let v = 0;
  grads.forEach((g, k) => {
    const t = k + 1;
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps;
    p -= (lr / (1 - b1 ** t)) * (m / denom);
  });
  return p;
}

test("AdamW matches the torch.optim.AdamW update over three steps", () => {
  const p = tensor([1, -2], { dtype: "float64", requiresGrad: true });
  const opt = new AdamW([p], { lr: 0.1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 });
  const grads = [
    [0.5, -1],
    [0.25, 2],
    [-1, 0.5],
  ];
  for (const g of grads) {
    opt.zeroGrad();
    setGrad(p, g);
    opt.step();
  }
  // First step by hand for element 0: p = 1 * (1 - 0.01) = 0.99; m = 0.05, v = 0.0025;
  // m_hat = 0.5, sqrt(v_hat) = 0.5 -> p = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) ~= 0.89.
  const expected = [0, 1].map((i) =>
    adamwReference(
      [1, -2][i] as number,
      grads.map((g) => g[i] as number),
      0.1,
      0.9,
      0.99,
      1e-8,
      0.1,
    ),
  );
  close(p.toArray(), expected);
  opt.dispose();
  p.dispose();
});

test("AdamW state() / loadState() resumes identically", () => {
  const run = (splitAt: number | null): number[] => {
    const p = tensor([0.3, 0.7], { dtype: "float64", requiresGrad: true });
    let opt = new AdamW([p], { lr: 0.05 });
    for (let k = 0; k < 4; k++) {
      if (k === splitAt) {
        const saved = opt.state();
        assert.deepEqual(saved.steps, [k]);
        assert.equal(saved.buffers["0.exp_avg"]?.bytes.length, 16);
        opt.dispose();
        opt = new AdamW([p], { lr: 0.05 });
        opt.loadState(saved);
      }
      opt.zeroGrad();
      setGrad(p, [k + 1, -k]);
      opt.step();
    }
    const out = p.toArray();
    opt.dispose();
    p.dispose();
    return out;
  };
  assert.deepEqual(run(2), run(null));
});

test("SGD with momentum, dampening and weight decay matches torch.optim.SGD", () => {
  const p = tensor([1], { dtype: "float64", requiresGrad: true });
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.01 });
  // step 1: g = 2 + 0.01*1 = 2.01; buf = 2.01; p = 1 - 0.201 = 0.799
  setGrad(p, [2]);
  opt.step();
  close(p.toArray(), [0.799]);
  // step 2: g = 1 + 0.01*0.799 = 1.00799; buf = 0.9*2.01 + 0.5*1.00799 = 2.312995; p = 0.799 - 0.2312995
  opt.zeroGrad();
  setGrad(p, [1]);
  opt.step();
  close(p.toArray(), [0.799 - 0.2312995]);
  opt.dispose();
  p.dispose();
});

test("SGD nesterov matches torch.optim.SGD and validates its options", () => {
  const p = tensor([1], { dtype: "float64", requiresGrad: true });
  const opt = new SGD([p], { lr: 0.1, momentum: 0.5, nesterov: true });
  // step 1: buf = g = 2; g' = 2 + 0.5*2 = 3; p = 1 - 0.3 = 0.7
  setGrad(p, [2]);
  opt.step();
  close(p.toArray(), [0.7]);
  // step 2: buf = 0.5*2 + 1 = 2; g' = 1 + 0.5*2 = 2; p = 0.7 - 0.2 = 0.5
  opt.zeroGrad();
  setGrad(p, [1]);
  opt.step();
  close(p.toArray(), [0.5]);
  const restored = new SGD([p], { lr: 0.1, momentum: 0.5, nesterov: true });
  restored.loadState(opt.state());
  assert.deepEqual(
    restored.state().buffers["0.momentum_buffer"]?.bytes,
    opt.state().buffers["0.momentum_buffer"]?.bytes,
  );
  assert.throws(() => new SGD([p], { momentum: 0, nesterov: true }), /nesterov momentum requires/);
  assert.throws(() => restored.loadState({ ...opt.state(), kind: "adamw" }), /state is for "adamw"/);
  restored.dispose();
  opt.dispose();
  p.dispose();
});

test("clipGradNorm returns the total norm, scales only above max_norm, and reports non-finite", () => {
  const a = tensor([3, 0], { dtype: "float64", requiresGrad: true });
  const b = tensor([4], { dtype: "float64", requiresGrad: true });
  setGrad(a, [3, 0]);
  setGrad(b, [4]);
  assert.equal(clipGradNorm([a, b], 10), 5);
  assert.deepEqual(a.grad?.toArray(), [3, 0], "below max_norm: untouched");
  const total = clipGradNorm([a, b], 1);
  assert.equal(total, 5);
  close([...(a.grad?.toArray() ?? []), ...(b.grad?.toArray() ?? [])], [3 / (5 + 1e-6), 0, 4 / (5 + 1e-6)]);
  b.zeroGrad();
  setGrad(b, [Number.NaN]);
  assert.ok(Number.isNaN(clipGradNorm([a, b], 1)));
  assert.throws(() => clipGradNorm([a, b], 1, { errorIfNonfinite: true }), /NaN or infinity/);
  a.dispose();
  b.dispose();
});
