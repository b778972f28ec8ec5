/**
 * Everything a run needs from the engine before its first step: device and dtype, the model and
 * its tokenizer, the LoRA adapter, the optimizer (the prompts: prepared-prompts.ts; the model
 * directory: model-dir.ts, both usable without the libtorch addon).
 */
import {
  AdamW,
  bestDevice,
  bf16MatmulIsFast,
  type Device,
  type DType,
  hasFusedAttention,
  SGD,
  type Tensor,
} from "../engine/index.js";
import { initLora, loadModel, type Model } from "../model/load.js";
import { LORA_TARGETS } from "../model/lora.js";
import type { FloatDtype } from "../model/memory-model.js";
import { loadTokenizer, type Tokenizer } from "../model/tokenizer.js";
import type { GrpoConfig } from "./config/schema.js";
import type { EngineFacts } from "./memory-check.js";
import { resolveModelDir } from "./model-dir.js";

/** `device: auto`: CUDA, then MPS, else the CPU. */
export function resolveDevice(config: GrpoConfig): Device {
  return config.device === "auto" ? bestDevice() : (config.device as Device);
}

/** `dtype: auto`: bfloat16 where the engine runs bf16 matmuls fast (CUDA, AVX-512 CPUs), else float32. */
export function resolveDtype(config: GrpoConfig, device: Device): DType {
  if (config.dtype !== "auto") return config.dtype;
  return bf16MatmulIsFast(device) ? "bfloat16" : "float32";
}

/** What the memory estimate needs from the engine for this config on this machine. */
export function engineFacts(config: GrpoConfig): EngineFacts {
  const device = resolveDevice(config);
  return { device, dtype: resolveDtype(config, device) as FloatDtype, fusedAttention: hasFusedAttention() };
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
