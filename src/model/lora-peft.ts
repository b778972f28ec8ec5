/**
 * LoRA adapters on disk in PEFT's format, so PEFT, vLLM and transformers can load what we train and
 * we can load what they trained:
 *
 *   adapter_config.json        r, lora_alpha, target_modules, lora_dropout, use_rslora, ...
 *   adapter_model.safetensors  base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight [r, in]
 *                              base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight [out, r]
 *
 * Also the merged export: a full model.safetensors with W + scale * B @ A in every adapted
 * projection, loadable without PEFT.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Device, DType } from "../engine/dtype.js";
import { fromFile, getDefaultDevice, keep, noGrad, scope } from "../engine/index.js";
import { openSafetensors, type SafetensorsWriteEntry, writeSafetensors } from "../engine/safetensors.js";
import type { SafetensorsDtype } from "../engine/safetensors-dtypes.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelConfig } from "./hf-config.js";
import {
  isLoraTarget,
  type LayerLora,
  LORA_TARGETS,
  LoraAdapter,
  type LoraSettings,
  loraModuleName,
  loraScale,
  peftKey,
  projectionShape,
  validateLoraSettings,
} from "./lora.js";
import {
  type DecoderLayerWeights,
  expectedTensors,
  type LinearWeights,
  type ModelWeights,
} from "./weights.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

export class LoraFormatError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "LoraFormatError";
  }
}

/** Parses PEFT's adapter_config.json; options we do not implement are errors naming the field. */
export function parseAdapterConfig(json: unknown, file = ADAPTER_CONFIG_FILE): LoraSettings {
  const fail = (msg: string): never => {
    throw new LoraFormatError(file, msg);
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("expected a JSON object");
  const raw = json as Record<string, unknown>;
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v))
      fail(`"${key}" must be a number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "boolean") fail(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  };
  const unsupported = (key: string, ok: (v: unknown) => boolean, what: string): void => {
    if (key in raw && !ok(raw[key]))
      fail(`"${key}" = ${JSON.stringify(raw[key])} is not supported (${what})`);
  };
  const isEmpty = (v: unknown) =>
    v === null || v === undefined || (typeof v === "object" && Object.keys(v as object).length === 0);

  if (raw.peft_type !== undefined && raw.peft_type !== "LORA")
    fail(`"peft_type" is ${JSON.stringify(raw.peft_type)}; only LORA adapters are supported`);
  unsupported("bias", (v) => v === "none", 'only "none"');
  unsupported("fan_in_fan_out", (v) => v === false, "only false: Qwen2/Llama projections are nn.Linear");
  unsupported("use_dora", (v) => v === false || v === null, "DoRA is not implemented");
  unsupported("lora_bias", (v) => v === false || v === null, "LoRA biases are not implemented");
  unsupported("modules_to_save", isEmpty, "only LoRA matrices, no fully trained modules");
  unsupported("rank_pattern", isEmpty, "one r for every module");
  unsupported("alpha_pattern", isEmpty, "one lora_alpha for every module");
  unsupported("layer_replication", isEmpty, "no layer replication");
  unsupported("target_parameters", isEmpty, "LoRA on nn.Linear modules only");
  unsupported("trainable_token_indices", isEmpty, "no trainable tokens");

  const tm = raw.target_modules;
  let targetModules: readonly string[] | string;
  if (typeof tm === "string") targetModules = tm;
  else if (Array.isArray(tm) && tm.every((t) => typeof t === "string")) targetModules = tm as string[];
  else
    targetModules = fail(
      `"target_modules" must be a list of module names or a regex string, got ${JSON.stringify(tm)}`,
    );

  const ltt = raw.layers_to_transform;
  let layersToTransform: number[] | null = null;
  if (typeof ltt === "number") layersToTransform = [ltt];
  else if (Array.isArray(ltt) && ltt.every((i) => Number.isInteger(i))) layersToTransform = ltt as number[];
  else if (ltt !== null && ltt !== undefined)
    fail(`"layers_to_transform" must be a layer index or a list of them`);

  const base = raw.base_model_name_or_path;
  const settings: LoraSettings = {
    r: num("r", 8),
    loraAlpha: num("lora_alpha", 8),
    targetModules,
    loraDropout: num("lora_dropout", 0),
    useRslora: flag("use_rslora", false),
    layersToTransform,
    baseModelNameOrPath: typeof base === "string" ? base : null,
  };
  try {
    validateLoraSettings(settings, file);
  } catch (error) {
    throw new LoraFormatError(file, (error as Error).message.replace(`${file}: `, ""));
  }
  return settings;
}

/**
 * adapter_config.json as PEFT 0.21 writes it for a LoRA on a causal LM: every key PEFT writes,
 * sorted, two-space indented. Keys for features we do not use carry PEFT's defaults.
 */
export function adapterConfigJson(settings: LoraSettings): Record<string, unknown> {
  const config: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: settings.baseModelNameOrPath,
    bias: "none",
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: settings.layersToTransform === null ? null : [...settings.layersToTransform],
    loftq_config: {},
    lora_alpha: settings.loraAlpha,
    lora_bias: false,
    lora_dropout: settings.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: null,
    monteclora_config: null,
    peft_type: "LORA",
    peft_version: "0.21.0",
    qalora_group_size: 16,
    r: settings.r,
    rank_pattern: {},
    revision: null,
    target_modules:
      typeof settings.targetModules === "string" ? settings.targetModules : [...settings.targetModules],
    target_parameters: null,
    task_type: "CAUSAL_LM",
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: settings.useRslora,
    velora_config: null,
  };
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new LoraFormatError(path, `cannot read: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LoraFormatError(path, `not valid JSON: ${(error as Error).message}`);
  }
}

