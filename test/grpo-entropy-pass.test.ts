/**
 * entropy-pass.ts on a tiny random model with a LoRA adapter: the entropies are the ones the policy
 * pass reports, and the entropy bonus's LoRA gradient equals plain autograd through the whole model.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { enableGrad, manualSeed, noGrad, scope, type Tensor, tensor } from "../src/engine/index.js";
import { resolveConfig } from "../src/grpo/config/config.js";
import { completionEntropies } from "../src/grpo/step/entropy-pass.js";
import { buildMicroBatch, type MicroBatch } from "../src/grpo/step/micro-batch.js";
import { attachAdapter } from "../src/grpo/trainer-setup.js";
import { forwardBackward } from "../src/model/checkpointing.js";
import { loadModel } from "../src/model/load.js";
import type { CausalLM } from "../src/model/transformer.js";
import { makeTinyModel } from "./grpo-trainer-fixture.js";

/** The entropies the policy pass (forwardBackward) reports for logging. */
function policyPassEntropies(model: CausalLM, mb: MicroBatch, temperature: number, blocked?: Tensor): Tensor {
  return forwardBackward(
    model,
    mb.inputIds,
    {
      attentionMask: mb.attentionMask,
      positionIds: mb.positionIds,
      targets: mb.targets,
      temperature,
      entropy: true,
      blocked,
    },
    (logps) => logps.sum(),
  ).entropy as Tensor;
}

test("entropies match the policy pass; the bonus gradient matches plain autograd", async () => {
  const dir = makeTinyModel(5);
  const model = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    manualSeed(1);
    const config = resolveConfig({ preset: "trl", overrides: { "lora.r": 4, "lora.dropout": 0 } }).config;
    const adapter = attachAdapter(model, config);
    const params = adapter.parameters().map((p) => p.tensor);
    // LoRA's B starts at zero; move it so the adapter changes the entropies.
    noGrad(() => {
      for (const p of params) p.add_(scope(() => p.mul(0).add(0.05)));
    });
    const mb = buildMicroBatch(
      [
        [5, 9, 14],
        [7, 30],
      ],
      [
        [40, 41, 42, 43],
        [50, 51],
      ],
      [false, false],
      0,
      "cpu",
      false,
    );
    const temperature = 0.7;
    const weights = tensor([0.3, -0.2, 0.5, 0.1, 0.4, 0.25, 0, 0], { shape: [2, 4] });
    const zero = () => {
      for (const p of params) p.zeroGrad();
    };
    const grads = () => params.map((p) => p.grad!.toArray());

    scope(() => {
      // The same entropies as forwardBackward computes for logging.
      const reported = policyPassEntropies(model, mb, temperature);
      zero();
      const ours = completionEntropies(model, mb, temperature, () => weights);
      const fromPass = grads();
      assert.ok(ours.sub(reported).abs().max().item() < 1e-5);

      // Plain autograd: Σ weights·H through the whole model at once (float32: other op order, 1e-4).
      zero();
      enableGrad(() => {
        const [B, K] = mb.targets.shape as [number, number];
        const S = mb.inputIds.size(1);
        const hidden = model.forward(mb.inputIds, {
          attentionMask: mb.attentionMask,
          positionIds: mb.positionIds,
          hiddenOnly: true,
        });
        const z: Tensor = model.lmHead(hidden.narrow(1, S - 1 - K, K)).div(temperature);
        const logp = z.logSoftmax(-1);
        const H = logp.exp().mul(logp).sum(-1).neg().reshape(B, K);
        H.mul(weights).sum().backward();
      });
      const direct = grads();
      let largest = 0;
      direct.forEach((g, i) => {
        g.forEach((x, j) => {
          largest = Math.max(largest, Math.abs(x));
          assert.ok(
            Math.abs(x - fromPass[i]![j]!) <= 1e-4 * Math.max(1, Math.abs(x)),
            `param ${i}[${j}]: ${x} vs ${fromPass[i]![j]}`,
          );
        });
      });
      assert.ok(largest > 1e-4, "the bonus reaches the adapter");
      return undefined;
    });
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with a constraint's mask, the entropies are over the allowed tokens, as the policy pass reports them", async () => {
  const dir = makeTinyModel(6);
  const model = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    attachAdapter(model, resolveConfig({ preset: "trl", overrides: { "lora.r": 4 } }).config);
    const mb = buildMicroBatch(
      [
        [5, 9, 14],
        [7, 30],
      ],
      [
        [40, 41, 42],
        [50, 51, 52],
      ],
      [false, false],
      0,
      "cpu",
      false,
    );
    const vocab = model.config.vocabSize;
    const bits = new Uint8Array(2 * 3 * vocab).map((_, i) => (i % 3 === 0 ? 0 : 1));
    const targets = [40, 41, 42, 50, 51, 52];
    targets.forEach((t, k) => {
      bits[k * vocab + t] = 0;
    });
    scope(() => {
      const blocked = tensor(bits, { dtype: "bool", shape: [2, 3, vocab] });
      const reported = policyPassEntropies(model, mb, 0.8, blocked);
      const ours = completionEntropies(model, mb, 0.8, undefined, blocked);
      const free = completionEntropies(model, mb, 0.8);
      assert.ok(ours.sub(reported).abs().max().item() < 1e-5);
      assert.ok(free.sub(ours).abs().max().item() > 1e-3, "the mask changes the entropies");
      const values = ours.toFloat32Array();
      values.forEach((h, k) => {
        const allowed = vocab - bits.slice(k * vocab, (k + 1) * vocab).reduce((n, x) => n + x, 0);
        assert.ok(h >= 0 && h <= Math.log(allowed) + 1e-5, `position ${k}: ${h} over ${allowed} tokens`);
      });
    });
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
