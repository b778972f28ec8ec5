/**
 * LoRA adapters on the linear projections of the decoder, with PEFT's maths and names.
 *
 * A targeted projection y = x W^T + b becomes
 *
 *   y = x W^T + b + scale * dropout(x) A^T B^T,   A [r, in], B [out, r]
 *   scale = lora_alpha / r   (lora_alpha / sqrt(r) with use_rslora)
 *
 * Only A and B are trained. They are float32 leaves even when the base weights are bf16: as PEFT
 * does, the input is cast to float32 for the adapter path, the float32 update is added to the base
 * output and the sum is cast back to the base dtype (so the update is not rounded to bf16 before
 * it is added). Dropout is applied only while the model is in training mode.
 *
 * Parameter names are the keys PEFT writes in adapter_model.safetensors, e.g.
 * `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
 *
 * Switching the adapter off (`adapter.enabled = false`) gives the base model back without touching
 * any tensor: that is the GRPO reference policy.
 */
import type { Device } from "../engine/dtype.js";
import {
  cat,
  getDefaultDevice,
  isGradEnabled,
  keep,
  loraEpilogue,
  noGrad,
  rand,
  scope,
  smallLoraLinear,
  zeros,
} from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelConfig } from "./hf-config.js";
import type { LinearWeights } from "./weights.js";

/** The projections of a Qwen2/Llama decoder layer that can carry a LoRA adapter. */
export const LORA_TARGETS = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "gate_proj",
  "up_proj",
  "down_proj",
] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraSettings {
  r: number;
  loraAlpha: number;
  /** Module names (matched as the last name component, as PEFT does), "all-linear", or a regex over full module names. */
  targetModules: readonly string[] | string;
  loraDropout: number;
  useRslora: boolean;
  /** Only these layer indices get adapters (PEFT's layers_to_transform); null = all. */
  layersToTransform: readonly number[] | null;
  baseModelNameOrPath: string | null;
}

export const DEFAULT_LORA_SETTINGS: LoraSettings = {
  r: 8,
  loraAlpha: 8,
  targetModules: ["q_proj", "v_proj"],
  loraDropout: 0,
  useRslora: false,
  layersToTransform: null,
  baseModelNameOrPath: null,
};

/** One adapted projection: the trainable pair and how its update is scaled. */
export interface LoraPair {
  /** [r, in], float32, requires grad. */
  a: Tensor;
  /** [out, r], float32, requires grad. */
  b: Tensor;
  scale: number;
  dropout: number;
}

export type LayerLora = Partial<Record<LoraTarget, LoraPair>>;

export function loraScale(settings: Pick<LoraSettings, "r" | "loraAlpha" | "useRslora">): number {
  return settings.useRslora ? settings.loraAlpha / Math.sqrt(settings.r) : settings.loraAlpha / settings.r;
}

/** The module path inside the base model, as transformers names it. */
export function loraModuleName(layer: number, target: LoraTarget): string {
  const block =
    target === "gate_proj" || target === "up_proj" || target === "down_proj" ? "mlp" : "self_attn";
  return `model.layers.${layer}.${block}.${target}`;
}

/** The key PEFT writes for a LoRA matrix in adapter_model.safetensors. */
export function peftKey(layer: number, target: LoraTarget, matrix: "A" | "B"): string {
  return `base_model.model.${loraModuleName(layer, target)}.lora_${matrix}.weight`;
}

/** Whether PEFT would put an adapter on this projection for these settings. */
export function isLoraTarget(settings: LoraSettings, layer: number, target: LoraTarget): boolean {
  if (settings.layersToTransform !== null && !settings.layersToTransform.includes(layer)) return false;
  const name = loraModuleName(layer, target);
  const tm = settings.targetModules;
  if (typeof tm === "string") {
    if (tm === "all-linear") return true;
    return new RegExp(`^(?:${tm})$`).test(name);
  }
  return tm.some((t) => name === t || name.endsWith(`.${t}`));
}

/** [out, in] of a projection for this config. */
export function projectionShape(config: ModelConfig, target: LoraTarget): { out: number; in: number } {
  const h = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const m = config.intermediateSize;
  switch (target) {
    case "q_proj":
      return { out: q, in: h };
    case "k_proj":
    case "v_proj":
      return { out: kv, in: h };
    case "o_proj":
      return { out: h, in: q };
    case "gate_proj":
    case "up_proj":
      return { out: m, in: h };
    case "down_proj":
      return { out: h, in: m };
  }
}

