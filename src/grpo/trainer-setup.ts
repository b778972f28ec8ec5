/**
 * Everything a run needs before its first step: device and dtype, the model and its tokenizer,
 * the LoRA adapter, the optimizer, and the training / validation prompts rendered and tokenized.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  AdamW,
  bestDevice,
  bf16MatmulIsFast,
  type Device,
  type DType,
  SGD,
  type Tensor,
} from "../engine/index.js";
import { initLora, loadModel, type Model } from "../model/load.js";
import { LORA_TARGETS } from "../model/lora.js";
import { loadTokenizer, type Tokenizer } from "../model/tokenizer.js";
import { MODELS_DIR } from "../paths.js";
import { renderPrompt } from "../task/prompt.js";
import { loadSeedDataset } from "../task/seed-dataset.js";
import { splitTrainValidation } from "../task/split.js";
import type { TaskState } from "../task/state.js";
import type { GrpoConfig } from "./config/schema.js";
import type { PreparedPrompt } from "./rollout/rollout.js";

/** `device: auto`: CUDA, then MPS, else the CPU. */
export function resolveDevice(config: GrpoConfig): Device {
  return config.device === "auto" ? bestDevice() : (config.device as Device);
}

/** `dtype: auto`: bfloat16 where the engine runs bf16 matmuls fast (CUDA, AVX-512 CPUs), else float32. */
export function resolveDtype(config: GrpoConfig, device: Device): DType {
  if (config.dtype !== "auto") return config.dtype;
  return bf16MatmulIsFast(device) ? "bfloat16" : "float32";
}

/** `model: null`: the model shipped in models/ (the one folder there with a config.json). */
export function resolveModelDir(config: GrpoConfig): string {
  if (config.model !== null) {
    if (!existsSync(join(config.model, "config.json")))
      throw new Error(
        `model ${config.model}: no config.json there (expected a Hugging Face model directory)`,
      );
    return config.model;
  }
  const shipped = existsSync(MODELS_DIR)
    ? readdirSync(MODELS_DIR)
        .filter((name) => existsSync(join(MODELS_DIR, name, "config.json")))
        .sort()
    : [];
  if (shipped.length === 0)
    throw new Error(`no model given (--model DIR or model = "...") and none shipped in ${MODELS_DIR}`);
  return join(MODELS_DIR, shipped[0]);
}

export interface Prompts {
  train: PreparedPrompt[];
  validation: PreparedPrompt[];
}

/** Render and tokenize a position; prompts longer than max_prompt_length keep their last tokens (TRL). */
export function preparePrompt(state: TaskState, config: GrpoConfig, tokenizer: Tokenizer): PreparedPrompt {
  const text = renderPrompt(
    { history: state.history },
    { template: config.prompt_template, tokenizer: tokenizer.chatTemplate ? tokenizer : undefined },
  ).text;
  let ids = tokenizer.encode(text);
  if (config.max_prompt_length !== null && ids.length > config.max_prompt_length)
    ids = ids.slice(ids.length - config.max_prompt_length);
  return { state, ids };
}

/** The seed dataset's train / validation split by `seed` (60 / 15 rows), tokenized. */
export function preparePrompts(config: GrpoConfig, tokenizer: Tokenizer): Prompts {
  const { rows } = loadSeedDataset();
  const { train, validation } = splitTrainValidation(rows, config.seed);
  const strip = (r: TaskState): TaskState => ({ id: r.id, secret: r.secret, history: r.history });
  return {
    train: train.map((r) => preparePrompt(strip(r), config, tokenizer)),
    validation: validation.map((r) => preparePrompt(strip(r), config, tokenizer)),
  };
}

export interface LoadedPolicy {
  model: Model;
  tokenizer: Tokenizer;
  modelDir: string;
  device: Device;
  dtype: DType;
}

export async function loadPolicy(config: GrpoConfig): Promise<LoadedPolicy> {
  const modelDir = resolveModelDir(config);
  const device = resolveDevice(config);
  const dtype = resolveDtype(config, device);
  const model = await loadModel(modelDir, { device, dtype });
  const tokenizer = loadTokenizer(modelDir);
  if (tokenizer.vocabSize > model.config.vocabSize)
    throw new Error(
      `${modelDir}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${model.config.vocabSize}`,
    );
  return { model, tokenizer, modelDir, device, dtype };
}

/** A fresh adapter from the config's LoRA section (uses the engine generator: seed first). */
export function attachAdapter(model: Model, config: GrpoConfig) {
  const targets = config.lora.target_modules;
  for (const t of targets)
    if (!(LORA_TARGETS as readonly string[]).includes(t))
      throw new Error(`lora.target_modules: "${t}" is not one of ${LORA_TARGETS.join(", ")}`);
  return initLora(model, {
    r: config.lora.r,
    loraAlpha: config.lora.alpha,
    loraDropout: config.lora.dropout,
    targetModules: targets,
    useRslora: config.lora.use_rslora,
  });
}

export type Optimizer = AdamW | SGD;

export function makeOptimizer(config: GrpoConfig, params: readonly Tensor[]): Optimizer {
  if (config.optim === "sgd")
    return new SGD(params, {
      lr: config.learning_rate,
      momentum: config.momentum,
      weightDecay: config.weight_decay,
    });
  return new AdamW(params, {
    lr: config.learning_rate,
    betas: [config.adam_beta1, config.adam_beta2],
    eps: config.adam_epsilon,
    weightDecay: config.weight_decay,
  });
}
