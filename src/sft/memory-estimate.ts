/**
 * Peak memory of `wordle-grpo sft` (src/sft/trainer.ts), before the weights are made: every
 * weight trains, so the model's size counts four times over (weights, gradients, AdamW's two
 * states), and the loss takes full-vocabulary float32 logits for the whole batch.
 *
 *   peak = runtime + float32 master weights (+ a bf16 compute copy) + gradients + AdamW state
 *          + max(one step's activations and logits, checkpoint save)
 *
 * Formulas of the decoder: memory-model.ts.
 */

import { hasFusedAttention } from "../engine/index.js";
import type { ModelConfig } from "../model/hf-config.js";
import {
  DTYPE_BYTES,
  F32,
  type FloatDtype,
  trunkActivationPerToken,
  weightCount,
} from "../model/memory-model.js";
import {
  type MemoryEstimate,
  type MemoryPart,
  memoryCheckSkipped,
  memoryProblem,
  RUNTIME_BASELINE_BYTES,
  runtimeBytes,
} from "../model/memory-report.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { renderPrompt } from "../task/prompt.js";
import { availableHostMemory } from "../util/memory-available.js";
import type { HistoryEntry } from "../wordle/candidates.js";

export interface SftMemoryInputs {
  config: ModelConfig;
  /** Games per step (--batch-games). */
  batchGames: number;
  /** Compute dtype of the forward / backward (--dtype); the master weights are float32. */
  dtype: FloatDtype;
  device: string;
  /** Tokens of the longest game sequence (sftGameTokens). */
  gameTokens: number;
  fusedAttention: boolean;
  /** The runtime's resident memory (default RUNTIME_BASELINE_BYTES). */
  runtimeBytes?: number;
}

const STEP = "a training step";
const CHECKPOINT = "checkpoint save";

/** Teacher games last at most six turns: the whole conversation after six guesses bounds a sequence. */
const SFT_MAX_TURNS = 6;

/** Tokens of a six-guess conversation in the tiny template: the longest sequence sft trains on. */
export function sftGameTokens(tokenizer: Tokenizer): number {
  const turn: HistoryEntry = {
    guess: "crane",
    feedback: ["absent", "present", "absent", "correct", "absent"],
  };
  const history = Array.from({ length: SFT_MAX_TURNS }, () => turn);
  const text = renderPrompt({ history }, { template: "tiny", tokenizer }).text;
  return tokenizer.encode(text).length;
}

export function estimateSftMemory(inputs: SftMemoryInputs): MemoryEstimate {
  const s = inputs.config;
  const a = DTYPE_BYTES[inputs.dtype];
  const P = weightCount(s);
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  const runtime = inputs.runtimeBytes ?? RUNTIME_BASELINE_BYTES;
  const place = inputs.device.startsWith("cuda") ? "device" : "host";
  const size = `hidden_size ${s.hiddenSize}, num_hidden_layers ${s.numHiddenLayers}`;
  const sizeFix = `make the model smaller (--config-json: ${size})`;

  // Weights: float32 masters, plus a compute copy in bf16 (the forward reads it).
  const weights = P * F32 + (a === F32 ? 0 : P * a);
  // Gradients: float32 on the masters; with bf16 they arrive on the copy first, then are widened.
  const gradients = P * F32 + (a === F32 ? 0 : P * a);
  // AdamW: exp_avg and exp_avg_sq, float32.
  const optimizer = 2 * P * F32;

  // One step: batch-games right-padded sequences, the input one token shorter than the game.
  const S = inputs.gameTokens - 1;
  const tokens = inputs.batchGames * S;
  const activation = { a, T: S, fusedAttention: inputs.fusedAttention, lora: null };
  // No checkpointing; the final norm keeps its float32 input and output as a block's norm does.
  const trunk = tokens * (trunkActivationPerToken(s, activation, false) + (F32 + 2 * a) * s.hiddenSize);
  // Logits [B, S, V] for the whole batch: float32 logits, log-softmax kept for the gather, and in
  // the backward the gradients of both (4 float32 copies; a bf16 model adds its bf16 logits).
  const logits = tokens * s.vocabSize * (4 * F32 + (a === F32 ? 0 : a));
  // A checkpoint copies the masters and both AdamW states into JS buffers to write them.
  const checkpointSave = 3 * P * F32;

  const parts: MemoryPart[] = [
    {
      name: "runtime",
      phase: null,
      bytes: runtime,
      place: "host",
      detail: "Node + libtorch + the addon, word lists (measured)",
      fix: null,
    },
    {
      name: "model weights",
      phase: null,
      bytes: weights,
      place,
      detail: `${n(P)} parameters x 4 bytes (float32 masters)${a === F32 ? "" : ` + ${a} (${inputs.dtype} copy)`}`,
      fix: sizeFix,
    },
    {
      name: "gradients",
      phase: null,
      bytes: gradients,
      place,
      detail: `${n(P)} parameters, float32`,
      fix: sizeFix,
    },
    {
      name: "optimizer state",
      phase: null,
      bytes: optimizer,
      place,
      detail: "AdamW: 2 float32 values per parameter",
      fix: sizeFix,
    },
    {
      name: "activations",
      phase: STEP,
      bytes: trunk,
      place,
      detail: `${n(inputs.batchGames)} games x ${n(S)} tokens, every layer's activations kept`,
      fix: `lower --batch-games (${inputs.batchGames})`,
    },
    {
      name: "logits",
      phase: STEP,
      bytes: logits,
      place,
      detail: `float32 [${n(inputs.batchGames)}, ${n(S)}, ${n(s.vocabSize)}], 4 copies`,
      fix: `lower --batch-games (${inputs.batchGames})`,
    },
    {
      name: "checkpoint save",
      phase: CHECKPOINT,
      bytes: checkpointSave,
      place: "host",
      detail: "weights + AdamW state copied for writing",
      fix: sizeFix,
    },
  ];
  const fixed = weights + gradients + optimizer;
  const step = trunk + logits;
  const peakPhase = step >= checkpointSave ? STEP : CHECKPOINT;
  let hostBytes = runtime + fixed + Math.max(step, checkpointSave);
  let deviceBytes = 0;
  if (place === "device") {
    // sft makes the weights on the CPU and moves them: host memory holds one copy of the masters then.
    hostBytes = runtime + Math.max(P * F32, checkpointSave);
    deviceBytes = fixed + step;
  }
  return {
    total: hostBytes + deviceBytes,
    hostBytes,
    deviceBytes,
    parts: [...parts].sort((x, y) => y.bytes - x.bytes),
    peakPhase,
    device: inputs.device,
    dtype: inputs.dtype,
    lengths: {
      prompt: S,
      completion: 0,
      game: inputs.gameTokens,
      source: "a six-guess game in the tiny template",
    },
    notes: [],
  };
}

/** `sft`: throws before the weights are made when the run would not fit. */
export function checkSftMemory(
  config: ModelConfig,
  settings: { batchGames: number; dtype: FloatDtype },
  device: string,
  tokenizer: Tokenizer,
): void {
  if (memoryCheckSkipped()) return;
  const estimate = estimateSftMemory({
    config,
    batchGames: settings.batchGames,
    dtype: settings.dtype,
    device,
    gameTokens: sftGameTokens(tokenizer),
    fusedAttention: hasFusedAttention(),
    runtimeBytes: runtimeBytes(),
  });
  const problem = memoryProblem("sft", estimate, availableHostMemory());
  if (problem !== null) throw new Error(problem);
}
