/**
 * The Qwen2 / Llama decoder-only transformer, computed as transformers computes it.
 *
 *   h = embed_tokens[ids]
 *   for each layer:  h = h + attn(rmsnorm(h));  h = h + mlp(rmsnorm(h))
 *   logits = lm_head(rmsnorm(h))          (lm_head = embed_tokens when tied)
 *
 * Forward API (the sampler and the trainer build on it):
 *
 *   model.forward(inputIds, { attentionMask?, positionIds?, cache?, hiddenOnly?, logitsToKeep? })
 *     inputIds      int64 [B, S] (int32 accepted; moved to the model's device if needed)
 *     attentionMask int64/bool [B, pastLength + S], 1 = real token, 0 = padding (left padding),
 *                   covering the cached positions too. Omitted: every position is real.
 *     positionIds   int64 [B, S]. Omitted: pastLength .. pastLength + S - 1 for every row, as
 *                   transformers' forward does. With left padding pass cumsum(mask) - 1 clamped at
 *                   0 (see positionIdsFromMask), as generate() does.
 *     cache         a KVCache appended in place (inference only: call under noGrad).
 *     hiddenOnly    return the final hidden states (after the final norm) [B, S, hidden] in the
 *                   model dtype instead of logits.
 *     logitsToKeep  compute logits for the last N positions only (1 for a prefill before sampling).
 *   -> logits float32 [B, S (or N), vocab].
 *
 *   model.lmHead(hidden) -> float32 logits; model.config; model.adapter (LoRA or null);
 *   model.training (LoRA dropout on); model.dispose().
 *   model.forwardBackward(inputIds, { targets, attentionMask?, positionIds?, checkpointed?, ... },
 *     (logprobs) => loss) -> { loss, logprobs, entropy }: the training step (checkpointing.ts).
 *
 * Building blocks for gradient checkpointing and log-probs: prepare(), embed(), block(), finalNorm().
 */
import type { Device, DType } from "../engine/dtype.js";
import {
  arange,
  embedding,
  getDefaultDevice,
  hasFusedAttention,
  isGradEnabled,
  keep,
  scope,
} from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { type AttentionContext, buildAttentionMask, selfAttention } from "./attention.js";
import { type ForwardBackwardOptions, type ForwardBackwardResult, forwardBackward } from "./checkpointing.js";
import { fuseProjections } from "./fused-projections.js";
import { loadHfConfig, type ModelConfig } from "./hf-config.js";
import type { KVCache } from "./kv-cache.js";
import type { LoraAdapter } from "./lora.js";
import { swiGluMlp } from "./mlp.js";
import { rmsNorm } from "./rmsnorm.js";
import { ropeAngles, ropeInverseFrequencyTensor, rotateHalfMatrix } from "./rope.js";
import { allWeightTensors, type LinearLayout, loadWeights, type ModelWeights } from "./weights.js";

export interface ForwardOptions {
  attentionMask?: Tensor;
  positionIds?: Tensor;
  cache?: KVCache;
  hiddenOnly?: boolean;
  logitsToKeep?: number;
}

export interface ModelLoadOptions {
  /** "cpu", "cuda", "cuda:N" or "mps"; default: the engine default device ($WORDLE_DEVICE, else cpu). */
  device?: Device;
  /** Weights and activations dtype (default float32). */
  dtype?: DType;
  /** Linear weights' memory layout (weights.ts); default: defaultLinearLayout(dtype, device). */
  linearLayout?: LinearLayout;
  /** Tied embeddings: an input-major copy of the embedding for the LM head (weights.ts). Default false. */
  tiedHeadCopy?: boolean;
}

/**
 * What every loader of a local Hugging Face directory reads: config.json and the safetensors
 * weights, with the loaders' defaults (float32 on cpu, input-major linear weights). `caller`
 * names the entry point in dtype errors.
 */