const KEY_PATTERN = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$/;

/** Reads a PEFT adapter directory for a model of this config; tensors land on `device` as float32. */
export function loadLoraAdapter(
  config: ModelConfig,
  dir: string,
  device: Device = getDefaultDevice(),
): LoraAdapter {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(configPath))
    throw new LoraFormatError(dir, `no ${ADAPTER_CONFIG_FILE} in the adapter directory`);
  if (!existsSync(weightsPath))
    throw new LoraFormatError(
      dir,
      `no ${ADAPTER_WEIGHTS_FILE} in the adapter directory${existsSync(join(dir, "adapter_model.bin")) ? " (adapter_model.bin is a pickle; save with safe_serialization=True)" : ""}`,
    );
  const settings = parseAdapterConfig(readJson(configPath), configPath);
  const scale = loraScale(settings);
  const file = openSafetensors(weightsPath);
  const loaded: Tensor[] = [];
  try {
    const expected = new Set<string>();
    for (let i = 0; i < config.numHiddenLayers; i++)
      for (const target of LORA_TARGETS)
        if (isLoraTarget(settings, i, target)) {
          expected.add(peftKey(i, target, "A"));
          expected.add(peftKey(i, target, "B"));
        }
    for (const name of file.tensors.keys()) {
      if (expected.has(name)) continue;
      const m = KEY_PATTERN.exec(name);
      if (!m)
        throw new LoraFormatError(
          weightsPath,
          `unexpected tensor "${name}" (not a LoRA matrix of a decoder projection)`,
        );
      throw new LoraFormatError(
        weightsPath,
        `tensor "${name}" is not targeted by ${ADAPTER_CONFIG_FILE} (target_modules ${JSON.stringify(settings.targetModules)}, ${config.numHiddenLayers} layers)`,
      );
    }
    const read = (name: string, shape: number[]): Tensor => {
      const info = file.tensors.get(name);
      if (!info) throw new LoraFormatError(weightsPath, `missing tensor "${name}"`);
      if (info.shape.join(",") !== shape.join(","))
        throw new LoraFormatError(
          weightsPath,
          `tensor "${name}" has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}]`,
        );
      const dtype = ENGINE_DTYPE[info.dtype];
      if (!dtype)
        throw new LoraFormatError(
          weightsPath,
          `tensor "${name}" is ${info.dtype}; expected F32, BF16 or F16`,
        );
      const t = keep(fromFile(weightsPath, info.byteOffset, dtype, info.shape, { to: "float32", device }));
      loaded.push(t);
      // A NaN or infinite adapter (a diverged run) gives garbage without an error: refuse it.
      if (!t.allFinite())
        throw new LoraFormatError(weightsPath, `tensor "${name}" holds NaN or infinite values`);
      return t.setRequiresGrad(true);
    };
    const layers: LayerLora[] = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const layer: LayerLora = {};
      for (const target of LORA_TARGETS) {
        if (!isLoraTarget(settings, i, target)) continue;
        const shape = projectionShape(config, target);
        layer[target] = {
          a: read(peftKey(i, target, "A"), [settings.r, shape.in]),
          b: read(peftKey(i, target, "B"), [shape.out, settings.r]),
          scale,
          dropout: settings.loraDropout,
        };
      }
      layers.push(layer);
    }
    return new LoraAdapter(settings, layers);
  } catch (error) {
    for (const t of loaded) t.dispose();
    throw error;
  } finally {
    file.close();
  }
}

