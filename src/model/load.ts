/**
 * The package's public model API: plain JavaScript in, plain JavaScript out.
 *
 *   const model = await loadModel("models/qwen2.5-0.5b", { device: "cpu", dtype: "bfloat16" });
 *   const { shape, data } = await model.logits([[1, 2, 3]]);      // Float32Array of [1, 3, vocab]
 *   const tok = loadTokenizer("models/qwen2.5-0.5b");
 *   const [c] = model.generate([tok.encode("Hi")], { maxNewTokens: 16, greedy: true }, tok);
 *   loadLora(model, "runs/x/final");  saveLora(model, "out/adapter");  saveMerged(model, "out/merged");
 *
 * The model is a CausalLM (transformer.ts): the tensor-level forward, forwardBackward and the
 * adapter are available on it for the trainer and the sampler.
 */
import { noGrad, scope, tensor } from "../engine/index.js";
import { DEFAULT_LORA_SETTINGS, LoraAdapter, type LoraSettings } from "./lora.js";
import { loadLoraAdapter, saveLoraAdapter, saveMergedModel } from "./lora-peft.js";
import { type Completion, type GenerateOptions, type GenerationTokenizer, generate } from "./sampler.js";
import { CausalLM, type ModelLoadOptions, readModelDir } from "./transformer.js";

export { loadTokenizer } from "./tokenizer.js";

/** Options of loadModel: the same as CausalLM.load's. */
export type LoadModelOptions = ModelLoadOptions;

export interface LogitsOptions {
  /** [B][S], 1 = real token, 0 = padding (left padding). */
  attentionMask?: number[][];
  /** [B][S]; default 0..S-1 for every row (pass cumsum(mask) - 1 with left padding). */
  positionIds?: number[][];
}

export interface LogitsResult {
  /** [B, S, vocab]. */
  shape: number[];
  /** Row-major float32 logits. */
  data: Float32Array;
}

function rectangular(name: string, rows: number[][], width?: number): number {
  if (!Array.isArray(rows) || rows.length === 0)
    throw new Error(`logits: ${name} must be a non-empty array of rows`);
  const w = width ?? rows[0]?.length ?? 0;
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== w)
      throw new Error(
        `logits: ${name} row ${i} has ${Array.isArray(row) ? row.length : "no"} entries, expected ${w} (pad rows on the left and pass attentionMask)`,
      );
    row.forEach((v, j) => {
      if (!Number.isInteger(v)) throw new Error(`logits: ${name}[${i}][${j}] = ${v} is not an integer`);
    });
  });
  return w;
}

export class Model extends CausalLM {
  /** Logits for every position of a batch of equally long (left-padded) token id rows. */
  async logits(inputIds: number[][], options: LogitsOptions = {}): Promise<LogitsResult> {
    const width = rectangular("inputIds", inputIds);
    if (width === 0) throw new Error("logits: inputIds rows are empty");
    for (const row of inputIds)
      for (const id of row)
        if (id < 0 || id >= this.config.vocabSize)
          throw new Error(`logits: token id ${id} is outside the vocabulary [0, ${this.config.vocabSize})`);
    if (options.attentionMask) {
      if (options.attentionMask.length !== inputIds.length)
        throw new Error(
          `logits: attentionMask has ${options.attentionMask.length} rows, inputIds has ${inputIds.length}`,
        );
      rectangular("attentionMask", options.attentionMask, width);
    }
    if (options.positionIds) {
      if (options.positionIds.length !== inputIds.length)
        throw new Error(
          `logits: positionIds has ${options.positionIds.length} rows, inputIds has ${inputIds.length}`,
        );
      rectangular("positionIds", options.positionIds, width);
    }
    return scope(() =>
      noGrad(() => {
        const ids = tensor(inputIds, { dtype: "int64", device: this.device });
        const attentionMask = options.attentionMask
          ? tensor(options.attentionMask, { dtype: "int64", device: this.device })
          : undefined;
        const positionIds = options.positionIds
          ? tensor(options.positionIds, { dtype: "int64", device: this.device })
          : undefined;
        const logits = this.forward(ids, { attentionMask, positionIds });
        return { shape: [...logits.shape], data: logits.toFloat32Array() };
      }),
    );
  }

  /**
   * Samples completions of token-id prompts with a KV cache (the sampler, sampler.ts). The
   * tokenizer is needed for stop strings and texts.
   */
  generate(
    prompts: readonly (readonly number[])[],
    options: GenerateOptions,
    tokenizer: GenerationTokenizer | null = null,
  ): Completion[] {
    return generate(this, tokenizer, prompts, options);
  }
}

/** Loads a local Hugging Face Qwen2/Llama directory (config.json + safetensors weights). */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  const { config, weights, dtype, device } = readModelDir(dir, options, "loadModel");
  const model = new Model(config, weights, dtype, device);
  model.sourceDir = dir;
  return model;
}

/** Loads a PEFT LoRA adapter directory onto the model (replacing any adapter it had). */
export function loadLora(model: CausalLM, dir: string): LoraAdapter {
  const adapter = loadLoraAdapter(model.config, dir, model.device);
  model.adapter?.dispose();
  model.adapter = adapter;
  return adapter;
}

/**
 * Puts a freshly initialised adapter on the model (PEFT init: A uniform in +-1/sqrt(in), B = 0, so
 * the model is unchanged until trained). Unset settings take PEFT's LoraConfig defaults.
 */
export function initLora(model: CausalLM, settings: Partial<LoraSettings> = {}): LoraAdapter {
  const full: LoraSettings = {
    ...DEFAULT_LORA_SETTINGS,
    baseModelNameOrPath: model.sourceDir,
    ...settings,
  };
  const adapter = LoraAdapter.init(model.config, full, model.device);
  model.adapter?.dispose();
  model.adapter = adapter;
  return adapter;
}

/** Saves the model's adapter as adapter_config.json + adapter_model.safetensors (PEFT format). */
export function saveLora(model: CausalLM, dir: string): void {
  if (!model.adapter) throw new Error("saveLora: the model has no LoRA adapter (loadLora or initLora first)");
  saveLoraAdapter(model.adapter, dir);
}

/** Writes a standalone model directory with the adapter merged into the weights. */
export function saveMerged(model: CausalLM, dir: string): void {
  if (!model.sourceDir)
    throw new Error("saveMerged: the model was not loaded from a directory (config.json unknown)");
  saveMergedModel(model.config, model.weights, model.adapter, model.sourceDir, dir);
}

/**
 * Runs a synchronous fn with the adapter switched off (the reference policy), restoring the switch
 * afterwards (for async work set `model.adapter.enabled` yourself).
 */
export function withAdapterDisabled<T>(model: CausalLM, fn: () => T): T {
  const adapter = model.adapter;
  if (!adapter) return fn();
  const was = adapter.enabled;
  adapter.enabled = false;
  try {
    return fn();
  } finally {
    adapter.enabled = was;
  }
}