export function readModelDir(
  dir: string,
  options: ModelLoadOptions,
  caller: string,
): { config: ModelConfig; weights: ModelWeights; dtype: DType; device: Device } {
  const config = loadHfConfig(dir);
  const dtype = options.dtype ?? "float32";
  const device = options.device ?? getDefaultDevice(); // WORDLE_DEVICE, else cpu
  checkModelDtype(dtype, caller);
  const weights = fuseProjections(
    loadWeights(dir, config, {
      dtype,
      device,
      linearLayout: options.linearLayout ?? defaultLinearLayout(dtype, device),
      tiedHeadCopy: options.tiedHeadCopy,
    }),
  );
  return { config, weights, dtype, device };
}

/**
 * Input-major weights make float32 decode faster on OpenBLAS (weights.ts, inputMajor); oneDNN's
 * bf16/fp16 kernels and GPUs read the checkpoint's row-major [out, in] faster (bf16 on an AMX
 * Xeon: [2, 896] x [896, 4864] 0.50 ms row-major vs 0.55 ms input-major, the 0.5B step's
 * per-layer GEMVs 1.5 vs 1.7 ms).
 */
export function defaultLinearLayout(dtype: DType, device: Device): LinearLayout {
  return device === "cpu" && (dtype === "float32" || dtype === "float64") ? "in-out" : "out-in";
}

const FLOAT_DTYPES: readonly DType[] = ["float32", "bfloat16", "float16", "float64"];

/** Weights and activations must be floating point; checked before anything is loaded. */
export function checkModelDtype(dtype: DType, where: string): void {
  if (!FLOAT_DTYPES.includes(dtype))
    throw new Error(
      `${where}: dtype must be one of ${FLOAT_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`,
    );
}

/** Everything the decoder blocks of one forward share: rope angles, the mask, the cache. */
export type BlockContext = AttentionContext;

/**
 * Positions for left-padded rows: cumsum(mask) - 1, clamped at 0 (padding gets 0), for the last
 * `seqLength` columns of a [B, T] mask (all of them by default).
 */
export function positionIdsFromMask(attentionMask: Tensor, seqLength?: number): Tensor {
  return scope(() => {
    const pos = attentionMask.long().cumsum(1).sub(1).clamp(0);
    const total = pos.size(1);
    const s = seqLength ?? total;
    return pos.narrow(1, total - s, s);
  });
}

export class CausalLM {
  /** LoRA adapter applied in every forward while enabled (null: the base model). */
  adapter: LoraAdapter | null = null;
  /** Training mode: LoRA dropout is active. */
  training = false;
  /** The directory the weights came from (config and tokenizer files for exports), if any. */
  sourceDir: string | null = null;
  private readonly invFreq: Tensor;
  private readonly rotateHalf: Tensor;

  constructor(
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly dtype: DType,
    readonly device: Device,
  ) {
    checkModelDtype(dtype, "CausalLM");
    this.invFreq = keep(ropeInverseFrequencyTensor(config, device));
    this.rotateHalf = keep(rotateHalfMatrix(config.headDim, dtype, device));
  }

  /** Reads config.json and the safetensors weights of a local Hugging Face directory. */
  static load(dir: string, options: ModelLoadOptions = {}): CausalLM {
    const { config, weights, dtype, device } = readModelDir(dir, options, "CausalLM.load");
    const model = new CausalLM(config, weights, dtype, device);
    model.sourceDir = dir;
    return model;
  }

  /** Checks shapes and moves ids/masks to the model's device. */
  private checkedInputs(
    inputIds: Tensor,
    options: ForwardOptions,
  ): { ids: Tensor; mask?: Tensor; pos?: Tensor } {
    if (inputIds.ndim !== 2)
      throw new Error(`forward: inputIds must be [batch, seq], got [${inputIds.shape}]`);
    const [b, s] = inputIds.shape as [number, number];
    const past = options.cache?.length ?? 0;
    const onDevice = (t: Tensor, dtype: DType): Tensor =>
      t.device === this.device && t.dtype === dtype ? t : t.to({ dtype, device: this.device });
    const out: { ids: Tensor; mask?: Tensor; pos?: Tensor } = { ids: onDevice(inputIds, "int64") };
    if (options.attentionMask) {
      const m = options.attentionMask;
      if (m.ndim !== 2 || m.size(0) !== b || m.size(1) !== past + s)
        throw new Error(
          `forward: attentionMask must be [${b}, ${past + s}] (batch, cached ${past} + new ${s} positions), got [${m.shape}]`,
        );
      out.mask = m.device === this.device ? m : m.to({ device: this.device });
    }
    if (options.positionIds) {
      const p = options.positionIds;
      if (p.ndim !== 2 || p.size(0) !== b || p.size(1) !== s)
        throw new Error(`forward: positionIds must be [${b}, ${s}], got [${p.shape}]`);
      out.pos = onDevice(p, "int64");
    }
    if (options.cache && options.cache.batch !== b)
      throw new Error(`forward: the cache holds ${options.cache.batch} rows, inputIds has ${b}`);
    return out;
  }

