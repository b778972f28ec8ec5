/**
 * What the model benches share: Qwen2.5-0.5B's config (shapes without its weights), a random
 * model of any such config, and `--name value` option reading.
 *
 * Random weights: N(0, 0.02) matrices, unit norms, small biases (N(0, biasStd)). Timings and
 * memory do not depend on the values; only sampled text and printed losses do.
 */
import {
  type Device,
  type DType,
  keep,
  noGrad,
  ones,
  randn,
  scope,
  type Tensor,
} from "../src/engine/index.js";
import type { ModelConfig } from "../src/model/hf-config.js";
import { expectedTensors, type LinearWeights, type ModelWeights } from "../src/model/weights.js";

/** Qwen/Qwen2.5-0.5B-Instruct's config.json, the keys that set shapes and maths. */
export const QWEN25_05B = {
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  tie_word_embeddings: true,
  hidden_act: "silu",
  bos_token_id: 151643,
  eos_token_id: 151645,
  torch_dtype: "bfloat16",
};

/** The value after `--name` on the command line, or `fallback` when absent. */
export function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

/**
 * Random weights with the checkpoint's shapes, made directly in the target dtype/device. Norms
 * are ones (they draw no random numbers), so the draw order is embeddings, then each layer's
 * projections in q, k, v, o, gate, up, down order.
 */
export function randomWeights(
  config: ModelConfig,
  dtype: DType,
  device: Device,
  biasStd = 0.1,
): ModelWeights {
  const shapes = expectedTensors(config);
  const make = (name: string): Tensor => {
    const shape = shapes.get(name) as number[];
    return keep(
      scope(() =>
        noGrad(() =>
          name.endsWith("norm.weight")
            ? ones(shape, { dtype, device })
            : randn(shape, { device })
                .mul(name.endsWith(".bias") ? biasStd : 0.02)
                .to(dtype),
        ),
      ),
    );
  };
  const linear = (prefix: string): LinearWeights => ({
    weight: make(`${prefix}.weight`),
    bias: shapes.has(`${prefix}.bias`) ? make(`${prefix}.bias`) : null,
  });
  const embedTokens = make("model.embed_tokens.weight");
  const layers = Array.from({ length: config.numHiddenLayers }, (_, i) => {
    const p = `model.layers.${i}`;
    return {
      inputLayernorm: make(`${p}.input_layernorm.weight`),
      qProj: linear(`${p}.self_attn.q_proj`),
      kProj: linear(`${p}.self_attn.k_proj`),
      vProj: linear(`${p}.self_attn.v_proj`),
      oProj: linear(`${p}.self_attn.o_proj`),
      postAttentionLayernorm: make(`${p}.post_attention_layernorm.weight`),
      gateProj: linear(`${p}.mlp.gate_proj`),
      upProj: linear(`${p}.mlp.up_proj`),
      downProj: linear(`${p}.mlp.down_proj`),
    };
  });
  return { embedTokens, layers, norm: make("model.norm.weight"), lmHead: embedTokens };
}
