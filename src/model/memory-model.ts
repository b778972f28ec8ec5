/**
 * Bytes a Qwen2/Llama decoder needs, from its config.json shape: weights, the activations one
 * layer keeps for backward, the KV cache. The GRPO and SFT estimates (memory-estimate.ts,
 * sft/memory-estimate.ts) add these up; every term below names the tensors it stands for, in the
 * order src/model/transformer.ts, attention.ts, mlp.ts, rmsnorm.ts, rope.ts and lora.ts make them.
 *
 * Notation: h hidden size, I intermediate size, q = heads x headDim (query width), kv =
 * kvHeads x headDim, V vocabulary, L layers, a = bytes of one activation element (4 for float32,
 * 2 for bfloat16 / float16), T the sequence length a query attends over.
 */
import type { ModelConfig } from "./hf-config.js";

/** What the formulas read from a parsed config.json. */
export type MemoryModelShape = Pick<
  ModelConfig,
  | "hiddenSize"
  | "intermediateSize"
  | "numHiddenLayers"
  | "numAttentionHeads"
  | "numKeyValueHeads"
  | "headDim"
  | "vocabSize"
  | "tieWordEmbeddings"
  | "qkvBias"
  | "oProjBias"
  | "mlpBias"
>;

export type FloatDtype = "float32" | "bfloat16" | "float16";

export const DTYPE_BYTES: Record<FloatDtype, number> = { float32: 4, bfloat16: 2, float16: 2 };

/** float32: LoRA matrices, their gradients and optimizer state, logits, softmax (always float32). */
export const F32 = 4;

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** [in, out] of each linear layer of a block, by its HF module name. */
export function projectionSizes(s: MemoryModelShape): Record<string, { in: number; out: number }> {
  const q = s.numAttentionHeads * s.headDim;
  const kv = s.numKeyValueHeads * s.headDim;
  return {
    q_proj: { in: s.hiddenSize, out: q },
    k_proj: { in: s.hiddenSize, out: kv },
    v_proj: { in: s.hiddenSize, out: kv },
    o_proj: { in: q, out: s.hiddenSize },
    gate_proj: { in: s.hiddenSize, out: s.intermediateSize },
    up_proj: { in: s.hiddenSize, out: s.intermediateSize },
    down_proj: { in: s.intermediateSize, out: s.hiddenSize },
  };
}

/**
 * Parameters of the model: the embedding (V x h), the LM head (another V x h unless tied), and per
 * layer the seven projections with their biases and two RMSNorm weights, plus the final norm.
 */
export function weightCount(s: MemoryModelShape): number {
  const p = projectionSizes(s);
  const h = s.hiddenSize;
  const matrices = Object.values(p).reduce((n, io) => n + io.in * io.out, 0);
  const biases =
    (s.qkvBias ? p.q_proj.out + p.k_proj.out + p.v_proj.out : 0) +
    (s.oProjBias ? h : 0) +
    (s.mlpBias ? 2 * s.intermediateSize + h : 0);
  const perLayer = matrices + biases + 2 * h;
  const embeddings = s.vocabSize * h * (s.tieWordEmbeddings ? 1 : 2);
  return embeddings + s.numHiddenLayers * perLayer + h;
}

/** Projections that read one input share its float32 cast (lora.ts loraLinears). */
const SHARED_INPUT: Record<string, string> = {
  q_proj: "attention",
  k_proj: "attention",
  v_proj: "attention",
  gate_proj: "mlp",
  up_proj: "mlp",
};

/** Width of each projection input the adapters cast to float32. */
const INPUT_WIDTH: Record<string, (s: MemoryModelShape) => number> = {
  attention: (s) => s.hiddenSize,
  mlp: (s) => s.hiddenSize,
  o_proj: (s) => s.numAttentionHeads * s.headDim,
  down_proj: (s) => s.intermediateSize,
};

export interface LayerLoraShape {
  r: number;
  targets: readonly string[];
  dropout: number;
}

export interface ActivationOptions {
  /** Bytes of one activation element (the compute dtype). */
  a: number;
  /** Keys a query attends over (the padded sequence length of the micro-batch). */
  T: number;
  /** libtorch's fused scaled_dot_product_attention: no [heads, T] score matrix is kept. */
  fusedAttention: boolean;
  /** LoRA on this layer (GRPO), or null (SFT trains the weights themselves). */
  lora: LayerLoraShape | null;
  /** Dropout keeps no mask (the engine's counter-based CPU dropout regenerates it). */
  counterDropout?: boolean;
}

/**
 * Bytes per token that one decoder layer keeps for its backward pass (autograd's saved tensors),
 * without the attention scores (attentionKeptPerToken):
 *
 *   2 RMSNorms      2 x (4h + 2ah)  each normalises in float32: keeps its float32 input (for float32
 *                                   the residual stream itself), the normalised value and the
 *                                   weighted output the projections read
 *   q/k/v output    a (q + 2kv)     read by RoPE and by the attention matmuls
 *   RoPE            2a (q + kv)     x @ rotate_half (saved by its mul with sin) and the rotated q, k
 *   attention out   a q             the heads merged: o_proj's input
 *   SwiGLU          4a I            gate and up (silu, mul), silu(gate) (mul), their product (down_proj)
 *   LoRA, per adapted projection:
 *                   4r              x A^T in float32, kept by the B matmul
 *                   4 in            with dropout > 0: the dropped float32 input (+ in for the mask
 *                                   off the CPU: the engine's CPU dropout redraws it in the backward)
 *                   4 in            for a bf16/fp16 model: the input cast to float32, once per
 *                                   input the adapters share (q/k/v, gate/up) and for o_proj, down_proj
 */