  /** Rope angles and mask for a forward over inputIds (tensors belong to the current scope). */
  prepare(inputIds: Tensor, options: ForwardOptions = {}): BlockContext & { ids: Tensor } {
    const { ids, mask, pos } = this.checkedInputs(inputIds, options);
    const [b, s] = ids.shape as [number, number];
    const past = options.cache?.length ?? 0;
    const positions =
      pos ??
      arange(past, past + s, 1, { device: this.device })
        .unsqueeze(0)
        .expand(b, s);
    const visible = buildAttentionMask(mask, s, past, this.device);
    return {
      ids,
      angles: ropeAngles(this.invFreq, positions, this.rotateHalf),
      mask: visible,
      // Only the matmul attention path masks by filling; the fused kernel takes `mask` itself.
      hidden: visible === null || hasFusedAttention() ? null : visible.logicalNot().unsqueeze(2),
      cache: options.cache,
      training: this.training,
    };
  }

  embed(ids: Tensor): Tensor {
    return embedding(this.weights.embedTokens, ids);
  }

  /** One decoder layer: h + attn(norm(h)), then + mlp(norm(.)). */
  block(index: number, hidden: Tensor, ctx: BlockContext): Tensor {
    return scope(() => {
      const w = this.weights.layers[index];
      if (!w) throw new Error(`block: no layer ${index}`);
      const lora = this.adapter?.layer(index) ?? null;
      const eps = this.config.rmsNormEps;
      const attn = selfAttention(rmsNorm(hidden, w.inputLayernorm, eps), index, w, lora, this.config, ctx);
      const h = hidden.add(attn);
      return h.add(swiGluMlp(rmsNorm(h, w.postAttentionLayernorm, eps), w, lora, ctx.training));
    });
  }

  finalNorm(hidden: Tensor): Tensor {
    return rmsNorm(hidden, this.weights.norm, this.config.rmsNormEps);
  }

  /** Final hidden states (after the final norm) -> float32 logits. */
  lmHead(hidden: Tensor): Tensor {
    return scope(() => hidden.linear(this.weights.lmHead).float());
  }

  forward(inputIds: Tensor, options: ForwardOptions = {}): Tensor {
    if (options.cache && isGradEnabled())
      throw new Error("forward: a KV cache is for inference; run the forward under noGrad()");
    return scope(() => {
      const ctx = this.prepare(inputIds, options);
      let h = this.embed(ctx.ids);
      for (let i = 0; i < this.config.numHiddenLayers; i++) h = this.block(i, h, ctx);
      options.cache?.advance(ctx.ids.size(1));
      const keepLast = options.logitsToKeep;
      if (keepLast !== undefined && keepLast > 0 && keepLast < h.size(1))
        h = h.narrow(1, h.size(1) - keepLast, keepLast);
      const normed = this.finalNorm(h);
      return options.hiddenOnly ? normed : this.lmHead(normed);
    });
  }

  /**
   * Forward + backward for a loss on per-token log-probs, optionally checkpointed per block; LoRA
   * gradients accumulate into the adapter parameters' .grad. See checkpointing.ts.
   */
  forwardBackward(
    inputIds: Tensor,
    options: ForwardBackwardOptions,
    lossFn: (logprobs: Tensor) => Tensor,
  ): ForwardBackwardResult {
    return forwardBackward(this, inputIds, options, lossFn);
  }

  /** Frees the weights and the adapter. */
  dispose(): void {
    for (const t of allWeightTensors(this.weights)) t.dispose();
    this.invFreq.dispose();
    this.rotateHalf.dispose();
    this.adapter?.dispose();
    this.adapter = null;
  }
}
