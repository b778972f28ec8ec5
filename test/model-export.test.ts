import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type DType, fromBytes, noGrad, scope, type Tensor } from "../src/engine/index.js";
import { openSafetensors, readSafetensors, writeSafetensors } from "../src/engine/safetensors.js";
import { parseHfConfig } from "../src/model/hf-config.js";
import { loadLora } from "../src/model/load.js";
import { LoraAdapter } from "../src/model/lora.js";
import { saveLoraAdapter } from "../src/model/lora-peft.js";
import { mergeAdapter } from "../src/model/merge-adapter.js";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR, PACKAGE_ROOT } from "../src/paths.js";
import { writeTinyModelDir } from "./helpers/tiny-model-dir.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");
const LORA = join(FIXTURES_DIR, "qwen2-tiny-lora");
const baseRef = readSafetensors(join(TINY, "reference.safetensors")).tensors;
const loraRef = readSafetensors(join(LORA, "reference.safetensors")).tensors;

const work = mkdtempSync(join(tmpdir(), "model-export-"));
after(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(work, `${name}-${counter++}`);

/**
 * The fixture model as a complete model directory: the loader and the export need the tokenizer
 * files, which the fixture does not ship (a char tokenizer over its 384 ids, as eval-cli.test.ts
 * builds), plus a chat template and a README to show that metadata travels.
 */
function modelDir(): string {
  const dir = fresh("model");
  mkdirSync(dir);
  writeTinyModelDir(dir);
  writeFileSync(join(dir, "chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}");
  writeFileSync(join(dir, "README.md"), "tiny test model\n");
  return dir;
}

const MODEL = modelDir();

/** A copy of the fixture adapter with adapter_config.json keys changed. */
function adapterWith(changes: Record<string, unknown>): string {
  const dir = fresh("adapter");
  cpSync(LORA, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(LORA, "adapter_config.json"), "utf8"));
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...config, ...changes }));
  return dir;
}

function ref(file: typeof baseRef, name: string, dtype: DType): Tensor {
  const entry = file.get(name);
  if (!entry) throw new Error(`reference has no ${name}`);
  return fromBytes(entry.data, dtype, entry.shape);
}

/** name -> "DTYPE [shape]" of a safetensors file. */
function header(path: string): Map<string, string> {
  const file = openSafetensors(path);
  try {
    return new Map([...file.tensors.values()].map((t) => [t.name, `${t.dtype} [${t.shape.join(", ")}]`]));
  } finally {
    file.close();
  }
}

function tensorOf(path: string, name: string, dtype: DType): Tensor {
  const entry = readSafetensors(path).tensors.get(name);
  if (!entry) throw new Error(`${path} has no ${name}`);
  return fromBytes(entry.data, dtype, entry.shape);
}

/** Logits of the fixture batch, float32 [2, 12, vocab] (caller's scope). */
function fixtureLogits(model: CausalLM): { logits: Tensor; mask: Tensor } {
  const mask = ref(baseRef, "attention_mask", "int64");
  const logits = noGrad(() =>
    model.forward(ref(baseRef, "input_ids", "int64"), {
      attentionMask: mask,
      positionIds: ref(baseRef, "position_ids", "int64"),
    }),
  );
  return { logits, mask };
}

/** max over real positions of |a - b|, divided by max |b| there: a scale-aware relative error. */
function relErrorAtRealPositions(a: Tensor, b: Tensor, mask: Tensor): number {
  return scope(() => {
    const keep = mask.unsqueeze(-1).float();
    return a.sub(b).abs().mul(keep).max().item() / b.abs().mul(keep).max().item();
  });
}

/** Logits of base + adapter (our loader with the adapter on), and of the merged directory alone. */
function compareWithAdapter(merged: string, adapter: string): { error: number; vsBase: number } {
  const withAdapter = CausalLM.load(MODEL);
  const plain = CausalLM.load(merged);
  try {
    loadLora(withAdapter, adapter);
    assert.equal(plain.adapter, null);
    return scope(() => {
      const want = fixtureLogits(withAdapter);
      const got = fixtureLogits(plain);
      if (!withAdapter.adapter) throw new Error("no adapter");
      withAdapter.adapter.enabled = false;
      const base = fixtureLogits(withAdapter);
      return {
        error: relErrorAtRealPositions(got.logits, want.logits, want.mask),
        vsBase: relErrorAtRealPositions(got.logits, base.logits, want.mask),
      };
    });
  } finally {
    withAdapter.dispose();
    plain.dispose();
  }
}

