/**
 * Peak memory of a GRPO run, before anything is allocated: `train` refuses a run that cannot fit
 * (memory-check.ts) and `plan` prints the estimate. Per rank; every term comes from the model's
 * config.json shape, the dtype the run computes in, the LoRA and optimizer settings, the
 * generation batch and the training micro-batch (the formulas: memory-model.ts).
 *
 *   peak = runtime + weights + LoRA (A, B, gradients, inference copies) + optimizer state
 *          + max(generation + training micro-batch, checkpoint save, train's final evaluation)
 *
 * The generation batch (KV cache, prefill, sampling) and the micro-batch's activations are added,
 * not maxed: each is freed before the other starts, but the allocator keeps what the rollout
 * freed and the backward's blocks do not all fit in it (measured on the tiny model: the sum is
 * within 10% of the peak RSS, the larger of the two alone 13% under; docs/training.md).
 */

import {
  blockPeakPerToken,
  DTYPE_BYTES,
  F32,
  type FloatDtype,
  kvCacheBytes,
  kvCapacity,
  layerKeptPerToken,
  type MemoryModelShape,
  projectionSizes,
  trunkActivationPerToken,
  weightCount,
} from "../model/memory-model.js";
import {
  formatMemory,
  type MemoryEstimate,
  type MemoryPart,
  type MemoryPlace,
  RUNTIME_BASELINE_BYTES,
  type SequenceLengths,
} from "../model/memory-report.js";
import type { GrpoConfig } from "./config/schema.js";
import { loraParameterCount } from "./plan.js";
import { packable } from "./plan-loss.js";
import { itemsPerGenerationBatch } from "./run-length.js";

/** Sampling keeps about four [rows, V] float32 tensors: logits, their processed copy, probabilities, a sort for top-p. */
const SAMPLER_LOGIT_COPIES = 4;

/**
 * The log-prob head (logprobs.ts) runs over 2^24 / V positions at a time; a chunk holds about five
 * [positions, V] float32 tensors: the logits, divided by the temperature, minus their log-sum-exp,
 * its exp and the product for the entropy (and in the backward the same order of tensors again).
 */
const HEAD_CHUNK_COPIES = 5;

/**
 * Evaluation during training plays 64 games at a time (play-games.ts); train's final before/after
 * evaluation 256 (cli/commands/train.ts, skipped with --no-final-eval). Their prompt cache
 * (model-policy.ts) refills finished games' slots in new columns until a prompt would pass 512
 * columns, then starts over; decoding may add a completion past that.
 */
const EVAL_BATCH = 64;
const FINAL_EVAL_BATCH = 256;
const EVAL_CACHE_COLUMNS = 512;

/** The phases of a run that do not overlap in time; the largest sets the peak. */
const RUNNING = "generation + training";
const CHECKPOINT = "checkpoint save";
const FINAL_EVALUATION = "final evaluation";

/** Generation starts each cache with 256 columns and doubles it (kv-cache.ts, prompt-cache.ts). */
const INITIAL_CACHE_COLUMNS = 256;

export interface GrpoMemoryInputs {
  shape: MemoryModelShape & { name: string };
  /** The dtype the run computes in (trainer-setup.ts resolveDtype). */
  dtype: FloatDtype;
  /** The device the run trains on (trainer-setup.ts resolveDevice). */
  device: string;
  lengths: SequenceLengths;
  /** The engine has scaled_dot_product_attention (hasFusedAttention()). */
  fusedAttention: boolean;
  /** Data-parallel ranks: each generates and trains on its share. Default 1. */
  ranks?: number;
  /** The runtime's resident memory (default RUNTIME_BASELINE_BYTES). */
  runtimeBytes?: number;
  /**
   * Count the CLI's before/after evaluation after the run (`train --final-eval`, the default with
   * the preset tiny). Default false: the trainer itself never runs it.
   */
  finalEvaluation?: boolean;
}

/**
 * Inference copies of the adapters (fused-projections.ts, lora.ts derivedFromPairs): for q/k/v and
 * for gate/up, when every part is adapted, generation concatenates the A's once (r x sum of
 * inputs) and lays the B's out block-diagonally ((parts x r) x sum of outputs, zeros elsewhere);
 * the bf16 decode kernel on the CPU also stacks the B's.
 */
