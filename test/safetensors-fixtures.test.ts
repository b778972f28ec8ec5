import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openSafetensors, readSafetensors } from "../src/engine/safetensors.js";
import { tensorValues } from "../src/engine/safetensors-values.js";
import { FIXTURES_DIR } from "../src/paths.js";

const tiny = (name: string) => join(FIXTURES_DIR, "qwen2-tiny", name);
const lora = (name: string) => join(FIXTURES_DIR, "qwen2-tiny-lora", name);

function numbers(values: ArrayLike<number | bigint>): number[] {
  return Array.from(values, (v) => Number(v));
}

test("qwen2-tiny model.safetensors: the Qwen2 parameter set with shapes from config.json", () => {
  const file = openSafetensors(tiny("model.safetensors"));
  try {
    assert.deepEqual(file.metadata, { format: "pt" });
    // hidden 64, intermediate 160, 4 heads x 16 = 64 for q, 2 kv heads x 16 = 32 for k/v, vocab 384.
    const expected: Record<string, number[]> = {
      "model.embed_tokens.weight": [384, 64],
      "model.norm.weight": [64],
    };
    for (const layer of [0, 1]) {
      const p = `model.layers.${layer}`;
      Object.assign(expected, {
        [`${p}.input_layernorm.weight`]: [64],
        [`${p}.post_attention_layernorm.weight`]: [64],
        [`${p}.self_attn.q_proj.weight`]: [64, 64],
        [`${p}.self_attn.q_proj.bias`]: [64],
        [`${p}.self_attn.k_proj.weight`]: [32, 64],
        [`${p}.self_attn.k_proj.bias`]: [32],
        [`${p}.self_attn.v_proj.weight`]: [32, 64],
        [`${p}.self_attn.v_proj.bias`]: [32],
        [`${p}.self_attn.o_proj.weight`]: [64, 64],
        [`${p}.mlp.gate_proj.weight`]: [160, 64],
        [`${p}.mlp.up_proj.weight`]: [160, 64],
        [`${p}.mlp.down_proj.weight`]: [64, 160],
      });
    }
    assert.deepEqual(new Set(file.tensors.keys()), new Set(Object.keys(expected)));
    for (const [name, info] of file.tensors) {
      assert.equal(info.dtype, "F32", name);
      assert.deepEqual(info.shape, expected[name], name);
    }
    // Tied embeddings: no separate lm_head. Weights are finite and not all equal.
    const embed = tensorValues("F32", file.read("model.embed_tokens.weight")) as Float32Array;
    assert.equal(embed.length, 384 * 64);
    assert.ok(embed.every(Number.isFinite));
    assert.ok(Math.max(...embed) > Math.min(...embed));
  } finally {
    file.close();
  }
});

test("qwen2-tiny reference.safetensors: inputs, masks and logits agree with FIXTURES.json", () => {
  const { tensors } = readSafetensors(tiny("reference.safetensors"));
  const get = (name: string) => {
    const t = tensors.get(name);
    assert.ok(t, `reference tensor ${name}`);
    return t;
  };
  assert.deepEqual(get("logits").shape, [2, 12, 384]);
  assert.equal(get("logits").dtype, "F32");
  const logits = tensorValues("F32", get("logits").data) as Float32Array;
  assert.ok(logits.every(Number.isFinite));

  const ids = numbers(tensorValues("I64", get("input_ids").data));
  const mask = numbers(tensorValues("I64", get("attention_mask").data));
  const positions = numbers(tensorValues("I64", get("position_ids").data));
  assert.ok(ids.every((id) => id >= 0 && id < 384));
  // Row 1 is left-padded by 3; row 0 is not padded.
  assert.deepEqual(mask.slice(0, 12), Array(12).fill(1));
  assert.deepEqual(mask.slice(12), [0, 0, 0, ...Array(9).fill(1)]);
  // position_ids = cumsum(mask) - 1, clamped at 0.
  for (const row of [0, 1]) {
    let sum = 0;
    for (let t = 0; t < 12; t++) {
      sum += mask[row * 12 + t];
      assert.equal(positions[row * 12 + t], Math.max(sum - 1, 0), `position_ids[${row}][${t}]`);
    }
  }
  // Greedy output continues the prompt with 10 new tokens.
  const prompt = numbers(tensorValues("I64", get("greedy_prompt").data));
  const output = numbers(tensorValues("I64", get("greedy_output").data));
  assert.equal(output.length, prompt.length + 10);
  assert.deepEqual(output.slice(0, prompt.length), prompt);
});

test("qwen2-tiny-lora: PEFT key names and r=4 shapes; reference loss equals the masked mean of token_logprobs", () => {
  const adapter = openSafetensors(lora("adapter_model.safetensors"));
  try {
    assert.equal(adapter.tensors.size, 2 * 7 * 2);
    for (const [name, info] of adapter.tensors) {
      const match =
        /^base_model\.model\.model\.layers\.[01]\.(self_attn|mlp)\.(\w+)_proj\.lora_([AB])\.weight$/.exec(
          name,
        );
      assert.ok(match, `PEFT key name: ${name}`);
      const [, , proj, which] = match;
      const out = { q: 64, k: 32, v: 32, o: 64, gate: 160, up: 160, down: 64 }[proj];
      const inFeatures = proj === "down" ? 160 : 64;
      assert.deepEqual(info.shape, which === "A" ? [4, inFeatures] : [out, 4], name);
      const values = tensorValues("F32", adapter.read(name)) as Float32Array;
      assert.ok(
        values.some((v) => v !== 0),
        `${name} is non-zero (the fixture uses non-zero A and B)`,
      );
    }
  } finally {
    adapter.close();
  }

  const { tensors } = readSafetensors(lora("reference.safetensors"));
  const mask = numbers(
    tensorValues("I64", readSafetensors(tiny("reference.safetensors")).tensors.get("attention_mask")!.data),
  );
  const logprobs = tensorValues("F32", tensors.get("token_logprobs")!.data) as Float32Array;
  const loss = (tensorValues("F32", tensors.get("loss")!.data) as Float32Array)[0];
  assert.deepEqual(tensors.get("token_logprobs")!.shape, [2, 11]);
  assert.ok(logprobs.every((lp) => lp <= 0 && Number.isFinite(lp)));
  // loss = -(sum of token_logprobs * m) / m.sum() with m = mask[:, :-1] * mask[:, 1:].
  let total = 0;
  let count = 0;
  for (let row = 0; row < 2; row++)
    for (let t = 0; t < 11; t++) {
      const m = mask[row * 12 + t] * mask[row * 12 + t + 1];
      total += logprobs[row * 11 + t] * m;
      count += m;
    }
  assert.ok(Math.abs(-total / count - loss) <= 1e-5 * Math.abs(loss), `loss ${loss} vs ${-total / count}`);
  const gradNames = [...tensors.keys()].filter((n) => n.startsWith("grad."));
  assert.equal(gradNames.length, 28);
  for (const name of gradNames)
    assert.ok((tensorValues("F32", tensors.get(name)!.data) as Float32Array).every(Number.isFinite), name);
});