/** Run the CLI: the compiled one under dist/, or the TypeScript one through tsx. */
function cli(args: string[]) {
  const here = fileURLToPath(import.meta.url);
  const compiled = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
  const argv =
    here.includes(`${join("dist", "test")}`) && existsSync(compiled)
      ? [compiled, ...args]
      : ["--import", "tsx", join(PACKAGE_ROOT, "src", "cli", "main.ts"), ...args];
  return spawnSync(process.execPath, argv, { cwd: PACKAGE_ROOT, encoding: "utf8", env: { ...process.env } });
}

const merged = fresh("merged");
const result = mergeAdapter(MODEL, LORA, merged);

test("merged model alone gives the base + adapter logits (1e-5 relative) and PEFT's (1e-4)", () => {
  assert.equal(result.mergedProjections, 14, "7 projections in each of 2 layers");
  assert.equal(result.scale, 2, "lora_alpha 8 / r 4");
  assert.equal(result.dtype, "float32", "auto: the base config's dtype");
  const { error, vsBase } = compareWithAdapter(merged, LORA);
  assert.ok(error < 1e-5, `merged vs base + adapter: relative error ${error}`);
  assert.ok(vsBase > 1e-2, `the adapter changes the logits (${vsBase} from the base)`);
  const model = CausalLM.load(merged);
  try {
    const peft = scope(() => {
      const { logits, mask } = fixtureLogits(model);
      return relErrorAtRealPositions(logits, ref(loraRef, "logits", "float32"), mask);
    });
    assert.ok(peft < 1e-4, `merged vs PEFT's logits with the adapter: ${peft}`);
  } finally {
    model.dispose();
  }
});

/** max |W' - (W + scale B A)| of one projection of a merged directory, against MODEL and LORA. */
function mergeError(mergedDir: string, name: string, scale: number): number {
  const lora = (part: string) =>
    tensorOf(join(LORA, "adapter_model.safetensors"), `base_model.model.${name}.${part}.weight`, "float32");
  const w = tensorOf(join(MODEL, "model.safetensors"), `${name}.weight`, "float32");
  const got = tensorOf(join(mergedDir, "model.safetensors"), `${name}.weight`, "float32");
  return got
    .sub(w.add(lora("lora_B").matmul(lora("lora_A")).mul(scale)))
    .abs()
    .max()
    .item();
}

test("merged checkpoint: the base's tensor names, shapes and dtypes; tied head stays tied; W' = W + 2 B A", () => {
  const base = header(join(MODEL, "model.safetensors"));
  const out = header(join(merged, "model.safetensors"));
  assert.deepEqual([...out].sort(), [...base].sort());
  assert.ok(out.has("model.layers.0.self_attn.q_proj.weight"), "q/k/v stay separate");
  assert.ok(!out.has("lm_head.weight"), "tie_word_embeddings: no lm_head.weight");
  assert.equal(JSON.parse(readFileSync(join(merged, "config.json"), "utf8")).tie_word_embeddings, true);
  assert.equal(openSafetensors(join(merged, "model.safetensors")).metadata.format, "pt");
  scope(() => {
    assert.ok(mergeError(merged, "model.layers.1.mlp.down_proj", 2) < 1e-6);
    const norm = "model.layers.0.input_layernorm.weight";
    assert.deepEqual(
      readSafetensors(join(merged, "model.safetensors")).tensors.get(norm)?.data,
      readSafetensors(join(MODEL, "model.safetensors")).tensors.get(norm)?.data,
      "tensors without an adapter are copied as they are",
    );
  });
});

test("merged directory: config.json as the base's, tokenizer, template and metadata copied, no adapter files", () => {
  assert.deepEqual(
    JSON.parse(readFileSync(join(merged, "config.json"), "utf8")),
    JSON.parse(readFileSync(join(MODEL, "config.json"), "utf8")),
  );
  assert.deepEqual(result.copiedFiles, [
    "README.md",
    "chat_template.jinja",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
  ]);
  for (const file of result.copiedFiles)
    assert.deepEqual(readFileSync(join(merged, file)), readFileSync(join(MODEL, file)), file);
  assert.deepEqual(
    readdirSync(merged).sort(),
    ["config.json", "model.safetensors", ...result.copiedFiles].sort(),
  );
  assert.equal(loadTokenizer(merged).vocabSize, 384);
  assert.ok(!existsSync(`${merged}.tmp`), "no temporary directory left");
});

