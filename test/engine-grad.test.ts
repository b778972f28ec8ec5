// Autograd gradients against central finite differences, all in float64.
import assert from "node:assert/strict";
import { test } from "node:test";
import { grad, manualSeed, noGrad, randn, scope, type Tensor, tensor } from "../src/engine/index.js";

/**
 * Checks d f / d inputs from backward() against (f(x + h e_i) - f(x - h e_i)) / 2h for every
 * element of every input. `f` must return a scalar tensor.
 */
function checkGradients(name: string, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, tol = 1e-6): void {
  scope(() => {
    const leaves = inputs.map((x) => x.detach().setRequiresGrad());
    f(...leaves).backward();
    const analytic = leaves.map((x) => (x.grad as Tensor).toFloat64Array());
    const h = 1e-6;
    inputs.forEach((x, k) => {
      const base = x.toFloat64Array();
      for (let i = 0; i < base.length; i++) {
        const at = (delta: number): number =>
          noGrad(() =>
            scope(() => {
              const values = base.slice();
              values[i] = (values[i] as number) + delta;
              const moved = inputs.map((y, j) => (j === k ? tensor(values, { shape: x.shape }) : y));
              return f(...moved).item();
            }),
          );
        const numeric = (at(h) - at(-h)) / (2 * h);
        const a = analytic[k]?.[i] as number;
        assert.ok(
          Math.abs(a - numeric) <= tol * (1 + Math.abs(numeric)),
          `${name}: d/dinput${k}[${i}] autograd ${a} vs finite difference ${numeric}`,
        );
      }
    });
  });
}

const f64 = (shape: number[]) => randn(shape, { dtype: "float64" });

test("matmul gradients match finite differences", () => {
  manualSeed(1);
  scope(() => {
    const c = f64([4, 2]);
    checkGradients("matmul", [f64([3, 4]), f64([4, 5])], (a, b) => a.matmul(b).mul(a.matmul(b)).sum());
    checkGradients("linear", [f64([3, 4]), f64([2, 4]), f64([2])], (x, w, b) =>
      x.linear(w, b).tanh().matmul(c.transpose(0, 1)).sum(),
    );
  });
});

test("softmax and log_softmax gradients match finite differences", () => {
  manualSeed(2);
  scope(() => {
    const weights = f64([3, 5]);
    checkGradients("softmax", [f64([3, 5])], (x) => x.softmax(-1).mul(weights).sum());
    checkGradients("log_softmax", [f64([3, 5])], (x) => x.logSoftmax(-1).mul(weights).sum());
    checkGradients("logsumexp", [f64([3, 5])], (x) => x.logsumexp(-1).mul(x.sum(-1)).sum());
  });
});

test("gather gradient (token log-probs) matches finite differences", () => {
  manualSeed(3);
  scope(() => {
    const ids = tensor([[1], [4], [0]], { dtype: "int64" });
    checkGradients("gather", [f64([3, 5])], (logits) =>
      logits
        .logSoftmax(-1)
        .gather(1, ids)
        .squeeze(1)
        .mul(tensor([1, -2, 0.5], { dtype: "float64" }))
        .sum(),
    );
  });
});

test("RMSNorm-like chain with SwiGLU matches finite differences", () => {
  manualSeed(4);
  scope(() => {
    // y = silu(n W_g^T) * (n W_u^T), n = x * rsqrt(mean(x^2) + eps) * g
    const rmsNormSwiGlu = (x: Tensor, g: Tensor, wg: Tensor, wu: Tensor) => {
      const n = x.mul(x.pow(2).mean(-1, true).add(1e-6).rsqrt()).mul(g);
      return n.linear(wg).silu().mul(n.linear(wu)).pow(2).sum();
    };
    checkGradients("rmsnorm", [f64([2, 6]), f64([6]), f64([4, 6]), f64([4, 6])], rmsNormSwiGlu);
  });
});

test("backward with an explicit output gradient and autograd.grad agree", () =>
  scope(() => {
    const x = tensor([1, 2, 3], { dtype: "float64", requiresGrad: true });
    const y = x.pow(2); // dy/dx = 2x
    y.backward(tensor([1, 0.5, -1], { dtype: "float64" }));
    assert.deepEqual(x.grad?.toArray(), [2, 2, -6]);
    const [g] = grad([x.pow(3).sum()], [x]);
    assert.deepEqual(g?.toArray(), [3, 12, 27]);
    assert.deepEqual(x.grad?.toArray(), [2, 2, -6], "autograd.grad does not accumulate into .grad");
    x.pow(2).sum().backward();
    assert.deepEqual(x.grad?.toArray(), [4, 6, 0], "backward accumulates");
    x.zeroGrad();
    assert.equal(x.grad, null);
  }));

test("noGrad records no graph, also across an await", async () => {
  const x = tensor([1, 2], { requiresGrad: true });
  await scope(async () => {
    const inside = await noGrad(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return x.mul(2).requiresGrad;
    });
    assert.equal(inside, false);
    assert.equal(x.mul(2).requiresGrad, true, "grad mode is restored outside noGrad");
  });
  x.dispose();
});
