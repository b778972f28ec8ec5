// Dropout on the CPU (native/src/dropout.cc, counter-based masks): the distribution of
// torch.nn.functional.dropout, masks that follow the generator's seed and saved state (gradient
// checkpointing replays them), and a backward pass that applies the forward's own mask.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getRngState, manualSeed, ones, randn, scope, setRngState } from "../src/engine/index.js";

test("dropout keeps a 1 - p share of the elements and scales them by 1 / (1 - p)", () =>
  scope(() => {
    for (const p of [0.05, 0.5, 0.9]) {
      const n = 200_000;
      const y = ones([n]).dropout(p, true).toFloat32Array();
      let kept = 0;
      for (const v of y) {
        if (v === 0) continue;
        kept++;
        assert.ok(Math.abs(v - 1 / (1 - p)) < 1e-6, `kept values are 1 / (1 - p), got ${v}`);
      }
      const share = kept / n;
      // Binomial standard deviation sqrt(p (1 - p) / n) <= 0.0012: 5 sigma.
      assert.ok(Math.abs(share - (1 - p)) < 0.006, `p ${p}: kept ${share}`);
    }
  }));

test("dropout masks are independent between elements and between calls", () =>
  scope(() => {
    const a = ones([100_000]).dropout(0.5, true).ne(0).float();
    const b = ones([100_000]).dropout(0.5, true).ne(0).float();
    // Each pair of neighbours, and each element of two calls, agrees half the time.
    const sameNeighbour = a
      .narrow(0, 1, 99_999)
      .eq(a.narrow(0, 0, 99_999))
      .float()
      .mean()
      .item();
    const sameCall = a.eq(b).float().mean().item();
    assert.ok(Math.abs(sameNeighbour - 0.5) < 0.01, `neighbours agree ${sameNeighbour}`);
    assert.ok(Math.abs(sameCall - 0.5) < 0.01, `two calls agree ${sameCall}`);
  }));

test("dropout follows manualSeed and a restored generator state", () =>
  scope(() => {
    const x = randn([64, 33]);
    manualSeed(5);
    const first = x.dropout(0.3, true).toArray();
    manualSeed(5);
    assert.deepEqual(x.dropout(0.3, true).toArray(), first);
    const state = getRngState("cpu");
    const next = x.dropout(0.3, true).toArray();
    assert.notDeepEqual(next, first);
    setRngState(state, "cpu");
    assert.deepEqual(x.dropout(0.3, true).toArray(), next);
  }));

test("dropout's gradient is the forward mask times 1 / (1 - p); eval mode and p = 0 pass through", () =>
  scope(() => {
    for (const dtype of ["float32", "bfloat16"] as const) {
      const x = randn([40, 17]).to(dtype).setRequiresGrad(true);
      const y = x.dropout(0.25, true);
      y.sum().backward();
      const grad = (x.grad as NonNullable<typeof x.grad>).float().toFloat32Array();
      const ratio = y.float().div(x.float()).toFloat32Array();
      grad.forEach((g, i) => {
        assert.ok(Math.abs(g - (ratio[i] as number)) < 1e-2, `${dtype} element ${i}`);
      });
      assert.deepEqual(x.dropout(0.25, false).toArray(), x.toArray());
      assert.deepEqual(x.dropout(0, true).toArray(), x.toArray());
    }
  }));
