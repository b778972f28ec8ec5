// Fused projections (q/k/v and gate/up as one matrix each, their LoRA down-projections as one
// matmul, the up-projections as one block-diagonal addmm at inference) give the unfused model's
// numbers: logits and greedy tokens bit for bit, training log-probs bit for bit and LoRA gradients
// to float32 rounding (a fused backward adds the parts' input gradients in one matmul).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { noGrad, scope, type Tensor, tensor } from "../src/engine/index.js";
import { loadLora } from "../src/model/load.js";
import { generate } from "../src/model/sampler.js";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { CausalLM, defaultLinearLayout } from "../src/model/transformer.js";
import { loadWeights } from "../src/model/weights.js";
import { FIXTURES_DIR, MODELS_DIR } from "../src/paths.js";

/** The same checkpoint loaded as the loaders do (fused) and without fusing. */
function pair(dir: string, adapterDir: string): { fused: CausalLM; plain: CausalLM } {
  const fused = CausalLM.load(dir);
  const weights = loadWeights(dir, fused.config, { linearLayout: defaultLinearLayout("float32", "cpu") });
  const plain = new CausalLM(fused.config, weights, "float32", "cpu");
  assert.ok(fused.weights.layers[0]?.fused && !plain.weights.layers[0]?.fused);
  loadLora(fused, adapterDir);
  loadLora(plain, adapterDir);
  return { fused, plain };
}

const fixture = pair(join(FIXTURES_DIR, "qwen2-tiny"), join(FIXTURES_DIR, "qwen2-tiny-lora"));

function batch(): { ids: Tensor; mask: Tensor } {
  const ids = tensor(
    [
      [0, 0, 5, 17, 3, 9, 44, 12],
      [7, 21, 8, 2, 31, 4, 6, 19],
    ],
    { dtype: "int64" },
  );
  const mask = tensor(
    [
      [0, 0, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1, 1],
    ],
    { dtype: "int64" },
  );
  return { ids, mask };
}

test("fused and unfused projections give the same logits, adapter on and off", () =>
  scope(() =>
    noGrad(() => {
      const { ids, mask } = batch();
      for (const enabled of [false, true]) {
        const { fused, plain } = fixture;
        (fused.adapter as NonNullable<typeof fused.adapter>).enabled = enabled;
        (plain.adapter as NonNullable<typeof plain.adapter>).enabled = enabled;
        const a = fused.forward(ids, { attentionMask: mask }).toArray();
        const b = plain.forward(ids, { attentionMask: mask }).toArray();
        assert.deepEqual(a, b, `adapter ${enabled ? "on" : "off"}`);
      }
    }),
  ));

test("fused training pass: the same log-probs, LoRA gradients within 1e-5 relative", () => {
  const { fused, plain } = fixture;
  const run = (model: CausalLM) =>
    scope(() => {
      for (const p of model.adapter?.parameters() ?? []) p.tensor.zeroGrad();
      const { ids, mask } = batch();
      const out = model.forwardBackward(
        ids,
        { attentionMask: mask, targets: ids.narrow(1, 4, 4), checkpointed: true },
        (lp) => lp.mul(lp).sum(),
      );
      const grads = (model.adapter?.parameters() ?? []).map((p) =>
        (p.tensor.grad as Tensor).toFloat32Array(),
      );
      return { logprobs: out.logprobs.toArray(), grads };
    });
  const a = run(fused);
  const b = run(plain);
  assert.deepEqual(a.logprobs, b.logprobs);
  a.grads.forEach((g, i) => {
    const want = b.grads[i] as Float32Array;
    const scale = Math.max(...want.map(Math.abs));
    const err = Math.max(...g.map((v, j) => Math.abs(v - (want[j] as number))));
    assert.ok(err <= 1e-5 * scale, `parameter ${i}: ${err} vs scale ${scale}`);
  });
});

test("the shipped model plays the same greedy tokens fused and unfused", () => {
  const { fused, plain } = pair(join(MODELS_DIR, "wordle-tiny"), join(MODELS_DIR, "wordle-tiny-grpo"));
  const tokenizer = loadTokenizer(join(MODELS_DIR, "wordle-tiny"));
  const prompts = ["Wordle", "Wordle<guess>CRANE</guess>x~xx✓", "Wordle<guess>SLATE</guess>xx~x✓"].map((t) =>
    tokenizer.encode(t),
  );
  const play = (model: CausalLM) =>
    generate(model, tokenizer, prompts, { greedy: true, maxNewTokens: 8 }).map((c) => c.tokenIds);
  assert.deepEqual(play(fused), play(plain));
  fused.dispose();
  plain.dispose();
});
