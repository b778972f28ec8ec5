/**
 * A Hugging Face `config.json` for a Qwen2 or Llama causal LM, parsed into the numbers our
 * transformer needs.
 *
 * Defaults follow transformers' Qwen2Config / LlamaConfig, so a config that leaves a key out means
 * here what it means there. The size keys (hidden_size, layers, heads, vocab) are required instead:
 * every saved checkpoint writes them, and silently falling back to a 7B default would only fail
 * later with a confusing weight-shape error. HF configs carry many keys we do not use; they are
 * ignored. Anything that would change the maths in a way we do not implement (another
 * architecture, a rope variant, sliding-window attention, another activation) is an error that
 * says what is supported.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const SUPPORTED_ARCHITECTURES = {
  qwen2: "Qwen2ForCausalLM",
  llama: "LlamaForCausalLM",
} as const;

export type ModelType = keyof typeof SUPPORTED_ARCHITECTURES;
export type ModelArchitecture = (typeof SUPPORTED_ARCHITECTURES)[ModelType];

export const SUPPORTED_ROPE_TYPES = ["default", "linear", "llama3"] as const;

/** How RoPE frequencies are scaled for long contexts (transformers' `rope_type`). */
export type RopeScaling =
  | { type: "default" }
  /** Positions are divided by `factor` (every frequency divided by it). */
  | { type: "linear"; factor: number }
  /** Llama 3.1+: low frequencies divided by `factor`, high ones kept, a smooth blend in between. */
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export type ConfigDtype = "float32" | "bfloat16" | "float16" | "float64";

export interface ModelConfig {
  architecture: ModelArchitecture;
  modelType: ModelType;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Grouped-query attention: each key/value head serves numAttentionHeads / numKeyValueHeads query heads. */
  numKeyValueHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  /** The LM head reuses the embedding matrix (no `lm_head.weight` in the checkpoint). */
  tieWordEmbeddings: boolean;
  /** Biases on q_proj, k_proj, v_proj (always for Qwen2; `attention_bias` for Llama). */
  qkvBias: boolean;
  /** Bias on o_proj (never for Qwen2; `attention_bias` for Llama). */
  oProjBias: boolean;
  /** Biases on gate/up/down projections (Llama's `mlp_bias`). */
  mlpBias: boolean;
  hiddenAct: "silu";
  /** The dtype the weights were saved in (`dtype`, or the older `torch_dtype`); null when unstated. */
  dtype: ConfigDtype | null;
  bosTokenId: number | null;
  /** Every end-of-sequence id (HF allows one id or a list). */
  eosTokenIds: number[];
  padTokenId: number | null;
}

const positiveInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();
const ropeDict = z
  .object({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    rope_theta: z.number().positive().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().positive().optional(),
    high_freq_factor: z.number().positive().optional(),
    original_max_position_embeddings: positiveInt.optional(),
    partial_rotary_factor: z.number().optional(),
  })
  .nullish();

