/**
 * The LoRA adapter that `mergeAdapter` folds into a base checkpoint: its settings, checked for
 * what a merge can represent, and its A/B matrices, checked against the base model's shapes.
 *
 * A merge writes W' = W + scale * B A once and for all, so anything whose update is not that
 * product (DoRA's magnitude vector, activated LoRA's token-dependent switch, ...) cannot be merged
 * and is refused by name. The loader's own checks (parseAdapterConfig) run first; the ones here are
 * the extra ones a merge needs.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DType } from "../engine/dtype.js";
import { fromFile, keep } from "../engine/index.js";
import { openSafetensors } from "../engine/safetensors.js";
import type { SafetensorsDtype } from "../engine/safetensors-dtypes.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelConfig } from "./hf-config.js";
import {
  isLoraTarget,
  LORA_TARGETS,
  type LoraSettings,
  type LoraTarget,
  loraModuleName,
  loraScale,
  peftKey,
  projectionShape,
} from "./lora.js";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  LoraFormatError,
  parseAdapterConfig,
} from "./lora-peft.js";

/** The adapter of one projection, float32 on the CPU: delta = scale * b @ a, [out, in]. */
export interface MergePair {
  a: Tensor;
  b: Tensor;
}

export interface AdapterForMerge {
  settings: LoraSettings;
  /** lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora (PEFT's scaling). */
  scale: number;
  /** By module name (`model.layers.0.self_attn.q_proj`), only the adapted projections. */
  pairs: Map<string, MergePair>;
  /** Things the caller should tell the user (settings accepted with a caveat). */
  notes: string[];
  dispose(): void;
}

/**
 * PEFT options naming LoRA variants whose update is not scale * B A (or not the same for every
 * token). The loader does not check these; a merge must not silently write the wrong weights.
 */
const VARIANT_KEYS = [
  "use_qalora",
  "use_bdlora",
  "alora_invocation_tokens",
  "arrow_config",
  "kasa_config",
  "velora_config",
  "monteclora_config",
];

/**
 * Initialisations that also rewrite the base weights (W - B0 A0 and the like): the saved adapter
 * then only fits that rewritten base, unless PEFT converted it into a plain LoRA at save time
 * (which writes init_lora_weights = true).
 */
const BASE_CHANGING_INITS = ["pissa", "olora", "corda", "loftq", "lora_ga"];

function isUnset(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    value === false ||
    (typeof value === "object" && Object.keys(value as object).length === 0)
  );
}

/** The adapter's settings for a merge; `raw` is adapter_config.json, `file` its path. */
export function mergeSettings(raw: unknown, file: string): { settings: LoraSettings; notes: string[] } {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new LoraFormatError(file, "expected a JSON object");
  const json = { ...(raw as Record<string, unknown>) };
  const notes: string[] = [];
  if (json.use_dora === true)
    throw new LoraFormatError(
      file,
      '"use_dora" = true: DoRA rescales each output row by a learned magnitude, which this export (and the loader) does not implement; merge it with PEFT\'s merge_and_unload instead',
    );
  for (const key of VARIANT_KEYS)
    if (!isUnset(json[key]))
      throw new LoraFormatError(
        file,
        `"${key}" = ${JSON.stringify(json[key])}: a LoRA variant whose update is not scale * B A; only plain LoRA can be merged here`,
      );
  const init = json.init_lora_weights;
  if (typeof init === "string" && BASE_CHANGING_INITS.some((name) => init.toLowerCase().startsWith(name)))
    throw new LoraFormatError(
      file,
      `"init_lora_weights" = ${JSON.stringify(init)}: this initialisation also changed the base weights, so the adapter does not fit the original base; save it converted to a plain LoRA (PEFT's path_initial_model_for_weight_conversion) and export that`,
    );
  // PEFT itself turns fan_in_fan_out off on nn.Linear layers (it warns and sets it to false):
  // the flag is for GPT-2's Conv1D, whose weights are stored [in, out]. Qwen2/Llama projections
  // are nn.Linear with [out, in] weights, so B A is added as it is, exactly as PEFT would merge it.
  if (json.fan_in_fan_out === true) {
    notes.push(
      "adapter_config.json sets fan_in_fan_out = true; as in PEFT it has no effect on nn.Linear projections (their weights are [out, in]), so B A was added untransposed",
    );
    json.fan_in_fan_out = false;
  }
  return { settings: parseAdapterConfig(json, file), notes };
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LoraFormatError(path, `cannot read it as JSON: ${(error as Error).message}`);
  }
}

const ADAPTER_KEY = /^base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_[AB]\.weight$/;