function loraInferenceCopies(s: MemoryModelShape, config: GrpoConfig, dtype: FloatDtype, device: string) {
  const sizes = projectionSizes(s);
  const r = config.lora.r;
  const targets = new Set(config.lora.target_modules);
  let count = 0;
  for (const group of [
    ["q_proj", "k_proj", "v_proj"],
    ["gate_proj", "up_proj"],
  ]) {
    if (!group.every((m) => targets.has(m))) continue;
    const inputs = group.reduce((n, m) => n + sizes[m].in, 0);
    const outputs = group.reduce((n, m) => n + sizes[m].out, 0);
    count += r * inputs + group.length * r * outputs;
    if (dtype === "bfloat16" && device === "cpu") count += r * outputs;
  }
  return count * s.numHiddenLayers;
}

/** Loss rows of one step on one rank, and the rows of its largest micro-batch. */
function microBatchRows(config: GrpoConfig, ranks: number): { lossRows: number; rows: number } {
  const G = config.num_generations;
  const items = itemsPerGenerationBatch(config) / ranks;
  let lossRows: number;
  if (config.mode === "multi_turn")
    // Packed: a game's turns share one row (loss-rows.ts); otherwise one row per played turn.
    lossRows = packable(config) ? items * G : items * G * config.multi_turn.max_turns;
  else lossRows = items * G;
  return { lossRows, rows: Math.min(config.per_device_train_batch_size, Math.ceil(lossRows)) };
}

/**
 * Columns an evaluation's prompt cache fills for `games` games played `rows` at a time (each slot
 * plays its games one after the other in new columns, until a prompt would pass 512), and the
 * capacity the cache grows to for them.
 */
function evaluationColumns(games: number, rows: number, lengths: SequenceLengths) {
  const perSlot = Math.ceil(games / rows) * lengths.game;
  const used = Math.max(lengths.game, Math.min(perSlot, EVAL_CACHE_COLUMNS + lengths.completion));
  return { used, capacity: kvCapacity(used, INITIAL_CACHE_COLUMNS) };
}

