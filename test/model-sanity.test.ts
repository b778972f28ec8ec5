// Broken models are refused at load instead of playing garbage: weights the config does not
// account for (a num_hidden_layers smaller than the file's layers), and NaN or infinite values in
// the base weights or an adapter.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadSafetensors, noGrad, saveSafetensors } from "../src/engine/index.js";
import { loadLora } from "../src/model/load.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR } from "../src/paths.js";

const root = mkdtempSync(join(tmpdir(), "model-sanity-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A copy of a fixture directory to break. */
function copyOf(name: string): string {
  const dir = join(root, `${name}-${Math.random().toString(36).slice(2)}`);
  cpSync(join(FIXTURES_DIR, name), dir, { recursive: true });
  return dir;
}

/** Rewrites one tensor of a safetensors file with a NaN in its first element. */
function poison(file: string, name: string): void {
  const tensors = loadSafetensors(file);
  const t = tensors.get(name);
  assert.ok(t, `${file} has ${name}`);
  noGrad(() => t.reshape(-1).narrow(0, 0, 1).fill_(Number.NaN));
  saveSafetensors(file, tensors);
  for (const x of tensors.values()) x.dispose();
}

test("a config with fewer layers than the weights is refused, naming both", () => {
  const dir = copyOf("qwen2-tiny");
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, num_hidden_layers: 1 }));
  assert.throws(() => CausalLM.load(dir), /num_hidden_layers = 1 but the weights have layer 1/);
});

test("NaN in a base weight is refused, naming the tensor", () => {
  const dir = copyOf("qwen2-tiny");
  poison(join(dir, "model.safetensors"), "model.layers.0.mlp.up_proj.weight");
  assert.throws(
    () => CausalLM.load(dir),
    /"model\.layers\.0\.mlp\.up_proj\.weight" holds NaN or infinite values/,
  );
});

test("NaN in an adapter is refused, naming the tensor; the model keeps its adapter-free state", () => {
  const adapter = copyOf("qwen2-tiny-lora");
  const key = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight";
  poison(join(adapter, "adapter_model.safetensors"), key);
  const model = CausalLM.load(join(FIXTURES_DIR, "qwen2-tiny"));
  try {
    assert.throws(() => loadLora(model, adapter), new RegExp(`"${key.replace(/\./g, "\\.")}" holds NaN`));
    assert.equal(model.adapter, null);
  } finally {
    model.dispose();
  }
});