const READABLE: Partial<Record<SafetensorsDtype, DType>> = {
  F32: "float32",
  BF16: "bfloat16",
  F16: "float16",
  F64: "float64",
};

/**
 * Reads the adapter in `dir` for a merge into a model of `config` (`modelDir` names it in errors).
 * Every matrix is checked against the shape the base projection implies before anything is
 * written, so an adapter trained on another model is refused up front.
 */
export function readAdapterForMerge(dir: string, config: ModelConfig, modelDir: string): AdapterForMerge {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(configPath))
    throw new LoraFormatError(dir, `no ${ADAPTER_CONFIG_FILE}: --adapter must be a PEFT adapter directory`);
  if (!existsSync(weightsPath))
    throw new LoraFormatError(
      dir,
      `no ${ADAPTER_WEIGHTS_FILE}${existsSync(join(dir, "adapter_model.bin")) ? " (adapter_model.bin is a pickle, which is not read; save with safe_serialization=True)" : ""}`,
    );
  const { settings, notes } = mergeSettings(readJsonFile(configPath), configPath);
  const scale = loraScale(settings);
  const trainedOn = settings.baseModelNameOrPath
    ? ` (it names ${settings.baseModelNameOrPath} as its base)`
    : "";
  const misfit = `the adapter does not fit the base model in ${modelDir}${trainedOn}`;
  const file = openSafetensors(weightsPath);
  const loaded: Tensor[] = [];
  try {
    const wanted = new Map<string, { layer: number; target: LoraTarget; matrix: "A" | "B" }>();
    for (let layer = 0; layer < config.numHiddenLayers; layer++)
      for (const target of LORA_TARGETS)
        if (isLoraTarget(settings, layer, target))
          for (const matrix of ["A", "B"] as const)
            wanted.set(peftKey(layer, target, matrix), { layer, target, matrix });
    for (const name of file.tensors.keys()) {
      if (wanted.has(name)) continue;
      const m = ADAPTER_KEY.exec(name);
      if (m && Number(m[1]) >= config.numHiddenLayers)
        throw new LoraFormatError(
          weightsPath,
          `tensor "${name}" adapts layer ${m[1]}, but the base model has ${config.numHiddenLayers} layers: ${misfit}`,
        );
      throw new LoraFormatError(
        weightsPath,
        m
          ? `tensor "${name}" is not targeted by ${ADAPTER_CONFIG_FILE} (target_modules ${JSON.stringify(settings.targetModules)})`
          : `unexpected tensor "${name}" (not a LoRA matrix of a decoder projection)`,
      );
    }
    const read = (name: string, shape: number[], module: string, base: number[]): Tensor => {
      const info = file.tensors.get(name);
      if (!info)
        throw new LoraFormatError(
          weightsPath,
          `missing tensor "${name}" (${ADAPTER_CONFIG_FILE} targets ${module})`,
        );
      if (info.shape.join(",") !== shape.join(","))
        throw new LoraFormatError(
          weightsPath,
          `tensor "${name}" is [${info.shape.join(", ")}], but with r = ${settings.r} the base model's ${module} ([${base.join(", ")}]) needs [${shape.join(", ")}]: ${misfit}`,
        );
      const dtype = READABLE[info.dtype];
      if (!dtype)
        throw new LoraFormatError(
          weightsPath,
          `tensor "${name}" is ${info.dtype}; expected F32, BF16 or F16`,
        );
      const t = keep(
        fromFile(weightsPath, info.byteOffset, dtype, info.shape, { to: "float32", device: "cpu" }),
      );
      loaded.push(t);
      if (!t.allFinite())
        throw new LoraFormatError(weightsPath, `tensor "${name}" holds NaN or infinite values`);
      return t;
    };
    const pairs = new Map<string, MergePair>();
    for (let layer = 0; layer < config.numHiddenLayers; layer++)
      for (const target of LORA_TARGETS) {
        if (!isLoraTarget(settings, layer, target)) continue;
        const module = loraModuleName(layer, target);
        const { out, in: inDim } = projectionShape(config, target);
        pairs.set(module, {
          a: read(peftKey(layer, target, "A"), [settings.r, inDim], module, [out, inDim]),
          b: read(peftKey(layer, target, "B"), [out, settings.r], module, [out, inDim]),
        });
      }
    if (pairs.size === 0)
      throw new LoraFormatError(
        configPath,
        `targets no projection of the base model's ${config.numHiddenLayers} layers`,
      );
    return {
      settings,
      scale,
      pairs,
      notes,
      dispose: () => {
        for (const t of loaded) t.dispose();
      },
    };
  } catch (error) {
    for (const t of loaded) t.dispose();
    throw error;
  } finally {
    file.close();
  }
}