export function layerKeptPerToken(s: MemoryModelShape, o: ActivationOptions): number {
  const h = s.hiddenSize;
  const I = s.intermediateSize;
  const q = s.numAttentionHeads * s.headDim;
  const kv = s.numKeyValueHeads * s.headDim;
  const { a } = o;
  const bytes = 2 * (F32 * h + 2 * a * h) + a * (q + 2 * kv) + 2 * a * (q + kv) + a * q + 4 * a * I;
  return bytes + loraKeptPerToken(s, o);
}

/** layerKeptPerToken's LoRA share (see there): what grows with lora.r. */
export function loraKeptPerToken(s: MemoryModelShape, o: ActivationOptions): number {
  if (o.lora === null) return 0;
  const sizes = projectionSizes(s);
  const inputs = new Set<string>();
  let bytes = 0;
  for (const target of o.lora.targets) {
    const io = sizes[target];
    if (io === undefined) continue;
    bytes += F32 * o.lora.r;
    if (o.lora.dropout > 0) bytes += (F32 + (o.counterDropout ? 0 : 1)) * io.in;
    inputs.add(SHARED_INPUT[target] ?? target);
  }
  if (o.a !== F32) for (const input of inputs) bytes += F32 * (INPUT_WIDTH[input]?.(s) ?? s.hiddenSize);
  return bytes;
}

/**
 * Bytes per token the attention keeps for backward. Without the fused kernel (attention.ts, the
 * matmul path): softmax in float32 keeps its output [heads, T] (4 bytes each), and for a bf16/fp16
 * model the probabilities cast back (a each) are kept by the matmul with v. The fused kernel keeps
 * only its output and a log-sum-exp per head.
 */
export function attentionKeptPerToken(s: MemoryModelShape, o: ActivationOptions): number {
  const heads = s.numAttentionHeads;
  if (o.fusedAttention) return F32 * heads;
  return heads * o.T * (F32 + (o.a === F32 ? 0 : o.a));
}

/**
 * Bytes per token alive while a block runs, with autograd or without (generation's prefill, the
 * no-grad π_old / π_ref passes): the engine frees a block's temporaries only when the
 * block returns (its scope), so besides what it keeps, everything it computed on the way is alive:
 * about as much again for the projections, norms and SwiGLU (base outputs before the LoRA update,
 * RoPE products, residual sums), and for the matmul attention path the score matrix three times
 * more in the activation dtype (q k^T, scaled, masked) before the float32 softmax.
 */
export function blockPeakPerToken(s: MemoryModelShape, o: ActivationOptions): number {
  const linear = layerKeptPerToken(s, o);
  const scores = o.fusedAttention ? 0 : 3 * s.numAttentionHeads * o.T * o.a;
  return 2 * linear + attentionKeptPerToken(s, o) + scores;
}

/**
 * Activation bytes per token of one forward + backward with autograd over L layers.
 *
 * Plain: every layer's saved tensors (L x kept), plus the last block's temporaries while it runs
 * (blockPeak - kept), plus the gradients the backward allocates for one layer (about kept again).
 * The allocator keeps the block's freed temporaries, so both count (measured on the tiny model:
 * the estimate is within 15% of the RSS a micro-batch adds; docs/training.md).
 *
 * Checkpointed (checkpointing.ts): each block's input (a h, L of them), then one block at a time
 * is recomputed with autograd (blockPeak) and backpropagated (kept again).
 */
export function trunkActivationPerToken(
  s: MemoryModelShape,
  o: ActivationOptions,
  checkpointed: boolean,
): number {
  const kept = layerKeptPerToken(s, o) + attentionKeptPerToken(s, o);
  const peak = blockPeakPerToken(s, o);
  const L = s.numHiddenLayers;
  return checkpointed ? L * o.a * s.hiddenSize + peak + kept : (L - 1) * kept + peak + kept;
}

/**
 * The KV cache (kv-cache.ts): per layer keys and values [rows, kvHeads, columns, headDim] in the
 * activation dtype, so 2 x L x kv x columns x rows x a. `columns` is the cache's capacity, not the
 * tokens stored: it starts at `initial` and doubles when a token does not fit.
 */
export function kvCacheBytes(s: MemoryModelShape, rows: number, columns: number, a: number): number {
  const kv = s.numKeyValueHeads * s.headDim;
  return 2 * s.numHiddenLayers * kv * columns * rows * a;
}

/** The capacity a KVCache reaches for `tokens` columns, starting from `initial` and doubling. */
export function kvCapacity(tokens: number, initial: number): number {
  let capacity = Math.max(1, initial);
  while (capacity < tokens) capacity *= 2;
  return capacity;
}
