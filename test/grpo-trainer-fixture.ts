/**
 * A tiny random Qwen2 model with a character tokenizer, written to a temp folder, for trainer
 * tests: 2 layers, hidden 32, vocabulary = the tokenizer's (about 100 characters + specials).
 * Also the small config the trainer tests share (compact prompts, short completions).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  keep,
  manualSeed,
  noGrad,
  ones,
  randn,
  saveSafetensors,
  scope,
  type Tensor,
} from "../src/engine/index.js";
import { resolveConfig } from "../src/grpo/config/config.js";
import { configSchema, type GrpoConfig, type GrpoConfigInput } from "../src/grpo/config/schema.js";
import { parseHfConfig } from "../src/model/hf-config.js";
import { buildCharTokenizerJson } from "../src/model/tokenizer-char.js";
import { expectedTensors } from "../src/model/weights.js";
import { MODELS_DIR } from "../src/paths.js";
import type { RewardPreset } from "../src/task/rewards/presets.js";
import type { NamedReward } from "../src/task/rewards/types.js";

const SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/** Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json; returns the folder. */
export function makeTinyModel(seed = 7): string {
  const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-tiny-"));
  const chars = ["\n", ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), "✓", "×"];
  const tokenizer = buildCharTokenizerJson(chars, SPECIALS);
  const vocab = SPECIALS.length + 1 + chars.length;
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ eos_token: "<|im_end|>", pad_token: "<|endoftext|>" }),
  );
  const hf = {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: vocab,
    max_position_embeddings: 1024,
    rms_norm_eps: 1e-6,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
    hidden_act: "silu",
    bos_token_id: 0,
    eos_token_id: 2,
    pad_token_id: 0,
    torch_dtype: "float32",
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(hf));
  const config = parseHfConfig(hf);
  manualSeed(seed);
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of expectedTensors(config)) {
    tensors.set(
      name,
      keep(
        scope(() =>
          noGrad(() =>
            name.endsWith("norm.weight") ? ones(shape) : randn(shape).mul(name.endsWith(".bias") ? 0.1 : 0.5),
          ),
        ),
      ),
    );
  }
  saveSafetensors(join(dir, "model.safetensors"), tensors);
  for (const t of tensors.values()) t.dispose();
  return dir;
}

/** Settings for short CPU runs: compact prompt, 1 prompt x G 2 per step, 16-token completions. */
export const TINY_RUN_SETTINGS: Record<string, unknown> = {
  prompt_template: "compact",
  device: "cpu",
  dtype: "float32",
  num_generations: 2,
  per_device_train_batch_size: 2,
  gradient_accumulation_steps: 1,
  max_completion_length: 16,
  max_steps: 30,
  logging_steps: 5,
  save_steps: 10,
  save_total_limit: 2,
  eval_steps: null,
  learning_rate: 1e-3,
  beta: 0.1,
  temperature: 1.0,
  "temperature_schedule.start": 1.0,
  "temperature_schedule.end": 0.7,
  gradient_checkpointing: true,
  "lora.r": 4,
  "lora.alpha": 8,
  "lora.dropout": 0.05,
  "eval.games": 0,
};

export function tinyConfig(
  modelDir: string,
  outputDir: string,
  extra: Record<string, unknown> = {},
): GrpoConfig {
  return resolveConfig({
    preset: "seed",
    overrides: { ...TINY_RUN_SETTINGS, model: modelDir, output_dir: outputDir, ...extra },
  }).config;
}

/** The same settings as `--set key=value` arguments for the CLI. */
export function tinySetArgs(extra: Record<string, unknown> = {}): string[] {
  return Object.entries({ ...TINY_RUN_SETTINGS, ...extra }).flatMap(([k, v]) => [
    "--set",
    `${k}=${JSON.stringify(v)}`,
  ]);
}

/**
 * Rewards a random tiny model can earn (it never writes `<guess>` tags, so the real presets score
 * 0 and every advantage would be 0): named like the seed preset's so the monitor's aliases apply.
 */
export function letterRewards(): RewardPreset {
  const count = (text: string, chars: string) => [...text].filter((c) => chars.includes(c)).length;
  const rewards: NamedReward[] = [
    { name: "format", weight: 1, fn: (_s, text) => (text.includes("<") ? 0.2 : 0) },
    { name: "feedback", weight: 1, fn: (_s, text) => count(text, "eE") / 4 - 0.1 },
    {
      name: "info_gain",
      weight: 1,
      fn: (_s, text, progress) => (count(text, "aeiouAEIOU") / 16) * (1 - progress),
    },
  ];
  return {
    name: "seed",
    rewards,
    score(state, completion, progress) {
      const values: Record<string, number> = {};
      let total = 0;
      for (const r of rewards) {
        values[r.name] = r.fn(state, completion, progress);
        total += r.weight * values[r.name];
      }
      return { total, values };
    },
  };
}

const TIME_KEYS = /step_time|tokens_per_second|eta_seconds/;

/** A metrics row without its wall-clock fields (they differ between any two runs). */
export function withoutTimings(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([k]) => !TIME_KEYS.test(k)));
}

/** Rows without wall-clock fields, as strings to compare whole runs. */
export function comparable(rows: Record<string, unknown>[]): string[] {
  return rows.map((row) => JSON.stringify(withoutTimings(row)));
}

/**
 * The shipped model's recipe (preset tiny) cut down to a short run: 3 games per secret, 2 secrets
 * per step, a checkpoint every 2 steps, a row every step; `overrides` last.
 */
export function shippedTinyConfig(outputDir: string, overrides: Record<string, unknown>): GrpoConfig {
  return resolveConfig({
    preset: "tiny",
    overrides: {
      model: join(MODELS_DIR, "wordle-tiny"),
      output_dir: outputDir,
      save_steps: 2,
      logging_steps: 1,
      num_generations: 3,
      ...overrides,
    },
  }).config;
}

/** A multi-turn rollout's config: the schema's defaults under these values (tiny template, 8 new tokens). */
export function rolloutConfig(values: GrpoConfigInput = {}): GrpoConfig {
  return configSchema.parse({ prompt_template: "tiny", max_completion_length: 8, ...values });
}
