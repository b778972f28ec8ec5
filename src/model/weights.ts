/**
 * Loading a Hugging Face checkpoint's tensors into the engine: `model.safetensors`, or the shards
 * listed in `model.safetensors.index.json` (its `weight_map` says which file holds each tensor).
 *
 * Tensors are read one at a time straight from the file into libtorch (fromFile), converted to the
 * requested dtype and moved to the device on the way, so the checkpoint is never held twice in
 * memory. Every tensor's shape is checked against the config before it is used; a missing tensor
 * or a wrong shape is an error naming the tensor and the file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Device, DType } from "../engine/dtype.js";
import { fromFile, getDefaultDevice, keep, scope } from "../engine/index.js";
import { openSafetensors, type SafetensorsFile } from "../engine/safetensors.js";
import type { SafetensorsDtype } from "../engine/safetensors-dtypes.js";
import type { Tensor } from "../engine/tensor.js";
import type { FusedLayerProjections } from "./fused-projections.js";
import type { ModelConfig } from "./hf-config.js";

/** A linear layer's parameters as torch stores them: weight [out, in], optional bias [out]. */
export interface LinearWeights {
  weight: Tensor;
  bias: Tensor | null;
}

export interface DecoderLayerWeights {
  inputLayernorm: Tensor;
  qProj: LinearWeights;
  kProj: LinearWeights;
  vProj: LinearWeights;
  oProj: LinearWeights;
  postAttentionLayernorm: Tensor;
  gateProj: LinearWeights;
  upProj: LinearWeights;
  downProj: LinearWeights;
  /** q/k/v and gate/up fused into one matrix each (fused-projections.ts); the separate ones are views of them. */
  fused?: FusedLayerProjections;
}

export interface ModelWeights {
  embedTokens: Tensor;
  layers: DecoderLayerWeights[];
  norm: Tensor;
  /** The same Tensor object as embedTokens when the config ties them. */
  lmHead: Tensor;
}

export interface LoadWeightsOptions {
  device?: Device;
  /** Element type of the loaded weights (default: float32). */
  dtype?: DType;
  /**
   * Memory layout of the linear weights (q/k/v/o, gate/up/down and an untied LM head): "out-in"
   * (default) keeps the checkpoint's row-major [out, in]; "in-out" stores them input-major, for
   * frozen weights that are only read (see inputMajor). The model loaders choose "in-out" for
   * float32 on the CPU (defaultLinearLayout); weights that are themselves trained (SFT masters)
   * keep the default.
   */
  linearLayout?: LinearLayout;
  /**
   * With tied embeddings and the "in-out" layout: give the LM head its own input-major copy of the
   * embedding matrix (the lookup keeps the [vocab, hidden] rows). Faster decode for one more
   * vocab x hidden matrix in memory (545 MB in float32 for Qwen2.5-0.5B). Default false.
   */
  tiedHeadCopy?: boolean;
}

export type LinearLayout = "out-in" | "in-out";

/**
 * The same [out, in] weight, stored input-major: the values are copied into a row-major [in, out]
 * buffer and the [out, in] transposed view of it is returned. Every reader still sees an [out, in]
 * tensor with the same values (exports write it row-major, as HF expects), but the W^T that
 * x.linear(W) multiplies by is now a plain row-major matrix, so BLAS runs a non-transposed gemm.
 * On the 2-core AVX2 dev machine (libtorch 1.13, OpenBLAS, float32) that made decode-shaped
 * products ([2, in]) 5-33% faster and left prefill and backward within noise; the table is in
 * docs/model.md ("Weight layout"), the script in bench/linear-layout.ts.
 */
export function inputMajor(weight: Tensor): Tensor {
  if (weight.ndim !== 2) throw new Error(`inputMajor: expected a 2-d weight, got [${weight.shape}]`);
  return scope(() => weight.transpose(0, 1).contiguous().transpose(0, 1));
}