/** The keys we read; every other key in config.json is allowed and ignored. */
const rawConfigSchema = z.object({
  model_type: z.string().optional(),
  architectures: z.array(z.string()).nullish(),
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  vocab_size: positiveInt,
  rms_norm_eps: z.number().positive().optional(),
  max_position_embeddings: positiveInt.optional(),
  rope_theta: z.number().positive().nullish(),
  rope_parameters: ropeDict,
  rope_scaling: ropeDict,
  partial_rotary_factor: z.number().nullish(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  hidden_act: z.string().optional(),
  dtype: z.string().nullish(),
  torch_dtype: z.string().nullish(),
  bos_token_id: tokenId.nullish(),
  eos_token_id: z
    .union([tokenId, z.array(tokenId)], { error: "expected a token id or a list of token ids" })
    .nullish(),
  pad_token_id: tokenId.nullish(),
  use_sliding_window: z.boolean().nullish(),
  layer_types: z.array(z.string()).nullish(),
});

type RawConfig = z.infer<typeof rawConfigSchema>;

/** transformers' per-model defaults for keys a config may omit. */
const DEFAULTS: Record<ModelType, { rmsNormEps: number; maxPositionEmbeddings: number; ropeTheta: number }> =
  {
    qwen2: { rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, ropeTheta: 10000 },
    llama: { rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, ropeTheta: 10000 },
  };

const DTYPE_NAMES: Record<string, ConfigDtype> = {
  float32: "float32",
  float: "float32",
  bfloat16: "bfloat16",
  float16: "float16",
  half: "float16",
  float64: "float64",
};

export class HfConfigError extends Error {
  constructor(source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = "HfConfigError";
  }
}

function supportedList(): string {
  return Object.entries(SUPPORTED_ARCHITECTURES)
    .map(([type, arch]) => `${arch} (model_type "${type}")`)
    .join(", ");
}

function resolveModelType(source: string, raw: RawConfig): ModelType {
  const supported = Object.keys(SUPPORTED_ARCHITECTURES) as ModelType[];
  let modelType = raw.model_type as ModelType | undefined;
  if (modelType === undefined) {
    // Older configs may omit model_type; the architecture name is then the only hint.
    const byArchitecture = supported.find((t) => raw.architectures?.includes(SUPPORTED_ARCHITECTURES[t]));
    if (!byArchitecture)
      throw new HfConfigError(
        source,
        `no "model_type" and no supported "architectures"; supported: ${supportedList()}`,
      );
    modelType = byArchitecture;
  }
  if (!supported.includes(modelType))
    throw new HfConfigError(source, `unsupported model_type "${modelType}"; supported: ${supportedList()}`);
  const wanted = SUPPORTED_ARCHITECTURES[modelType];
  if (raw.architectures && raw.architectures.length > 0 && !raw.architectures.includes(wanted))
    throw new HfConfigError(
      source,
      `unsupported architectures ${JSON.stringify(raw.architectures)}: only the causal LM head is supported; supported: ${supportedList()}`,
    );
  return modelType;
}

/**
 * RoPE settings from whichever place this config's transformers version wrote them:
 * transformers 5 writes `rope_parameters: {rope_type, rope_theta, ...}`; older versions write a
 * top-level `rope_theta` and an optional `rope_scaling: {rope_type | type, factor, ...}`.
 */
function resolveRope(
  source: string,
  raw: RawConfig,
  modelType: ModelType,
): { theta: number; scaling: RopeScaling } {
  const params = raw.rope_parameters ?? raw.rope_scaling ?? {};
  const where = raw.rope_parameters ? "rope_parameters" : "rope_scaling";
  const thetas = [params.rope_theta, raw.rope_theta ?? undefined].filter((t): t is number => t !== undefined);
  if (thetas.length === 2 && thetas[0] !== thetas[1])
    throw new HfConfigError(
      source,
      `${where}.rope_theta (${thetas[0]}) and rope_theta (${thetas[1]}) disagree; keep one`,
    );
  const theta = thetas[0] ?? DEFAULTS[modelType].ropeTheta;
  const partial = params.partial_rotary_factor ?? raw.partial_rotary_factor ?? 1;
  if (partial !== 1)
    throw new HfConfigError(
      source,
      `partial_rotary_factor ${partial} is not supported (only 1: rotate the whole head)`,
    );

  const type = params.rope_type ?? params.type ?? "default";
  const need = (
    key: "factor" | "low_freq_factor" | "high_freq_factor" | "original_max_position_embeddings",
  ) => {
    const value = params[key];
    if (value === undefined) throw new HfConfigError(source, `${where}: rope_type "${type}" needs "${key}"`);
    return value;
  };
  switch (type) {
    case "default":
      return { theta, scaling: { type: "default" } };
    case "linear":
      return { theta, scaling: { type: "linear", factor: need("factor") } };
    case "llama3": {
      const scaling: RopeScaling = {
        type: "llama3",
        factor: need("factor"),
        lowFreqFactor: need("low_freq_factor"),
        highFreqFactor: need("high_freq_factor"),
        originalMaxPositionEmbeddings: need("original_max_position_embeddings"),
      };
      if (scaling.highFreqFactor <= scaling.lowFreqFactor)
        throw new HfConfigError(source, `${where}: llama3 high_freq_factor must exceed low_freq_factor`);
      return { theta, scaling };
    }
    default:
      throw new HfConfigError(
        source,
        `${where}: unsupported rope_type "${type}"; supported: ${SUPPORTED_ROPE_TYPES.join(", ")}`,
      );
  }
}

function resolveDtype(source: string, raw: RawConfig): ConfigDtype | null {
  const name = raw.dtype ?? raw.torch_dtype;
  if (name === null || name === undefined || name === "auto") return null;
  const dtype = DTYPE_NAMES[name.replace(/^torch\./, "")];
  if (!dtype)
    throw new HfConfigError(
      source,
      `unsupported dtype "${name}"; supported: float32, bfloat16, float16, float64`,
    );
  return dtype;
}

function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
      const message = issue.message.replace(
        /^Invalid input: expected (\w+), received undefined$/,
        "required $1 is missing",
      );
      return `field "${path}": ${message}`;
    })
    .join("; ");
}

