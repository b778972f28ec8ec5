import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadHfConfig, parseHfConfig, ropeInverseFrequencies } from "../src/model/hf-config.js";
import { FIXTURES_DIR } from "../src/paths.js";

test("qwen2-tiny config.json (transformers 5: rope_parameters, dtype)", () => {
  const config = loadHfConfig(join(FIXTURES_DIR, "qwen2-tiny"));
  assert.deepEqual(config, {
    architecture: "Qwen2ForCausalLM",
    modelType: "qwen2",
    hiddenSize: 64,
    intermediateSize: 160,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 16,
    vocabSize: 384,
    rmsNormEps: 1e-6,
    maxPositionEmbeddings: 512,
    ropeTheta: 1_000_000,
    ropeScaling: { type: "default" },
    tieWordEmbeddings: true,
    qkvBias: true,
    oProjBias: false,
    mlpBias: false,
    hiddenAct: "silu",
    dtype: "float32",
    bosTokenId: 1,
    eosTokenIds: [2],
    padTokenId: 0,
  });
});

/** Qwen2.5-0.5B-Instruct's shapes, written the way transformers 4.x saved it (top-level rope_theta, torch_dtype). */
const qwen25Older = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.43.1",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

test("older Qwen2.5 config: top-level rope_theta and torch_dtype; head_dim derived; unknown keys ignored", () => {
  const config = parseHfConfig(qwen25Older);
  assert.equal(config.ropeTheta, 1_000_000);
  assert.deepEqual(config.ropeScaling, { type: "default" });
  assert.equal(config.dtype, "bfloat16");
  assert.equal(config.headDim, 64);
  assert.equal(config.numKeyValueHeads, 2);
  assert.deepEqual(config.eosTokenIds, [151645]);
  assert.equal(config.padTokenId, null);
  assert.equal(config.tieWordEmbeddings, true);
});

test("Llama config: no biases unless attention_bias/mlp_bias, untied head, own eps and theta, eos list", () => {
  const llamaTiny = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 48,
    intermediate_size: 128,
    num_hidden_layers: 3,
    num_attention_heads: 6,
    num_key_value_heads: 3,
    vocab_size: 300,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    tie_word_embeddings: false,
    torch_dtype: "float32",
    bos_token_id: 1,
    eos_token_id: [2, 3],
  };
  const config = parseHfConfig(llamaTiny, "llama-tiny/config.json");
  assert.equal(config.architecture, "LlamaForCausalLM");
  assert.equal(config.headDim, 8);
  assert.equal(config.rmsNormEps, 1e-5);
  assert.equal(config.ropeTheta, 10000);
  assert.equal(config.maxPositionEmbeddings, 2048, "LlamaConfig default");
  assert.equal(config.tieWordEmbeddings, false);
  assert.deepEqual([config.qkvBias, config.oProjBias, config.mlpBias], [false, false, false]);
  assert.deepEqual(config.eosTokenIds, [2, 3]);

  const withBias = parseHfConfig({ ...llamaTiny, attention_bias: true, mlp_bias: true });
  assert.deepEqual([withBias.qkvBias, withBias.oProjBias, withBias.mlpBias], [true, true, true]);
  // Defaults when keys are left out: kv heads = heads, untied head, theta 10000, eps 1e-6.
  const { num_key_value_heads, tie_word_embeddings, rope_theta, rms_norm_eps, ...minimal } = llamaTiny;
  const defaults = parseHfConfig(minimal);
  assert.equal(defaults.numKeyValueHeads, 6);
  assert.equal(defaults.tieWordEmbeddings, false);
  assert.equal(defaults.ropeTheta, 10000);
  assert.equal(defaults.rmsNormEps, 1e-6);
  // head_dim may differ from hidden / heads (Qwen3-style configs state it).
  assert.equal(parseHfConfig({ ...llamaTiny, head_dim: 16 }).headDim, 16);
});

/** Llama-3.2-1B's shapes with llama3 rope scaling, in both the old and the transformers 5 spelling. */
const llama32 = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 131072,
  rope_theta: 500000.0,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
};

test("llama3 rope scaling parses from rope_scaling (old) and rope_parameters (transformers 5) alike", () => {
  const old = parseHfConfig(llama32);
  const { rope_theta, rope_scaling, ...rest } = llama32;
  const v5 = parseHfConfig({ ...rest, rope_parameters: { ...rope_scaling, rope_theta } });
  const expected = {
    type: "llama3",
    factor: 32,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 8192,
  };
  assert.deepEqual(old.ropeScaling, expected);
  assert.deepEqual(v5.ropeScaling, expected);
  assert.equal(old.ropeTheta, 500000);
  assert.equal(v5.ropeTheta, 500000);
  // The oldest spelling used "type" instead of "rope_type".
  const legacy = parseHfConfig({ ...llama32, rope_scaling: { type: "linear", factor: 2 } });
  assert.deepEqual(legacy.ropeScaling, { type: "linear", factor: 2 });
});

