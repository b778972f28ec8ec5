import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type DType, fromBytes, manualSeed, noGrad, randn, scope, type Tensor } from "../src/engine/index.js";
import { openSafetensors, readSafetensors } from "../src/engine/safetensors.js";
import { initLora, loadLora, saveLora, saveMerged, withAdapterDisabled } from "../src/model/load.js";
import { tokenLogProbs } from "../src/model/logprobs.js";
import { LoraAdapter, loraLinears } from "../src/model/lora.js";
import { parseAdapterConfig } from "../src/model/lora-peft.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR } from "../src/paths.js";
import { withTempDir } from "./helpers/temp-dir.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");
const LORA = join(FIXTURES_DIR, "qwen2-tiny-lora");
const baseRef = readSafetensors(join(TINY, "reference.safetensors")).tensors;
const loraRef = readSafetensors(join(LORA, "reference.safetensors")).tensors;

function ref(file: typeof baseRef, name: string, dtype: DType): Tensor {
  const entry = file.get(name);
  if (!entry) throw new Error(`reference has no ${name}`);
  return fromBytes(entry.data, dtype, entry.shape);
}

/** The fixture batch (caller's scope). */
function batch() {
  return {
    ids: ref(baseRef, "input_ids", "int64"),
    mask: ref(baseRef, "attention_mask", "int64"),
    pos: ref(baseRef, "position_ids", "int64"),
  };
}

/** max |a - b| / max |b| over the whole tensor: a scale-aware relative error. */
function relError(a: Tensor, b: Tensor): number {
  return scope(() => a.sub(b).abs().max().item() / b.abs().max().item());
}

function maxDiffAtRealPositions(a: Tensor, b: Tensor, mask: Tensor): number {
  return scope(() => a.sub(b).abs().amax(-1).mul(mask).max().item());
}

/** The fixture's loss: mean next-token NLL over pairs of real tokens. */
function fixtureLoss(logprobs: Tensor, mask: Tensor): Tensor {
  const pairs = mask
    .narrow(1, 0, 11)
    .mul(mask.narrow(1, 1, 11))
    .float();
  return logprobs.mul(pairs).sum().neg().div(pairs.sum());
}

/** The fixture's grad key for one of our (PEFT file) parameter names. */
function gradKey(name: string): string {
  return `grad.${name.replace("base_model.model.", "").replace(/lora_([AB])\.weight$/, "lora_$1.default.weight")}`;
}

const model = CausalLM.load(TINY);
const adapter = loadLora(model, LORA);

test("loadLora reads PEFT's adapter: r=4, alpha=8 on all 7 projections of both layers", () => {
  assert.equal(adapter.settings.r, 4);
  assert.equal(adapter.settings.loraAlpha, 8);
  const params = adapter.parameters();
  assert.equal(params.length, 2 * 7 * 2);
  for (const p of params) {
    assert.equal(p.tensor.dtype, "float32");
    assert.ok(p.tensor.requiresGrad, `${p.name} is trainable`);
  }
  assert.equal(adapter.layers[0]?.q_proj?.scale, 2);
  assert.equal(
    adapter.parameterCount(),
    2 *
      (4 * 64 + 64 * 4 + 2 * (4 * 64 + 32 * 4) + 4 * 64 + 64 * 4 + 2 * (4 * 64 + 160 * 4) + 4 * 160 + 64 * 4),
  );
});

test("with the adapter: logits within 1e-4 of PEFT; disabled: the base model's logits", () => {
  scope(() =>
    noGrad(() => {
      const { ids, mask, pos } = batch();
      const on = model.forward(ids, { attentionMask: mask, positionIds: pos });
      assert.ok(maxDiffAtRealPositions(on, ref(loraRef, "logits", "float32"), mask) < 1e-4);
      const off = withAdapterDisabled(model, () =>
        model.forward(ids, { attentionMask: mask, positionIds: pos }),
      );
      assert.equal(adapter.enabled, true, "the switch is restored");
      assert.ok(maxDiffAtRealPositions(off, ref(baseRef, "logits", "float32"), mask) < 1e-4);
      assert.ok(maxDiffAtRealPositions(on, off, mask) > 1e-2, "the adapter changes the logits");
    }),
  );
});