/** Validate a parsed config.json object. `source` names the file in error messages. */
export function parseHfConfig(json: unknown, source = "config.json"): ModelConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new HfConfigError(source, "expected a JSON object");
  // Check the architecture first: a Qwen3 or Mistral config should say "unsupported model_type",
  // not complain about some field we would never read.
  const head = z.object({ model_type: z.string().optional(), architectures: z.array(z.string()).nullish() });
  const headParse = head.safeParse(json);
  if (!headParse.success) throw new HfConfigError(source, formatZodIssues(headParse.error));
  resolveModelType(source, headParse.data as RawConfig);

  const parsed = rawConfigSchema.safeParse(json);
  if (!parsed.success) throw new HfConfigError(source, formatZodIssues(parsed.error));
  const raw = parsed.data;
  const modelType = resolveModelType(source, raw);

  const hiddenAct = raw.hidden_act ?? "silu";
  if (hiddenAct !== "silu")
    throw new HfConfigError(source, `unsupported hidden_act "${hiddenAct}"; supported: silu (SwiGLU MLP)`);
  if (raw.use_sliding_window)
    throw new HfConfigError(source, "use_sliding_window is true; sliding-window attention is not supported");
  const slidingLayers = (raw.layer_types ?? []).filter((t) => t !== "full_attention");
  if (slidingLayers.length > 0)
    throw new HfConfigError(
      source,
      `layer_types contains ${JSON.stringify(slidingLayers[0])}; only "full_attention" layers are supported`,
    );

  const heads = raw.num_attention_heads;
  const kvHeads = raw.num_key_value_heads ?? heads;
  if (heads % kvHeads !== 0)
    throw new HfConfigError(
      source,
      `num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads})`,
    );
  let headDim = raw.head_dim ?? undefined;
  if (headDim === undefined) {
    if (raw.hidden_size % heads !== 0)
      throw new HfConfigError(
        source,
        `hidden_size (${raw.hidden_size}) is not divisible by num_attention_heads (${heads}); set head_dim`,
      );
    headDim = raw.hidden_size / heads;
  }
  if (headDim % 2 !== 0)
    throw new HfConfigError(source, `head_dim ${headDim} must be even (RoPE rotates pairs of dimensions)`);

  const { theta, scaling } = resolveRope(source, raw, modelType);
  const eos = raw.eos_token_id;
  const isQwen = modelType === "qwen2";
  return {
    architecture: SUPPORTED_ARCHITECTURES[modelType],
    modelType,
    hiddenSize: raw.hidden_size,
    intermediateSize: raw.intermediate_size,
    numHiddenLayers: raw.num_hidden_layers,
    numAttentionHeads: heads,
    numKeyValueHeads: kvHeads,
    headDim,
    vocabSize: raw.vocab_size,
    rmsNormEps: raw.rms_norm_eps ?? DEFAULTS[modelType].rmsNormEps,
    maxPositionEmbeddings: raw.max_position_embeddings ?? DEFAULTS[modelType].maxPositionEmbeddings,
    ropeTheta: theta,
    ropeScaling: scaling,
    // Both Qwen2Config and LlamaConfig default to an untied head.
    tieWordEmbeddings: raw.tie_word_embeddings ?? false,
    // Qwen2 hard-codes q/k/v biases and no o_proj bias; Llama's attention_bias covers all four.
    qkvBias: isQwen ? true : (raw.attention_bias ?? false),
    oProjBias: isQwen ? false : (raw.attention_bias ?? false),
    mlpBias: isQwen ? false : (raw.mlp_bias ?? false),
    hiddenAct: "silu",
    dtype: resolveDtype(source, raw),
    bosTokenId: raw.bos_token_id ?? null,
    eosTokenIds: eos === null || eos === undefined ? [] : Array.isArray(eos) ? eos : [eos],
    padTokenId: raw.pad_token_id ?? null,
  };
}

/** Read and parse `config.json` from a model directory (or the path of the file itself). */
export function loadHfConfig(dirOrFile: string): ModelConfig {
  let path = dirOrFile;
  try {
    if (statSync(dirOrFile).isDirectory()) path = join(dirOrFile, "config.json");
  } catch {
    throw new HfConfigError(dirOrFile, "no such model directory or config file");
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new HfConfigError(path, `cannot read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HfConfigError(path, `not valid JSON: ${(error as Error).message}`);
  }
  return parseHfConfig(json, path);
}

/**
 * RoPE inverse frequencies, one per rotated pair: inv_freq[i] = 1 / theta^(2i / headDim), then
 * rescaled by the config's rope type. Computed with float32 rounding at each step, as transformers
 * computes them in float32, so angles match the reference to the last bit in practice.
 *
 * llama3 scaling works per wavelength (2 pi / inv_freq), measured against the original context:
 * wavelengths longer than original / low_freq_factor are slowed by `factor`, those shorter than
 * original / high_freq_factor are kept, and the band in between blends the two linearly in
 * original / wavelength.
 */
export function ropeInverseFrequencies(
  config: Pick<ModelConfig, "headDim" | "ropeTheta" | "ropeScaling">,
): Float32Array {
  const f = Math.fround;
  const { headDim, ropeTheta, ropeScaling } = config;
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = f(1 / f(f(ropeTheta) ** f((2 * i) / headDim)));
  if (ropeScaling.type === "linear") {
    for (let i = 0; i < half; i++) out[i] = f(out[i] / ropeScaling.factor);
  } else if (ropeScaling.type === "llama3") {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = ropeScaling;
    const lowFreqWavelength = original / lowFreqFactor;
    const highFreqWavelength = original / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const freq = out[i];
      const wavelength = (2 * Math.PI) / freq;
      if (wavelength > lowFreqWavelength) out[i] = f(freq / factor);
      else if (wavelength >= highFreqWavelength) {
        const smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        out[i] = f((1 - smooth) * (freq / factor) + smooth * freq);
      }
    }
  }
  return out;
}