/** Whether a 2-d weight is stored input-major (the transposed view inputMajor returns). */
export function isInputMajor(weight: Tensor): boolean {
  const [s0, s1] = weight.strides as [number, number];
  // s1 > size(0): a view of part of an input-major matrix (a fused projection's part).
  return weight.ndim === 2 && s0 === 1 && s1 >= weight.size(0) && weight.size(0) > 1;
}

/**
 * Re-lays every linear weight of a loaded set out input-major (inputMajor), one tensor at a time,
 * freeing each old tensor as its copy is made (so memory peaks at one extra matrix). With
 * `tiedHeadCopy` and tied embeddings the head becomes its own input-major copy of the embedding.
 * Returns a new ModelWeights; the tensors of `weights` that were replaced are disposed.
 */
export function toInputMajorWeights(
  weights: ModelWeights,
  options: { tiedHeadCopy?: boolean } = {},
): ModelWeights {
  const move = (t: Tensor): Tensor => {
    const out = keep(inputMajor(t));
    t.dispose();
    return out;
  };
  const linear = (l: LinearWeights): LinearWeights => ({ weight: move(l.weight), bias: l.bias });
  const tied = weights.lmHead === weights.embedTokens;
  let lmHead = weights.lmHead;
  if (!tied) lmHead = move(weights.lmHead);
  else if (options.tiedHeadCopy) lmHead = keep(inputMajor(weights.embedTokens));
  return {
    embedTokens: weights.embedTokens,
    layers: weights.layers.map((l) => ({
      ...l,
      qProj: linear(l.qProj),
      kProj: linear(l.kProj),
      vProj: linear(l.vProj),
      oProj: linear(l.oProj),
      gateProj: linear(l.gateProj),
      upProj: linear(l.upProj),
      downProj: linear(l.downProj),
    })),
    norm: weights.norm,
    lmHead,
  };
}

export class WeightsError extends Error {
  constructor(
    readonly where: string,
    detail: string,
  ) {
    super(`${where}: ${detail}`);
    this.name = "WeightsError";
  }
}

const ENGINE_DTYPES: Partial<Record<SafetensorsDtype, DType>> = {
  F32: "float32",
  BF16: "bfloat16",
  F16: "float16",
  F64: "float64",
};

/** Which file holds each tensor name: one file, or the shards of an index. */
function weightMap(dir: string): { files: string[]; fileOf: (name: string) => string | undefined } {
  const single = join(dir, "model.safetensors");
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(single)) return { files: [single], fileOf: () => single };
  if (!existsSync(index))
    throw new WeightsError(
      dir,
      "no model.safetensors or model.safetensors.index.json in the model directory",
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(index, "utf8"));
  } catch (error) {
    throw new WeightsError(index, `cannot read the shard index: ${(error as Error).message}`);
  }
  const map = (json as { weight_map?: unknown }).weight_map;
  if (map === null || typeof map !== "object" || Array.isArray(map))
    throw new WeightsError(index, 'expected an object "weight_map" mapping tensor names to shard files');
  const entries = Object.entries(map as Record<string, unknown>);
  for (const [name, file] of entries)
    if (typeof file !== "string")
      throw new WeightsError(index, `weight_map["${name}"] must be a file name, got ${JSON.stringify(file)}`);
  const byName = new Map(entries.map(([name, file]) => [name, join(dir, file as string)]));
  return { files: [...new Set(byName.values())], fileOf: (name) => byName.get(name) };
}

/**
 * Opens the checkpoint's files lazily and reads single tensors with shape checks. Close it when
 * done (it holds file descriptors).
 */
export class CheckpointReader {
  private readonly open = new Map<string, SafetensorsFile>();
  private readonly map: ReturnType<typeof weightMap>;

  constructor(
    readonly dir: string,
    private readonly options: LoadWeightsOptions = {},
  ) {
    this.map = weightMap(dir);
  }

  private file(path: string): SafetensorsFile {
    let f = this.open.get(path);
    if (!f) {
      f = openSafetensors(path);
      this.open.set(path, f);
    }
    return f;
  }