export function validateLoraSettings(settings: LoraSettings, where = "LoRA settings"): void {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (!Number.isInteger(settings.r) || settings.r < 1)
    fail(`r must be a positive integer, got ${settings.r}`);
  if (!(Number.isFinite(settings.loraAlpha) && settings.loraAlpha > 0))
    fail(`lora_alpha must be a positive number, got ${settings.loraAlpha}`);
  if (!(settings.loraDropout >= 0 && settings.loraDropout < 1))
    fail(`lora_dropout must be in [0, 1), got ${settings.loraDropout}`);
  const tm = settings.targetModules;
  if (typeof tm !== "string") {
    if (tm.length === 0) fail("target_modules is empty");
    for (const t of tm)
      if (!LORA_TARGETS.some((name) => name === t || t.endsWith(`.${name}`)))
        fail(`target module "${t}" is not a decoder projection; supported: ${LORA_TARGETS.join(", ")}`);
  } else if (tm !== "all-linear") {
    try {
      new RegExp(tm);
    } catch (error) {
      fail(`target_modules regex ${JSON.stringify(tm)} is invalid: ${(error as Error).message}`);
    }
  }
}

/**
 * Tensors derived from adapter weights for inference (fused-projections.ts), keyed by the first
 * pair they use: rebuilt when one of the pairs' tensors changed since (their version counters,
 * which an optimizer step increases), freed with the adapter.
 */
const derived = new WeakMap<LoraPair, Map<string, { versions: number[]; tensor: Tensor }>>();

export function derivedFromPairs(pairs: readonly LoraPair[], name: string, build: () => Tensor): Tensor {
  const key = pairs[0] as LoraPair;
  const versions = pairs.flatMap((p) => [p.a.version, p.b.version]);
  let entries = derived.get(key);
  if (!entries) {
    entries = new Map();
    derived.set(key, entries);
  }
  const cached = entries.get(name);
  if (
    cached &&
    cached.versions.length === versions.length &&
    cached.versions.every((v, i) => v === versions[i])
  )
    return cached.tensor;
  cached?.tensor.dispose();
  const tensor = keep(scope(() => noGrad(build)));
  entries.set(name, { versions, tensor });
  return tensor;
}

function forgetDerived(pair: LoraPair): void {
  for (const entry of derived.get(pair)?.values() ?? []) entry.tensor.dispose();
  derived.delete(pair);
}

/** The LoRA matrices of every adapted projection, plus the on/off switch. */
export class LoraAdapter {
  /** false: every forward ignores the adapter (the reference policy). */
  enabled = true;

  constructor(
    readonly settings: LoraSettings,
    readonly layers: LayerLora[],
  ) {}

  /**
   * PEFT's default initialisation: A ~ kaiming_uniform(a = sqrt(5)), which is U(-1/sqrt(in),
   * 1/sqrt(in)), and B = 0, so a fresh adapter leaves the model unchanged. Uses the engine's
   * global generator (seed it with manualSeed for reproducible runs).
   */
  static init(config: ModelConfig, settings: LoraSettings, device: Device = getDefaultDevice()): LoraAdapter {
    validateLoraSettings(settings);
    const scale = loraScale(settings);
    const layers: LayerLora[] = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const layer: LayerLora = {};
      for (const target of LORA_TARGETS) {
        if (!isLoraTarget(settings, i, target)) continue;
        const shape = projectionShape(config, target);
        const bound = 1 / Math.sqrt(shape.in);
        const pair = keep(
          scope(() =>
            noGrad(() => ({
              a: rand([settings.r, shape.in], { device })
                .mul(2 * bound)
                .sub(bound),
              b: zeros([shape.out, settings.r], { device }),
            })),
          ),
        );
        pair.a.setRequiresGrad(true);
        pair.b.setRequiresGrad(true);
        layer[target] = { ...pair, scale, dropout: settings.loraDropout };
      }
      layers.push(layer);
    }
    return new LoraAdapter(settings, layers);
  }

  /** The adapter of one layer, or null when switched off. */
  layer(index: number): LayerLora | null {
    return this.enabled ? (this.layers[index] ?? null) : null;
  }

  /** Every trainable tensor with its PEFT key, in layer then projection order. */
  parameters(): { name: string; tensor: Tensor }[] {
    const out: { name: string; tensor: Tensor }[] = [];
    this.layers.forEach((layer, i) => {
      for (const target of LORA_TARGETS) {
        const pair = layer[target];
        if (!pair) continue;
        out.push({ name: peftKey(i, target, "A"), tensor: pair.a });
        out.push({ name: peftKey(i, target, "B"), tensor: pair.b });
      }
    });
    return out;
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.tensor.numel, 0);
  }

  dispose(): void {
    for (const layer of this.layers) for (const pair of Object.values(layer)) forgetDerived(pair);
    for (const p of this.parameters()) p.tensor.dispose();
  }
}