test("token log-probs and loss within 1e-5 relative, every LoRA gradient within 1e-4 relative (plain autograd)", () => {
  for (const p of adapter.parameters()) p.tensor.zeroGrad();
  scope(() => {
    const { ids, mask, pos } = batch();
    const hidden = model.forward(ids, { attentionMask: mask, positionIds: pos, hiddenOnly: true });
    const { logprobs } = tokenLogProbs(model, hidden.narrow(1, 0, 11), ids.narrow(1, 1, 11), {
      chunkSize: 4,
    });
    const wantLp = ref(loraRef, "token_logprobs", "float32");
    const pairs = mask.narrow(1, 0, 11).mul(mask.narrow(1, 1, 11));
    const lpErr = logprobs.sub(wantLp).abs().div(wantLp.abs()).mul(pairs).max().item();
    assert.ok(lpErr < 1e-5, `token_logprobs relative error ${lpErr}`);
    const loss = fixtureLoss(logprobs, mask);
    const wantLoss = ref(loraRef, "loss", "float32").item();
    assert.ok(Math.abs(loss.item() - wantLoss) / wantLoss < 1e-5, `loss ${loss.item()} vs ${wantLoss}`);
    loss.backward();
  });
  scope(() => {
    for (const p of adapter.parameters()) {
      const grad = p.tensor.grad;
      assert.ok(grad, `${p.name} has a gradient`);
      const want = ref(loraRef, gradKey(p.name), "float32");
      const err = relError(grad, want);
      assert.ok(err < 1e-4, `${p.name}: relative gradient error ${err}`);
      // Element-wise too, with an absolute floor for entries near zero.
      const tol = want
        .abs()
        .mul(1e-4)
        .add(1e-4 * want.abs().max().item() * 1e-2);
      assert.ok(grad.sub(want).abs().le(tol).all().item() === 1, `${p.name}: element-wise`);
    }
  });
  for (const p of adapter.parameters()) p.tensor.zeroGrad();
});

test("a saved adapter reloads to identical logits, with PEFT's file names, keys and config keys", () => {
  withTempDir("model-lora", (dir) => {
    saveLora(model, dir);
    // Key names and shapes equal PEFT's file.
    const ours = openSafetensors(join(dir, "adapter_model.safetensors"));
    const theirs = openSafetensors(join(LORA, "adapter_model.safetensors"));
    assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
    for (const [name, info] of theirs.tensors) {
      assert.deepEqual(ours.tensors.get(name)?.shape, info.shape);
      assert.equal(ours.tensors.get(name)?.dtype, "F32");
      assert.deepEqual(ours.read(name), theirs.read(name), `${name} bytes`);
    }
    assert.deepEqual(ours.metadata, { format: "pt" });
    ours.close();
    theirs.close();
    // adapter_config.json: PEFT's key set and values.
    const written = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    const peft = JSON.parse(readFileSync(join(LORA, "adapter_config.json"), "utf8"));
    assert.deepEqual(Object.keys(written).sort(), Object.keys(peft).sort());
    for (const key of [
      "peft_type",
      "task_type",
      "r",
      "lora_alpha",
      "lora_dropout",
      "use_rslora",
      "bias",
      "fan_in_fan_out",
      "inference_mode",
      "use_dora",
      "base_model_name_or_path",
    ])
      assert.deepEqual(written[key], peft[key], key);
    assert.deepEqual([...written.target_modules].sort(), [...peft.target_modules].sort());

    const other = CausalLM.load(TINY);
    try {
      loadLora(other, dir);
      scope(() =>
        noGrad(() => {
          const { ids, mask, pos } = batch();
          const a = model.forward(ids, { attentionMask: mask, positionIds: pos });
          const b = other.forward(ids, { attentionMask: mask, positionIds: pos });
          assert.equal(a.sub(b).abs().max().item(), 0);
        }),
      );
    } finally {
      other.dispose();
    }
  });
});

test("merged export (W + scale B A) gives the adapter's logits without PEFT", () => {
  withTempDir("model-lora", (dir) => {
    saveMerged(model, dir);
    const merged = CausalLM.load(dir);
    try {
      assert.equal(merged.adapter, null);
      scope(() =>
        noGrad(() => {
          const { ids, mask, pos } = batch();
          const a = merged.forward(ids, { attentionMask: mask, positionIds: pos });
          assert.ok(maxDiffAtRealPositions(a, ref(loraRef, "logits", "float32"), mask) < 1e-4);
        }),
      );
    } finally {
      merged.dispose();
    }
  });
});

test("initLora: PEFT init (A uniform within 1/sqrt(in), B zero) leaves the model unchanged", () => {
  const fresh = CausalLM.load(TINY);
  try {
    manualSeed(7);
    const a = initLora(fresh, {
      r: 8,
      loraAlpha: 16,
      targetModules: ["q_proj", "down_proj"],
      useRslora: true,
    });
    assert.equal(a.layers[0]?.q_proj?.scale, 16 / Math.sqrt(8));
    assert.equal(a.layers[0]?.k_proj, undefined);
    assert.equal(a.parameters().length, 2 * 2 * 2);
    scope(() =>
      noGrad(() => {
        const down = a.layers[1]?.down_proj;
        assert.ok(down);
        assert.deepEqual(down.a.shape, [8, 160]);
        assert.deepEqual(down.b.shape, [64, 8]);
        assert.equal(down.b.abs().max().item(), 0);
        const bound = 1 / Math.sqrt(160);
        assert.ok(down.a.abs().max().item() <= bound);
        assert.ok(down.a.abs().max().item() > 0.9 * bound, "spread over the whole range");
        assert.ok(Math.abs(down.a.mean().item()) < 0.1 * bound);
        const { ids, mask, pos } = batch();
        const on = fresh.forward(ids, { attentionMask: mask, positionIds: pos });
        assert.ok(maxDiffAtRealPositions(on, ref(baseRef, "logits", "float32"), mask) < 1e-4);
      }),
    );
    assert.throws(
      () => initLora(fresh, { targetModules: ["lm_head"] }),
      /"lm_head" is not a decoder projection/,
    );
    assert.throws(() => initLora(fresh, { r: 0 }), /r must be a positive integer/);
  } finally {
    fresh.dispose();
  }
});