test("rsLoRA: scale lora_alpha / sqrt(r) = 4, and the merged model matches the loader's rsLoRA", () => {
  const adapter = adapterWith({ use_rslora: true });
  const out = fresh("merged-rslora");
  assert.equal(mergeAdapter(MODEL, adapter, out).scale, 4);
  const { error, vsBase } = compareWithAdapter(out, adapter);
  assert.ok(error < 1e-5, `relative error ${error}`);
  assert.ok(vsBase > 1e-2);
  scope(() => {
    assert.ok(mergeError(out, "model.layers.0.self_attn.k_proj", 4) < 1e-6);
  });
});

test("fan_in_fan_out = true: ignored on nn.Linear as PEFT does, the same bytes, and said so", () => {
  const out = fresh("merged-fan");
  const r = mergeAdapter(MODEL, adapterWith({ fan_in_fan_out: true }), out);
  assert.ok(r.notes.some((n) => n.includes("fan_in_fan_out")));
  assert.deepEqual(
    readFileSync(join(out, "model.safetensors")),
    readFileSync(join(merged, "model.safetensors")),
  );
});

test("DoRA and other variants a merge cannot represent are refused by name, nothing written", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ use_dora: true }, /DoRA/],
    [{ init_lora_weights: "pissa_niter_4" }, /changed the base weights/],
    [{ alora_invocation_tokens: [5, 6] }, /alora_invocation_tokens.*only plain LoRA/],
    [{ lora_bias: true }, /lora_bias/],
    [{ modules_to_save: ["lm_head"] }, /modules_to_save/],
  ];
  for (const [changes, message] of cases) {
    const out = fresh("refused");
    assert.throws(() => mergeAdapter(MODEL, adapterWith(changes), out), message);
    assert.ok(!existsSync(out) && !existsSync(`${out}.tmp`), JSON.stringify(changes));
  }
});

test("an adapter trained on another base (other shapes, more layers) is refused with the reason", () => {
  const fixtureConfig = JSON.parse(readFileSync(join(TINY, "config.json"), "utf8"));
  const adapterFor = (overrides: Record<string, unknown>): string => {
    const dir = fresh("other-adapter");
    const config = parseHfConfig({ ...fixtureConfig, ...overrides });
    const settings = {
      r: 4,
      loraAlpha: 8,
      targetModules: ["q_proj", "v_proj"],
      loraDropout: 0,
      useRslora: false,
      layersToTransform: null,
      baseModelNameOrPath: "Qwen/other-model",
    };
    const adapter = LoraAdapter.init(config, settings, "cpu");
    try {
      saveLoraAdapter(adapter, dir);
    } finally {
      adapter.dispose();
    }
    return dir;
  };
  const out = fresh("refused");
  assert.throws(
    () => mergeAdapter(MODEL, adapterFor({ hidden_size: 32 }), out),
    /q_proj\.lora_A\.weight" is \[4, 32\], but with r = 4 the base model's model\.layers\.0\.self_attn\.q_proj \(\[64, 64\]\) needs \[4, 64\]: the adapter does not fit the base model in .* \(it names Qwen\/other-model as its base\)/,
  );
  assert.throws(
    () => mergeAdapter(MODEL, adapterFor({ num_hidden_layers: 3, layer_types: null }), out),
    /adapts layer 2, but the base model has 2 layers: the adapter does not fit/,
  );
  assert.ok(!existsSync(out));
});

test("an untied base keeps its own lm_head.weight", () => {
  const dir = modelDir();
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, tie_word_embeddings: false }));
  const weights = readSafetensors(join(TINY, "model.safetensors")).tensors;
  const embed = weights.get("model.embed_tokens.weight");
  if (!embed) throw new Error("no embedding");
  // A head that differs from the embedding, so a merge that tied them would show.
  const head = scope(() => fromBytes(embed.data, "float32", embed.shape).mul(-0.5).toBytes());
  writeSafetensors(join(dir, "model.safetensors"), [
    ...[...weights].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.data })),
    { name: "lm_head.weight", dtype: "F32", shape: embed.shape, data: head },
  ]);
  const out = fresh("merged-untied");
  mergeAdapter(dir, LORA, out);
  const got = header(join(out, "model.safetensors"));
  assert.deepEqual([...got].sort(), [...header(join(dir, "model.safetensors"))].sort());
  assert.deepEqual(readSafetensors(join(out, "model.safetensors")).tensors.get("lm_head.weight")?.data, head);
});