  /** Every tensor name the checkpoint's files hold. */
  allNames(): string[] {
    return this.map.files.flatMap((path) => (existsSync(path) ? [...this.file(path).tensors.keys()] : []));
  }

  /** Whether the checkpoint has a tensor of this name. */
  has(name: string): boolean {
    const path = this.map.fileOf(name);
    return path !== undefined && existsSync(path) && this.file(path).tensors.has(name);
  }

  /** Reads one tensor, checking its shape, converted to the target dtype and device. */
  read(name: string, shape: readonly number[]): Tensor {
    const path = this.map.fileOf(name);
    const where = path ?? this.map.files.join(", ");
    if (path === undefined) throw new WeightsError(where, `missing tensor "${name}"`);
    const info = this.file(path).tensors.get(name);
    if (!info) throw new WeightsError(path, `missing tensor "${name}"`);
    const got = `[${info.shape.join(", ")}]`;
    const want = `[${shape.join(", ")}]`;
    if (got !== want)
      throw new WeightsError(path, `tensor "${name}" has shape ${got}, the config implies ${want}`);
    const dtype = ENGINE_DTYPES[info.dtype];
    if (dtype === undefined)
      throw new WeightsError(path, `tensor "${name}" is ${info.dtype}; supported: F32, BF16, F16, F64`);
    return fromFile(path, info.byteOffset, dtype, info.shape, {
      to: this.options.dtype ?? "float32",
      device: this.options.device ?? getDefaultDevice(),
    });
  }

  close(): void {
    for (const f of this.open.values()) f.close();
    this.open.clear();
  }
}

/** Every tensor a Qwen2/Llama checkpoint must hold, with the shape the config implies. */
export function expectedTensors(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: h, intermediateSize: m, headDim, vocabSize } = config;
  const q = config.numAttentionHeads * headDim;
  const kv = config.numKeyValueHeads * headDim;
  const out = new Map<string, number[]>();
  out.set("model.embed_tokens.weight", [vocabSize, h]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    out.set(`${p}.input_layernorm.weight`, [h]);
    out.set(`${p}.post_attention_layernorm.weight`, [h]);
    const linears: [string, number, number, boolean][] = [
      ["self_attn.q_proj", q, h, config.qkvBias],
      ["self_attn.k_proj", kv, h, config.qkvBias],
      ["self_attn.v_proj", kv, h, config.qkvBias],
      ["self_attn.o_proj", h, q, config.oProjBias],
      ["mlp.gate_proj", m, h, config.mlpBias],
      ["mlp.up_proj", m, h, config.mlpBias],
      ["mlp.down_proj", h, m, config.mlpBias],
    ];
    for (const [name, outDim, inDim, bias] of linears) {
      out.set(`${p}.${name}.weight`, [outDim, inDim]);
      if (bias) out.set(`${p}.${name}.bias`, [outDim]);
    }
  }
  out.set("model.norm.weight", [h]);
  if (!config.tieWordEmbeddings) out.set("lm_head.weight", [vocabSize, h]);
  return out;
}

/**
 * Loads every weight of a Qwen2/Llama checkpoint directory. With tied embeddings the LM head is
 * the embedding matrix itself (a checkpoint that still stores `lm_head.weight` is not read twice).
 */
