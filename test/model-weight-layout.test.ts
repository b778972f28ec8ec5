import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { liveTensorCount, noGrad, randn, scope, tensor } from "../src/engine/index.js";
import { openSafetensors } from "../src/engine/safetensors.js";
import { initLora, saveMerged } from "../src/model/load.js";
import { CausalLM } from "../src/model/transformer.js";
import { allWeightTensors, inputMajor, isInputMajor } from "../src/model/weights.js";
import { FIXTURES_DIR } from "../src/paths.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");

const IDS = [
  [5, 17, 3, 99, 42, 7],
  [1, 2, 3, 4, 5, 6],
];

function logits(model: CausalLM): Float32Array {
  return scope(() => noGrad(() => model.forward(tensor(IDS, { dtype: "int64" })).toFloat32Array()));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

test("inputMajor: same [out, in] values, stored as a row-major [in, out] buffer", () => {
  scope(() => {
    const w = randn([5, 3]);
    const t = inputMajor(w);
    assert.deepEqual(t.shape, [5, 3]);
    assert.deepEqual(t.strides, [1, 5]);
    assert.ok(isInputMajor(t));
    assert.ok(!isInputMajor(w));
    assert.deepEqual(t.toFloat32Array(), w.toFloat32Array());
    const x = randn([2, 3]);
    assert.ok(x.linear(t).sub(x.linear(w)).abs().max().item() < 1e-6);
    assert.throws(() => inputMajor(randn([2, 3, 4])), /inputMajor: expected a 2-d weight, got \[2,3,4\]/);
  });
});

test("CausalLM.load stores linear weights input-major by default; out-in on request; same logits", () => {
  const fast = CausalLM.load(TINY);
  const plain = CausalLM.load(TINY, { linearLayout: "out-in" });
  try {
    const l0 = fast.weights.layers[0];
    assert.ok(l0 && isInputMajor(l0.qProj.weight) && isInputMajor(l0.downProj.weight));
    assert.ok(!isInputMajor(fast.weights.embedTokens), "the embedding keeps its [vocab, hidden] rows");
    assert.equal(fast.weights.lmHead, fast.weights.embedTokens, "tied head still shares the embedding");
    assert.ok(!isInputMajor(plain.weights.layers[0]?.qProj.weight as never));
    assert.ok(maxAbsDiff(logits(fast), logits(plain)) < 1e-4);
  } finally {
    fast.dispose();
    plain.dispose();
  }
});

test("tiedHeadCopy: the head gets its own input-major copy, logits unchanged, no leaks on dispose", () => {
  const before = liveTensorCount();
  const plain = CausalLM.load(TINY, { linearLayout: "out-in" });
  const copy = CausalLM.load(TINY, { tiedHeadCopy: true });
  try {
    assert.notEqual(copy.weights.lmHead, copy.weights.embedTokens);
    assert.ok(isInputMajor(copy.weights.lmHead));
    assert.deepEqual(copy.weights.lmHead.shape, copy.weights.embedTokens.shape);
    assert.equal(allWeightTensors(copy.weights).length, allWeightTensors(plain.weights).length + 1);
    assert.ok(maxAbsDiff(logits(copy), logits(plain)) < 1e-4);
  } finally {
    plain.dispose();
    copy.dispose();
  }
  assert.ok(liveTensorCount() - before <= 0, `leaked ${liveTensorCount() - before} handles`);
});

test("merged export writes HF's [out, in] row-major bytes whatever the in-memory layout", () => {
  const dirs = [mkdtempSync(join(tmpdir(), "layout-a-")), mkdtempSync(join(tmpdir(), "layout-b-"))];
  const models = [CausalLM.load(TINY), CausalLM.load(TINY, { linearLayout: "out-in" })];
  try {
    const [a, b] = models.map((m) => initLora(m, { r: 2, targetModules: ["q_proj", "down_proj"] }));
    assert.ok(a && b);
    // One nonzero adapter on both models, so the merge really changes the exported weights.
    noGrad(() =>
      scope(() => {
        const pa = a.parameters();
        b.parameters().forEach((p, i) => {
          const src = pa[i]?.tensor;
          assert.ok(src);
          if (p.name.includes("lora_B")) src.copy_(randn(src.shape).mul(0.1));
          p.tensor.copy_(src);
        });
      }),
    );
    models.forEach((m, i) => {
      saveMerged(m, dirs[i] as string);
    });
    const [fa, fb] = dirs.map((d) => openSafetensors(join(d as string, "model.safetensors")));
    try {
      assert.ok(fa && fb);
      assert.deepEqual([...fa.tensors.keys()].sort(), [...fb.tensors.keys()].sort());
      for (const name of [
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.mlp.up_proj.weight",
      ]) {
        const ia = fa.tensors.get(name);
        const ib = fb.tensors.get(name);
        assert.ok(ia && ib, name);
        assert.deepEqual(ia.shape, ib.shape);
        assert.deepEqual(Buffer.from(fa.read(name)), Buffer.from(fb.read(name)), name);
      }
    } finally {
      fa?.close();
      fb?.close();
    }
  } finally {
    for (const m of models) m.dispose();
    for (const d of dirs) rmSync(d as string, { recursive: true, force: true });
  }
});