test("a base directory without tokenizer_config.json is refused (the merged model would be unusable)", () => {
  const dir = modelDir();
  rmSync(join(dir, "tokenizer_config.json"));
  assert.throws(
    () => mergeAdapter(dir, LORA, fresh("refused")),
    /tokenizer files.*no tokenizer_config\.json/,
  );
});

test("float16 that overflows is refused naming the tensor", () => {
  const dir = modelDir();
  const weights = readSafetensors(join(TINY, "model.safetensors")).tensors;
  const norm = weights.get("model.norm.weight");
  if (!norm) throw new Error("no norm");
  const big = new Float32Array(norm.data.slice().buffer);
  big[0] = 1e5;
  writeSafetensors(
    join(dir, "model.safetensors"),
    [...weights].map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: t.shape,
      data: name === "model.norm.weight" ? new Uint8Array(big.buffer) : t.data,
    })),
  );
  const out = fresh("refused");
  assert.throws(
    () => mergeAdapter(dir, LORA, out, { dtype: "float16" }),
    /model\.norm\.weight.*float16 stops at 65504/,
  );
  assert.ok(!existsSync(out) && !existsSync(`${out}.tmp`));
});

test("CLI: export --dtype bfloat16 writes bf16 tensors (each rounded once from the float32 merge) that load", () => {
  const out = fresh("merged-bf16");
  const r = cli(["export", "--model", MODEL, "--adapter", LORA, "--out", out, "--dtype", "bfloat16"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /merged 14 LoRA projections \(r 4, lora_alpha 8, scale 2\)/);
  assert.match(r.stdout, /bfloat16/);
  assert.equal(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).dtype, "bfloat16");
  const bf16 = readSafetensors(join(out, "model.safetensors")).tensors;
  const f32 = readSafetensors(join(merged, "model.safetensors")).tensors;
  assert.deepEqual([...bf16.keys()].sort(), [...f32.keys()].sort());
  scope(() => {
    for (const [name, t] of bf16) {
      assert.equal(t.dtype, "BF16", name);
      const wide = f32.get(name);
      if (!wide) throw new Error(name);
      assert.deepEqual(t.data, fromBytes(wide.data, "float32", wide.shape).to("bfloat16").toBytes(), name);
    }
  });
  const model = CausalLM.load(out, { dtype: "bfloat16" });
  try {
    const error = scope(() => {
      const { logits, mask } = fixtureLogits(model);
      return relErrorAtRealPositions(logits, ref(loraRef, "logits", "float32"), mask);
    });
    assert.ok(error < 5e-2, `bf16 merged model vs PEFT's float32 logits: ${error}`);
  } finally {
    model.dispose();
  }
});

test("CLI: an existing non-empty --out is refused unless --overwrite; the inputs are never replaced", () => {
  const out = fresh("existing");
  mkdirSync(out);
  writeFileSync(join(out, "notes.txt"), "keep me");
  const refused = cli(["export", "--model", MODEL, "--adapter", LORA, "--out", out]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /is not empty .*notes\.txt.*--overwrite/);
  assert.equal(readFileSync(join(out, "notes.txt"), "utf8"), "keep me");

  const replaced = cli(["export", "--model", MODEL, "--adapter", LORA, "--out", out, "--overwrite"]);
  assert.equal(replaced.status, 0, replaced.stderr);
  assert.ok(!existsSync(join(out, "notes.txt")));
  assert.deepEqual(
    readFileSync(join(out, "model.safetensors")),
    readFileSync(join(merged, "model.safetensors")),
  );

  const empty = fresh("empty");
  mkdirSync(empty);
  assert.equal(cli(["export", "--model", MODEL, "--adapter", LORA, "--out", empty]).status, 0);

  for (const input of [MODEL, join(MODEL, ".."), LORA]) {
    const r = cli(["export", "--model", MODEL, "--adapter", LORA, "--out", input, "--overwrite"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /(is|contains) the --(model|adapter) directory/);
  }
  assert.ok(
    existsSync(join(MODEL, "model.safetensors")) && existsSync(join(LORA, "adapter_model.safetensors")),
  );
});

test("CLI: export --help says the adapter stays the primary output of training", () => {
  const r = cli(["export", "--help"]);
  assert.equal(r.status, 0);
  const text = r.stdout.replace(/\s+/g, " ");
  assert.match(text, /The adapter stays the primary output of training/);
  assert.match(
    text,
    /--dtype <dtype>.*\(choices: "auto", "float32", "bfloat16", "float16", default: "auto"\)/,
  );
});