/** A linear projection with its optional LoRA update (see the file header for the maths). */
export function loraLinear(
  x: Tensor,
  w: LinearWeights,
  lora: LoraPair | undefined,
  training: boolean,
): Tensor {
  return loraLinears(x, [w], [lora], training)[0] as Tensor;
}

/**
 * Several projections of one input (q/k/v, gate/up), each with its optional LoRA update. The
 * input is cast to the adapters' dtype once for all of them, and each update is added inside the
 * BLAS call that makes it (addmm: base + scale * (x A^T) B^T), so no [tokens, out] float32 update
 * is written, scaled and added as separate passes. The same sums as PEFT's
 * `base + lora_B(lora_A(x)) * scale`, cast back to the base dtype, up to one rounding step (BLAS
 * may fuse the scaling into its accumulation; OpenBLAS's generic kernels give the separate
 * operations' bits exactly): test/model-lora.test.ts.
 */
export function loraLinears(
  x: Tensor,
  weights: readonly LinearWeights[],
  loras: readonly (LoraPair | undefined)[],
  training: boolean,
): Tensor[] {
  let adapterInput: Tensor | null = null;
  return weights.map((w, i) => {
    const lora = loras[i];
    const decoded = lora && !training && !isGradEnabled() ? decodeLoraLinear(x, w, [lora]) : null;
    if (decoded) return decoded;
    const base = x.linear(w.weight, w.bias);
    if (!lora) return base;
    adapterInput ??= x.dtype === lora.a.dtype ? x : x.to(lora.a.dtype);
    return withLoraUpdate(base, adapterInput, lora, training);
  });
}

/**
 * base + scale * dropout(input) A^T B^T in base's dtype, summed in the adapter's dtype as PEFT
 * does: for a bf16 base on an AVX-512 CPU one fused pass with autograd (engine loraEpilogue),
 * elsewhere a cast of base, one addmm and a cast back. `input` is the projection's input in the
 * adapter's dtype; `down`, when given, is input A^T already computed ([tokens, r]).
 */
export function withLoraUpdate(
  base: Tensor,
  input: Tensor,
  lora: LoraPair,
  training: boolean,
  down?: Tensor,
): Tensor {
  const rows = base.reshape(-1, base.size(-1));
  const projected = down ?? loraDown(input, lora, training);
  const fused = loraEpilogue(rows, projected, lora.b, lora.scale);
  if (fused) return fused.view(...base.shape);
  const start = rows.dtype === lora.a.dtype ? rows : rows.to(lora.a.dtype);
  const sum = start.addmm(projected, lora.b.transpose(0, 1), { alpha: lora.scale });
  return (sum.dtype === base.dtype ? sum : sum.to(base.dtype)).view(...base.shape);
}

/** dropout(input) A^T as [tokens, r]. */
function loraDown(input: Tensor, lora: LoraPair, training: boolean): Tensor {
  const dropped = training && lora.dropout > 0 ? input.dropout(lora.dropout, true) : input;
  return dropped.linear(lora.a).reshape(-1, lora.a.size(0));
}

/**
 * A decode step's projection (a few bf16 rows on a CPU with AVX-512 BF16) with its parts' alike
 * adapters, as one engine kernel that reads the weights once and folds the update in
 * (engine/small-linear.ts): PEFT's sums, float32 accumulation, in another summation order than
 * the separate operators. null where the kernel does not apply.
 */
export function decodeLoraLinear(x: Tensor, w: LinearWeights, loras: readonly LoraPair[]): Tensor | null {
  const first = loras[0];
  if (!first || x.dtype !== "bfloat16" || x.device !== "cpu") return null;
  const a =
    loras.length === 1
      ? first.a
      : derivedFromPairs(loras, "down", () =>
          cat(
            loras.map((l) => l.a),
            0,
          ),
        );
  const b =
    loras.length === 1
      ? first.b
      : derivedFromPairs(loras, "upRows", () =>
          cat(
            loras.map((l) => l.b),
            0,
          ),
        );
  const sizes = loras.map((l) => l.b.size(0));
  return smallLoraLinear(x, w.weight, w.bias, a, b, sizes, first.scale);
}