export function estimateGrpoMemory(config: GrpoConfig, inputs: GrpoMemoryInputs): MemoryEstimate {
  const { shape: s, dtype, device, lengths } = inputs;
  const ranks = inputs.ranks ?? 1;
  const a = DTYPE_BYTES[dtype];
  const onDevice: MemoryPlace = device.startsWith("cuda") ? "device" : "host";
  const G = config.num_generations;
  const C = lengths.completion;
  const V = s.vocabSize;
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  const lora = { r: config.lora.r, targets: config.lora.target_modules, dropout: config.lora.dropout };
  const counterDropout = device === "cpu";
  const runtime = inputs.runtimeBytes ?? RUNTIME_BASELINE_BYTES;
  const multiTurn = config.mode === "multi_turn";

  // Weights: every parameter once, in the compute dtype (loaded tensor by tensor, converted on the way).
  const weights = weightCount(s);
  // LoRA: A and B in float32, their float32 gradients, and generation's copies of them.
  const loraParams = loraParameterCount(s, config.lora);
  const copies = loraInferenceCopies(s, config, dtype, device);
  // AdamW keeps exp_avg and exp_avg_sq per parameter, SGD a momentum buffer when momentum > 0.
  const states = config.optim === "adamw" ? 2 : config.momentum > 0 ? 1 : 0;

  // Generation: `rows` sequences decode together from one KV cache of `capacity` columns, after a
  // prefill of `prefillRows` prompts (lengths.prompt tokens each) that attend over `attended`
  // columns (one block at a time, no grad), sampling from [rows, V] float32 logits. A cache that grew past its first 256
  // columns allocated each layer's doubled buffers before freeing the old ones, and the allocator
  // keeps those: half the final size again (measured: train's final evaluation on the tiny model).
  const inference = (T: number) =>
    blockPeakPerToken(s, { a, T, fusedAttention: inputs.fusedAttention, lora, counterDropout });
  const generate = (rows: number, capacity: number, prefillRows: number, attended: number, grows = true) =>
    kvCacheBytes(s, rows, capacity, a) * (grows && capacity > INITIAL_CACHE_COLUMNS ? 1.5 : 1) +
    prefillRows * lengths.prompt * inference(attended) +
    rows * V * F32 * SAMPLER_LOGIT_COPIES;
  // The rollout (rollout.ts, multi-turn-rollout.ts): single_state prefills each distinct prompt
  // into a cache of prompt + completion columns and repeats its rows G times; multi_turn keeps each
  // game's whole conversation in a cache that grows from 256 columns, its first prompt the largest
  // prefill (later turns add the feedback).
  const items = itemsPerGenerationBatch(config) / ranks;
  const genRows = items * G;
  const genColumns = multiTurn ? kvCapacity(lengths.game, INITIAL_CACHE_COLUMNS) : lengths.prompt + C;
  const rollout = generate(genRows, genColumns, multiTurn ? genRows : items, lengths.prompt, multiTurn);
  // Evaluation during training (eval_steps, or once at the end): each rank plays its share, a new
  // game's prompt prefilled beside the columns its slot already holds.
  const evalGames = Math.ceil(config.eval.games / ranks);
  const evalRows = Math.min(EVAL_BATCH, evalGames);
  const evalColumns = evaluationColumns(evalGames, EVAL_BATCH, lengths);
  const evaluation =
    evalRows === 0 ? 0 : generate(evalRows, evalColumns.capacity, evalRows, evalColumns.used);
  const generation = Math.max(rollout, evaluation);

  // Training: one micro-batch of per_device_train_batch_size loss rows at a time (optimize.ts).
  const { lossRows, rows } = microBatchRows(config, ranks);
  const S = multiTurn ? lengths.game : lengths.prompt + C;
  const tokens = rows * S;
  // The entropy bonus's extra pass keeps every block's activations whatever the setting (plan-loss.ts).
  const checkpointed = config.gradient_checkpointing && config.entropy_coef === 0;
  const activation = { a, T: S, fusedAttention: inputs.fusedAttention, lora, counterDropout };
  // Around the trunk: the detached last hidden state and its gradient, and the micro-batch's
  // per-token tensors (ids, masks, targets, advantages, old / ref log-probs: about 8 x 8 bytes).
  // With a large rank the adapters' [tokens, r] outputs (4 bytes x r per adapted projection)
  // outweigh the rest of what a layer keeps.
  const rankShare = F32 * config.lora.r * config.lora.target_modules.length;
  const loraDominates = 2 * rankShare > layerKeptPerToken(s, activation);
  const trunk = tokens * (trunkActivationPerToken(s, activation, checkpointed) + 2 * a * s.hiddenSize + 64);
  const chunk = Math.min(tokens, Math.max(1, Math.floor(2 ** 24 / V)));
  const head = HEAD_CHUNK_COPIES * chunk * V * F32;
  // π_old / π_ref (num_iterations > 1, beta > 0): no-grad passes over the same micro-batches.
  const scoring = config.num_iterations > 1 || config.beta > 0 ? tokens * inference(S) + head : 0;
  const training = Math.max(trunk + head, scoring);

  // Between steps a checkpoint copies the adapter and the optimizer state into JS buffers.
  const checkpointSave = (1 + states) * loraParams * F32;
  // After the run, `train --final-eval` evaluates the start model and the adapter on every answer,
  // 256 games at a time; the trainer's tensors are freed by then.
  const finalColumns = evaluationColumns(Number.POSITIVE_INFINITY, FINAL_EVAL_BATCH, lengths);
  const finalEvaluation = generate(
    FINAL_EVAL_BATCH,
    finalColumns.capacity,
    FINAL_EVAL_BATCH,
    finalColumns.used,
  );

  const generationFix = multiTurn
    ? `lower multi_turn.secrets_per_step (${config.multi_turn.secrets_per_step}) or num_generations (${G})`
    : `lower per_device_train_batch_size x gradient_accumulation_steps (${config.per_device_train_batch_size} x ${config.gradient_accumulation_steps}), max_prompt_length or max_completion_length`;
  const parts: MemoryPart[] = [
    {
      name: "runtime",
      phase: null,
      bytes: runtime,
      place: "host",
      detail: "Node + libtorch + the addon, word lists, the JS heap of a run (measured)",
      fix: null,
    },
    {
      name: "model weights",
      phase: null,
      bytes: weights * a,
      place: onDevice,
      detail: `${n(weights)} parameters x ${a} bytes (${dtype}, ${s.name})`,
      fix: dtype === "float32" ? "use a smaller model, or dtype bfloat16" : "use a smaller model",
    },
    {
      name: "LoRA adapter + gradients",
      phase: null,
      bytes: (2 * loraParams + copies) * F32,
      place: onDevice,
      detail:
        `${n(loraParams)} parameters x 4 bytes (float32), x2 with gradients` +
        (copies > 0 ? `, + ${n(copies)} in generation's fused copies` : ""),
      fix: `lower lora.r (${config.lora.r}) or adapt fewer lora.target_modules`,
    },
    {
      name: "optimizer state",
      phase: null,
      bytes: states * loraParams * F32,
      place: onDevice,
      detail: `${config.optim}: ${states} float32 value${states === 1 ? "" : "s"} per LoRA parameter`,
      fix: `lower lora.r (${config.lora.r})${config.optim === "adamw" ? ", or optim sgd" : ""}`,
    },
    {
      name: "generation",
      phase: RUNNING,
      bytes: generation,
      place: onDevice,
      detail:
        rollout >= evaluation
          ? `rollout: KV cache ${n(genRows)} rows x ${n(genColumns)} columns (${formatMemory(kvCacheBytes(s, genRows, genColumns, a))}), prefill, sampling over ${n(V)} tokens`
          : `evaluation: KV cache ${n(evalRows)} games x ${n(evalColumns.capacity)} columns, prefill, sampling`,
      fix: rollout >= evaluation ? generationFix : `lower eval.games (${config.eval.games})`,
    },
    {
      name: "training activations",
      phase: RUNNING,
      bytes: training - head,
      place: onDevice,
      detail:
        `micro-batch ${n(rows)} of ${n(lossRows)} rows x ${n(S)} tokens, ` +
        (checkpointed ? "gradient checkpointing" : "every layer's activations kept"),
      fix:
        (loraDominates
          ? `lower lora.r (${config.lora.r}) (most of it is the adapters' x A^T), or `
          : "lower ") +
        `per_device_train_batch_size (${config.per_device_train_batch_size})` +
        (checkpointed ? "" : ", or set gradient_checkpointing true"),
    },
    {
      name: "log-prob logits",
      phase: RUNNING,
      bytes: head,
      place: onDevice,
      detail: `float32 [${n(chunk)} positions, ${n(V)}] per chunk, ${HEAD_CHUNK_COPIES} copies`,
      fix: `lower per_device_train_batch_size (${config.per_device_train_batch_size})`,
    },
    {
      name: "checkpoint save",
      phase: CHECKPOINT,
      bytes: checkpointSave,
      place: "host",
      detail: "adapter + optimizer state copied for writing",
      fix: `lower lora.r (${config.lora.r})`,
    },
    {
      name: "final evaluation",
      phase: FINAL_EVALUATION,
      bytes: finalEvaluation,
      place: onDevice,
      detail: `train's before/after games: KV cache ${FINAL_EVAL_BATCH} games x ${n(finalColumns.capacity)} columns, prefill, sampling`,
      fix: "pass train --no-final-eval",
    },
  ];

  const fixed = runtime + weights * a + (2 * loraParams + copies) * F32 + states * loraParams * F32;
  const phases: Array<[string, number]> = [
    [RUNNING, generation + training],
    [CHECKPOINT, checkpointSave],
    [FINAL_EVALUATION, inputs.finalEvaluation === true ? finalEvaluation : 0],
  ];
  const [peakPhase, phaseBytes] = phases.reduce((x, y) => (y[1] > x[1] ? y : x));
  let hostBytes = fixed + phaseBytes;
  let deviceBytes = 0;
  if (onDevice === "device") {
    // On a GPU only the runtime and a checkpoint's copies are in host memory.
    hostBytes = runtime + checkpointSave;
    deviceBytes = fixed - runtime + Math.max(phases[0][1], phases[2][1]);
  }

  const notes: string[] = [];
  if (!lengths.source.startsWith("measured"))
    notes.push(
      `Sequence lengths ${lengths.source}: a model directory with its tokenizer gives measured ones.`,
    );
  if (onDevice === "device")
    notes.push(
      `${device}: the weights, adapter, optimizer state and activations are on the GPU; its free memory is not ` +
        "checked (the engine reports only its own allocations), the host part is.",
    );
  if (config.sft_mix.weight > 0)
    notes.push(
      `sft_mix: the teacher games' forward and backward (${config.sft_mix.games} games) are not counted.`,
    );
  return {
    total: hostBytes + deviceBytes,
    hostBytes,
    deviceBytes,
    parts: parts
      .filter((p) => p.phase !== FINAL_EVALUATION || inputs.finalEvaluation === true)
      .sort((x, y) => y.bytes - x.bytes),
    peakPhase,
    device,
    dtype,
    lengths,
    notes,
  };
}