export function loadWeights(
  dir: string,
  config: ModelConfig,
  options: LoadWeightsOptions = {},
): ModelWeights {
  const reader = new CheckpointReader(dir, options);
  const loaded: Tensor[] = [];
  const named = new Map<string, Tensor>();
  const read = (name: string, shape: readonly number[]): Tensor => {
    const t = reader.read(name, shape);
    loaded.push(t);
    named.set(name, t);
    return t;
  };
  try {
    const shapes = expectedTensors(config);
    const get = (name: string): Tensor => read(name, shapes.get(name) as number[]);
    const linear = (prefix: string): LinearWeights => ({
      weight: get(`${prefix}.weight`),
      bias: shapes.has(`${prefix}.bias`) ? get(`${prefix}.bias`) : null,
    });
    const embedTokens = get("model.embed_tokens.weight");
    const layers: DecoderLayerWeights[] = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const p = `model.layers.${i}`;
      layers.push({
        inputLayernorm: get(`${p}.input_layernorm.weight`),
        qProj: linear(`${p}.self_attn.q_proj`),
        kProj: linear(`${p}.self_attn.k_proj`),
        vProj: linear(`${p}.self_attn.v_proj`),
        oProj: linear(`${p}.self_attn.o_proj`),
        postAttentionLayernorm: get(`${p}.post_attention_layernorm.weight`),
        gateProj: linear(`${p}.mlp.gate_proj`),
        upProj: linear(`${p}.mlp.up_proj`),
        downProj: linear(`${p}.mlp.down_proj`),
      });
    }
    const norm = get("model.norm.weight");
    const lmHead = config.tieWordEmbeddings ? embedTokens : get("lm_head.weight");
    checkNothingLeftOver(reader, shapes, config);
    checkFinite(named, dir);
    // The caller owns the weights (a model disposes them), whatever scope loading ran in.
    const weights = keep({ embedTokens, layers, norm, lmHead });
    if ((options.linearLayout ?? "out-in") === "out-in") return weights;
    return toInputMajorWeights(weights, { tiedHeadCopy: options.tiedHeadCopy });
  } catch (error) {
    for (const t of loaded) t.dispose();
    throw error;
  } finally {
    reader.close();
  }
}

/** Tensors a checkpoint may hold that the model does not read. */
const IGNORED_TENSORS = [/\.rotary_emb\.inv_freq$/, /^lm_head\.weight$/];

/**
 * A checkpoint tensor the config does not account for means the config and the weights disagree
 * (e.g. num_hidden_layers smaller than the file's layers: the model would silently drop layers).
 */
function checkNothingLeftOver(
  reader: CheckpointReader,
  expected: Map<string, number[]>,
  config: ModelConfig,
): void {
  const extra = reader
    .allNames()
    .filter((n) => !expected.has(n) && !IGNORED_TENSORS.some((re) => re.test(n)));
  if (extra.length === 0) return;
  const layers = extra
    .map((n) => /^model\.layers\.(\d+)\./.exec(n)?.[1])
    .filter((i): i is string => i !== undefined)
    .map(Number);
  const hint =
    layers.length > 0
      ? `: config.json says num_hidden_layers = ${config.numHiddenLayers} but the weights have layer ${Math.max(...layers)}`
      : "";
  throw new WeightsError(
    reader.dir,
    `${extra.length} tensor(s) the config does not use (${extra.slice(0, 3).join(", ")}${extra.length > 3 ? ", ..." : ""})${hint}`,
  );
}

/** NaN or infinite weights give garbage without an error: refuse them at load (one pass each). */
function checkFinite(tensors: Map<string, Tensor>, where: string): void {
  for (const [name, t] of tensors) {
    if (!t.allFinite()) throw new WeightsError(where, `tensor "${name}" holds NaN or infinite values`);
  }
}

/** Every distinct tensor of a weight set (the tied head counted once). */
export function allWeightTensors(weights: ModelWeights): Tensor[] {
  const out = new Set<Tensor>([weights.embedTokens, weights.norm, weights.lmHead]);
  for (const layer of weights.layers) {
    out.add(layer.inputLayernorm);
    out.add(layer.postAttentionLayernorm);
    for (const lin of [
      layer.qProj,
      layer.kProj,
      layer.vProj,
      layer.oProj,
      layer.gateProj,
      layer.upProj,
      layer.downProj,
    ]) {
      out.add(lin.weight);
      if (lin.bias) out.add(lin.bias);
    }
    for (const f of [layer.fused?.qkv, layer.fused?.gateUp]) {
      if (!f) continue;
      out.add(f.whole.weight);
      if (f.whole.bias) out.add(f.whole.bias);
    }
  }
  return [...out];
}