test("RoPE inverse frequencies: default, linear and llama3 against hand-computed values", () => {
  // default: inv_freq[i] = theta^(-2i/d). d = 4, theta = 100: [1, 0.1].
  const base = ropeInverseFrequencies({ headDim: 4, ropeTheta: 100, ropeScaling: { type: "default" } });
  assert.deepEqual([...base], [1, Math.fround(0.1)]);
  const qwen = ropeInverseFrequencies({ headDim: 64, ropeTheta: 1e6, ropeScaling: { type: "default" } });
  assert.equal(qwen.length, 32);
  assert.ok(Math.abs(qwen[31] - 1e6 ** (-62 / 64)) < 1e-6 * qwen[31]);

  const linear = ropeInverseFrequencies({
    headDim: 4,
    ropeTheta: 100,
    ropeScaling: { type: "linear", factor: 4 },
  });
  assert.deepEqual([...linear], [0.25, Math.fround(0.025)]);

  // llama3 with original context 100, low factor 1 (wavelength limit 100), high factor 4 (limit 25), factor 8.
  // Pair 0: wavelength 2*pi ~ 6.28 < 25: high frequency, kept at 1.
  // Pair 1: wavelength 2*pi/0.1 ~ 62.8, between 25 and 100: blended with
  //   smooth = (100 / 62.83 - 1) / (4 - 1) = 0.19718, value = (1 - smooth) * 0.1 / 8 + smooth * 0.1 = 0.0297535.
  const scaling = {
    type: "llama3" as const,
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 100,
  };
  const blended = ropeInverseFrequencies({ headDim: 4, ropeTheta: 100, ropeScaling: scaling });
  assert.equal(blended[0], 1);
  assert.ok(Math.abs(blended[1] - 0.0297535) < 1e-6, `blended ${blended[1]}`);
  // Original context 1000: pair 1's wavelength 62.8 is below 1000/4 = 250, so it is kept; with context 10
  // both wavelengths exceed 10/1, so both are divided by the factor.
  const kept = ropeInverseFrequencies({
    headDim: 4,
    ropeTheta: 100,
    ropeScaling: { ...scaling, originalMaxPositionEmbeddings: 1000 },
  });
  assert.deepEqual([...kept], [1, Math.fround(0.1)]);
  const slowed = ropeInverseFrequencies({
    headDim: 4,
    ropeTheta: 100,
    ropeScaling: { ...scaling, originalMaxPositionEmbeddings: 2 },
  });
  assert.deepEqual([...slowed], [0.125, Math.fround(Math.fround(0.1) / 8)]);
});

test("unsupported architectures, rope types and features give errors naming what is supported", () => {
  const errors: [unknown, RegExp][] = [
    [
      { ...qwen25Older, model_type: "qwen3" },
      /unsupported model_type "qwen3"; supported: Qwen2ForCausalLM \(model_type "qwen2"\), LlamaForCausalLM/,
    ],
    [
      { ...qwen25Older, architectures: ["Qwen2ForSequenceClassification"] },
      /only the causal LM head is supported/,
    ],
    [
      { ...qwen25Older, rope_scaling: { rope_type: "yarn", factor: 4 } },
      /rope_scaling: unsupported rope_type "yarn"; supported: default, linear, llama3/,
    ],
    [{ ...qwen25Older, rope_scaling: { rope_type: "linear" } }, /rope_type "linear" needs "factor"/],
    [{ ...qwen25Older, use_sliding_window: true }, /sliding-window attention is not supported/],
    [
      { ...qwen25Older, layer_types: ["full_attention", "sliding_attention"] },
      /layer_types contains "sliding_attention"/,
    ],
    [{ ...qwen25Older, hidden_act: "gelu" }, /unsupported hidden_act "gelu"; supported: silu/],
    [
      { ...qwen25Older, num_key_value_heads: 4 },
      /num_attention_heads \(14\) must be a multiple of num_key_value_heads \(4\)/,
    ],
    [{ ...qwen25Older, hidden_size: "896" }, /field "hidden_size": .*expected number/],
    [{ ...qwen25Older, vocab_size: undefined }, /field "vocab_size": required number is missing/],
    [
      { ...qwen25Older, rope_parameters: { rope_theta: 10000 } },
      /rope_parameters.rope_theta \(10000\) and rope_theta \(1000000\) disagree/,
    ],
    [{ ...qwen25Older, torch_dtype: "float8_e4m3fn" }, /unsupported dtype "float8_e4m3fn"/],
    [{ hidden_size: 8 }, /no "model_type" and no supported "architectures"/],
  ];
  for (const [json, pattern] of errors) assert.throws(() => parseHfConfig(json, "m/config.json"), pattern);
  assert.throws(
    () => parseHfConfig([], "m/config.json"),
    /^HfConfigError: m\/config.json: expected a JSON object/,
  );
});

test("loadHfConfig names the file when it is missing or not JSON", () => {
  const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-cfg-"));
  try {
    assert.throws(() => loadHfConfig(join(dir, "nope")), /nope: no such model directory/);
    assert.throws(() => loadHfConfig(dir), /config\.json: cannot read/);
    writeFileSync(join(dir, "config.json"), "{ broken");
    assert.throws(() => loadHfConfig(dir), /config\.json: not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
