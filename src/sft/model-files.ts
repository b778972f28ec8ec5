/**
 * The files of a Hugging Face model directory for the tiny model: config.json (Qwen2),
 * generation_config.json, tokenizer.json and tokenizer_config.json (with the chat template),
 * model.safetensors. Everything a `transformers.AutoModelForCausalLM.from_pretrained(dir)` needs,
 * and what src/model/load.ts reads.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { saveSafetensors } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { type ModelConfig, parseHfConfig } from "../model/hf-config.js";
import type { ModelWeights } from "../model/weights.js";
import { buildTinyTokenizerFiles } from "./tiny-tokenizer.js";

/** The default size: about 2.8M parameters (4 layers, d 256, 8 query / 2 key-value heads). */
export const DEFAULT_TINY_ARCHITECTURE = {
  hidden_size: 256,
  intermediate_size: 672,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  rope_theta: 10000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
} as const;

/**
 * config.json of a Qwen2 causal LM over the tiny tokenizer. `overrides` are config.json keys
 * (e.g. {"num_hidden_layers": 6}); the result is checked by the same parser loadModel uses.
 */
export function tinyModelConfigJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const tok = buildTinyTokenizerFiles();
  const json: Record<string, unknown> = {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    ...DEFAULT_TINY_ARCHITECTURE,
    vocab_size: tok.vocabSize,
    hidden_act: "silu",
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
    use_sliding_window: false,
    bos_token_id: null,
    eos_token_id: tok.ids.eos,
    pad_token_id: tok.ids.pad,
    torch_dtype: "float32",
    ...overrides,
  };
  if (typeof json.vocab_size !== "number" || json.vocab_size < tok.vocabSize)
    throw new Error(
      `model config: vocab_size must be at least the tokenizer's ${tok.vocabSize} tokens, got ${JSON.stringify(json.vocab_size)}`,
    );
  parseHfConfig(json, "model config");
  return json;
}

/** Reads a config.json-style file of overrides for tinyModelConfigJson. */
export function readConfigOverrides(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path}: cannot read a JSON model config: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new Error(`${path}: expected a JSON object of config.json keys`);
  return json as Record<string, unknown>;
}

/** Hugging Face tensor names -> tensors (the tied LM head is not written, as transformers does). */
export function namedWeights(config: ModelConfig, weights: ModelWeights): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  out.set("model.embed_tokens.weight", weights.embedTokens);
  weights.layers.forEach((layer, i) => {
    const p = `model.layers.${i}`;
    out.set(`${p}.input_layernorm.weight`, layer.inputLayernorm);
    out.set(`${p}.post_attention_layernorm.weight`, layer.postAttentionLayernorm);
    const linears = {
      "self_attn.q_proj": layer.qProj,
      "self_attn.k_proj": layer.kProj,
      "self_attn.v_proj": layer.vProj,
      "self_attn.o_proj": layer.oProj,
      "mlp.gate_proj": layer.gateProj,
      "mlp.up_proj": layer.upProj,
      "mlp.down_proj": layer.downProj,
    };
    for (const [name, lin] of Object.entries(linears)) {
      out.set(`${p}.${name}.weight`, lin.weight);
      if (lin.bias) out.set(`${p}.${name}.bias`, lin.bias);
    }
  });
  out.set("model.norm.weight", weights.norm);
  if (!config.tieWordEmbeddings) out.set("lm_head.weight", weights.lmHead);
  return out;
}

function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export interface SaveModelDirOptions {
  /** config.json contents (from tinyModelConfigJson). */
  configJson: Record<string, unknown>;
  config: ModelConfig;
  /** Weights to write, in the dtype they should have on disk. */
  weights: ModelWeights;
  /** Extra files (name -> JSON value), e.g. the training record. */
  extra?: Record<string, unknown>;
}

/** Writes a complete HF model directory (files replaced atomically one by one). */
export function saveModelDir(dir: string, options: SaveModelDirOptions): void {
  mkdirSync(dir, { recursive: true });
  const tok = buildTinyTokenizerFiles();
  const dtype = options.weights.embedTokens.dtype;
  writeJson(join(dir, "config.json"), { ...options.configJson, torch_dtype: dtype });
  writeJson(join(dir, "generation_config.json"), {
    bos_token_id: null,
    eos_token_id: [tok.ids.eos, tok.ids.endOfText],
    pad_token_id: tok.ids.pad,
  });
  writeJson(join(dir, "tokenizer.json"), tok.tokenizer);
  writeJson(join(dir, "tokenizer_config.json"), tok.tokenizerConfig);
  saveSafetensors(join(dir, "model.safetensors"), namedWeights(options.config, options.weights), {
    format: "pt",
  });
  for (const [name, value] of Object.entries(options.extra ?? {})) writeJson(join(dir, name), value);
}