test("LoRA dropout runs in training mode only", () => {
  const m = CausalLM.load(TINY);
  try {
    manualSeed(1);
    // On the model's device: a CPU adapter under a CUDA model fails in aten::linear.
    const a = LoraAdapter.init(m.config, { ...adapter.settings, loraDropout: 0.5 }, m.device);
    m.adapter = a;
    // Non-zero B so the adapter path matters.
    noGrad(() => {
      for (const layer of a.layers) for (const pair of Object.values(layer)) pair.b.fill_(0.05);
    });
    scope(() =>
      noGrad(() => {
        const { ids } = batch();
        const eval1 = m.forward(ids);
        const eval2 = m.forward(ids);
        assert.equal(eval1.sub(eval2).abs().max().item(), 0);
        m.training = true;
        const train = m.forward(ids);
        m.training = false;
        assert.ok(train.sub(eval1).abs().max().item() > 1e-3);
      }),
    );
  } finally {
    m.dispose();
  }
});

test("adapter_config.json options we do not implement are errors naming the field", () => {
  const base = JSON.parse(readFileSync(join(LORA, "adapter_config.json"), "utf8"));
  assert.equal(parseAdapterConfig(base).r, 4);
  assert.throws(
    () => parseAdapterConfig({ ...base, use_dora: true }, "x.json"),
    /x\.json: "use_dora" = true is not supported/,
  );
  assert.throws(() => parseAdapterConfig({ ...base, bias: "all" }), /"bias" = "all" is not supported/);
  assert.throws(() => parseAdapterConfig({ ...base, peft_type: "IA3" }), /only LORA adapters/);
  assert.throws(() => parseAdapterConfig({ ...base, rank_pattern: { q_proj: 8 } }), /"rank_pattern"/);
  assert.throws(() => parseAdapterConfig({ ...base, r: "4" }), /"r" must be a number/);
  assert.equal(parseAdapterConfig({ ...base, target_modules: "all-linear" }).targetModules, "all-linear");
  withTempDir("model-lora", (dir) => {
    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...base, target_modules: ["q_proj"] }));
    rmSync(join(dir, "adapter_model.safetensors"), { force: true });
    assert.throws(() => loadLora(model, dir), /no adapter_model\.safetensors/);
    saveLora(model, dir);
    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...base, target_modules: ["q_proj"] }));
    assert.throws(() => loadLora(model, dir), /is not targeted by adapter_config\.json/);
  });
  assert.equal(model.adapter, adapter, "a failed load keeps the current adapter");
});

test("grouped projections (one cast, the update added inside addmm) equal PEFT's separate operations to one rounding step", () =>
  scope(() =>
    noGrad(() => {
      manualSeed(3);
      // addmm adds the scaled update as BLAS accumulates it (with OpenBLAS's generic kernels bit for
      // bit the separate mul and add; with the AVX-512 kernels one fused rounding): at most one
      // rounding step of the output dtype apart.
      for (const [dtype, step] of [
        ["float32", 2 ** -23],
        ["bfloat16", 2 ** -8],
      ] as const) {
        const x = randn([2, 9, 64]).to(dtype);
        const weights = [48, 16].map((out) => ({ weight: randn([out, 64]).mul(0.1).to(dtype), bias: null }));
        const loras = [2, 0.37].map((scale, i) => ({
          a: randn([4, 64]).mul(0.2),
          b: randn([weights[i]?.weight.size(0) as number, 4]).mul(0.2),
          scale,
          dropout: 0,
        }));
        const grouped = loraLinears(x, weights, loras, false);
        weights.forEach((w, i) => {
          const lora = loras[i] as (typeof loras)[number];
          const base = x.linear(w.weight).float();
          const update = x.float().linear(lora.a).linear(lora.b).mul(lora.scale);
          const separate = x.linear(w.weight).add(update).to(dtype).float();
          const got = (grouped[i] as Tensor).float();
          // One rounding step of the sum, measured against the size of the terms it adds.
          const bound = base.abs().add(update.abs()).mul(step);
          const apart = got.sub(separate).abs().sub(bound).max().item();
          assert.ok(apart <= 0, `${dtype} projection ${i}: more than one rounding step apart`);
        });
      }
    }),
  ));