const ENGINE_DTYPE: Partial<Record<SafetensorsDtype, DType>> = {
  F32: "float32",
  BF16: "bfloat16",
  F16: "float16",
};
const SAFETENSORS_DTYPE: Partial<Record<DType, SafetensorsDtype>> = {
  float32: "F32",
  bfloat16: "BF16",
  float16: "F16",
  float64: "F64",
};

function entry(name: string, t: Tensor): SafetensorsWriteEntry {
  const dtype = SAFETENSORS_DTYPE[t.dtype];
  if (!dtype) throw new Error(`cannot save tensor "${name}" of dtype ${t.dtype}`);
  return { name, dtype, shape: t.shape, data: () => t.toBytes() };
}

/** Writes adapter_config.json and adapter_model.safetensors (float32, PEFT key names) into dir. */
export function saveLoraAdapter(adapter: LoraAdapter, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const entries = adapter.parameters().map((p) => entry(p.name, p.tensor));
  writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), entries, { format: "pt" });
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const temp = `${configPath}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(adapterConfigJson(adapter.settings), null, 2)}\n`);
  renameSync(temp, configPath);
}

const PROJECTIONS: [keyof DecoderLayerWeights, (typeof LORA_TARGETS)[number]][] = [
  ["qProj", "q_proj"],
  ["kProj", "k_proj"],
  ["vProj", "v_proj"],
  ["oProj", "o_proj"],
  ["gateProj", "gate_proj"],
  ["upProj", "up_proj"],
  ["downProj", "down_proj"],
];

/** Files copied next to a merged model when the source directory has them. */
const SIDE_FILES = [
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
];

/**
 * Writes a standalone Hugging Face model directory with the adapter merged into the weights:
 * W' = W + scale * B @ A (computed in float32, stored in the base dtype). config.json (and the
 * tokenizer files) are copied from `sourceDir`, the directory the base model was loaded from.
 */
export function saveMergedModel(
  config: ModelConfig,
  weights: ModelWeights,
  adapter: LoraAdapter | null,
  sourceDir: string,
  outDir: string,
): void {
  mkdirSync(outDir, { recursive: true });
  const byName = new Map<string, Tensor | LinearWeights["weight"]>();
  byName.set("model.embed_tokens.weight", weights.embedTokens);
  byName.set("model.norm.weight", weights.norm);
  if (!config.tieWordEmbeddings) byName.set("lm_head.weight", weights.lmHead);
  const merged = new Map<string, { w: Tensor; layer: number; target: (typeof LORA_TARGETS)[number] }>();
  weights.layers.forEach((layer, i) => {
    byName.set(`model.layers.${i}.input_layernorm.weight`, layer.inputLayernorm);
    byName.set(`model.layers.${i}.post_attention_layernorm.weight`, layer.postAttentionLayernorm);
    for (const [field, target] of PROJECTIONS) {
      const lin = layer[field] as LinearWeights;
      const name = loraModuleName(i, target);
      if (adapter?.layers[i]?.[target]) merged.set(`${name}.weight`, { w: lin.weight, layer: i, target });
      else byName.set(`${name}.weight`, lin.weight);
      if (lin.bias) byName.set(`${name}.bias`, lin.bias);
    }
  });
  const shapes = expectedTensors(config);
  const entries: SafetensorsWriteEntry[] = [];
  for (const name of shapes.keys()) {
    const plain = byName.get(name);
    if (plain) {
      entries.push(entry(name, plain));
      continue;
    }
    const m = merged.get(name);
    if (!m) throw new Error(`saveMergedModel: no weight for "${name}"`);
    const pair = adapter?.layers[m.layer]?.[m.target];
    if (!pair) throw new Error(`saveMergedModel: lost the adapter of "${name}"`);
    const base = entry(name, m.w);
    entries.push({
      ...base,
      data: () =>
        scope(() =>
          noGrad(() => m.w.float().add(pair.b.matmul(pair.a).mul(pair.scale)).to(m.w.dtype).toBytes()),
        ),
    });
  }
  writeSafetensors(join(outDir, "model.safetensors"), entries, { format: "pt" });

  const rawConfig = readJson(join(sourceDir, "config.json")) as Record<string, unknown>;
  const dtype = weights.embedTokens.dtype;
  if ("torch_dtype" in rawConfig) rawConfig.torch_dtype = dtype;
  if ("dtype" in rawConfig || !("torch_dtype" in rawConfig)) rawConfig.dtype = dtype;
  writeFileSync(join(outDir, "config.json"), `${JSON.stringify(rawConfig, null, 2)}\n`);
  for (const f of SIDE_FILES)
    if (existsSync(join(sourceDir, f))) copyFileSync(join(sourceDir, f), join(outDir, f));
}
