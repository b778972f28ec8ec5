/**
 * What a training checkpoint holds, and putting it back. A checkpoint folder
 * (`RUN/checkpoint-<step>/`, written atomically by src/run/checkpoints.ts) contains:
 *
 *   adapter_config.json, adapter_model.safetensors   the LoRA adapter (PEFT format)
 *   optimizer.safetensors, optimizer.json            optimizer buffers (raw bytes) and step counts
 *   rng_state.json                                   the engine's generator(s) and the data-order Rng
 *   trainer_state.json                               step, epoch, metrics window, best, counters
 *   generation_batch.json                            only when num_iterations > 1 and the batch of
 *                                                    the last step will be reused by the next one
 *
 * Together with metrics.jsonl (which the monitor replays) this is everything the next step depends
 * on, so a resumed run continues exactly as the uninterrupted one would.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBytes } from "../engine/create.js";
import type { Device } from "../engine/dtype.js";
import { getRngState, noGrad, scope, setRngState } from "../engine/index.js";
import type { OptimizerState } from "../engine/optim/state.js";
import { readSafetensors, writeSafetensors } from "../engine/safetensors.js";
import type { SafetensorsDtype } from "../engine/safetensors-dtypes.js";
import type { LoraAdapter } from "../model/lora.js";
import { ADAPTER_WEIGHTS_FILE, saveLoraAdapter } from "../model/lora-peft.js";
import type { BestState } from "../run/checkpoints.js";
import type { DataOrderState } from "./data-order.js";
import type { GenerationBatch } from "./rollout/rollout.js";
import type { MetricsWindowState } from "./trainer-metrics.js";

export const TRAINER_STATE_FILE = "trainer_state.json";
export const RNG_STATE_FILE = "rng_state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const OPTIMIZER_META_FILE = "optimizer.json";
export const GENERATION_BATCH_FILE = "generation_batch.json";

export interface TrainerState {
  /** Optimizer steps done. */
  global_step: number;
  max_steps: number;
  /** Fractional epoch reached. */
  epoch: number;
  logging_steps: number;
  eval_steps: number | null;
  save_steps: number;
  best: BestState;
  best_model_checkpoint: string | null;
  /** Metrics of the steps since the last logged row. */
  window: MetricsWindowState;
  /** Steps skipped for a non-finite loss or gradient: in all, and in a row up to now. */
  nonfinite_steps: number;
  consecutive_nonfinite: number;
  /** When the checkpoint was written and why (save_steps, interrupt, ...). */
  saved_at: string;
  reason: string;
  /**
   * Engine threads the run computed with: a resume uses them unless told otherwise, because the
   * thread count changes how reductions are split and so the last bits of the numbers (absent in
   * checkpoints written before it was recorded).
   */
  threads?: number;
}

export interface RngStates {
  /** The engine's generator per device, base64 (torch.get_rng_state bytes). */
  engine: Record<string, string>;
  data_order: DataOrderState;
}

const SAFETENSORS_DTYPE: Record<string, SafetensorsDtype> = {
  float32: "F32",
  bfloat16: "BF16",
  float16: "F16",
  float64: "F64",
};

export interface CheckpointContents {
  adapter: LoraAdapter;
  optimizer: OptimizerState;
  rng: RngStates;
  trainer: TrainerState;
  generation: GenerationBatch | null;
}

/** The engine generators a run draws from: the CPU one always, and the model's device's. */
export function captureEngineRng(device: Device): Record<string, string> {
  const states: Record<string, string> = { cpu: Buffer.from(getRngState("cpu")).toString("base64") };
  if (device !== "cpu" && device !== "mps")
    states[device] = Buffer.from(getRngState(device)).toString("base64");
  return states;
}

export function restoreEngineRng(states: Record<string, string>): void {
  for (const [device, base64] of Object.entries(states))
    setRngState(new Uint8Array(Buffer.from(base64, "base64")), device as Device);
}

export function writeCheckpointContents(dir: string, contents: CheckpointContents): void {
  saveLoraAdapter(contents.adapter, dir);
  const { buffers, ...meta } = contents.optimizer;
  writeSafetensors(
    join(dir, OPTIMIZER_FILE),
    Object.entries(buffers).map(([name, b]) => {
      const dtype = SAFETENSORS_DTYPE[b.dtype];
      if (dtype === undefined) throw new Error(`optimizer buffer ${name}: dtype ${b.dtype} cannot be saved`);
      return { name, dtype, shape: b.shape, data: b.bytes };
    }),
  );
  writeJson(join(dir, OPTIMIZER_META_FILE), meta);
  writeJson(join(dir, RNG_STATE_FILE), contents.rng);
  writeJson(join(dir, TRAINER_STATE_FILE), contents.trainer);
  if (contents.generation !== null) writeJson(join(dir, GENERATION_BATCH_FILE), contents.generation);
}

export interface LoadedCheckpoint {
  optimizer: OptimizerState;
  rng: RngStates;
  trainer: TrainerState;
  generation: GenerationBatch | null;
}

/** Reads everything but the adapter weights (see loadAdapterValues). Errors name the file. */
export function readCheckpointContents(dir: string): LoadedCheckpoint {
  const meta = optimizerMeta(join(dir, OPTIMIZER_META_FILE));
  const buffers: OptimizerState["buffers"] = {};
  const file = join(dir, OPTIMIZER_FILE);
  if (!existsSync(file)) throw new Error(`${file}: missing (the checkpoint is incomplete)`);
  for (const [name, t] of readSafetensors(file).tensors) {
    const dtype = Object.keys(SAFETENSORS_DTYPE).find((k) => SAFETENSORS_DTYPE[k] === t.dtype);
    if (dtype === undefined) throw new Error(`${file}: tensor ${name} has unsupported dtype ${t.dtype}`);
    buffers[name] = {
      dtype: dtype as OptimizerState["buffers"][string]["dtype"],
      shape: t.shape,
      bytes: t.data,
    };
  }
  const generationPath = join(dir, GENERATION_BATCH_FILE);
  return {
    optimizer: { ...meta, buffers },
    rng: readJson(join(dir, RNG_STATE_FILE)) as RngStates,
    trainer: readJson(join(dir, TRAINER_STATE_FILE)) as TrainerState,
    generation: existsSync(generationPath) ? (readJson(generationPath) as GenerationBatch) : null,
  };
}

/**
 * Copies a checkpoint's adapter weights into the live adapter's parameters (same tensors, so the
 * optimizer keeps pointing at them). Every parameter must be present with its shape.
 */
export function loadAdapterValues(adapter: LoraAdapter, dir: string): void {
  const path = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(path)) throw new Error(`${path}: missing (the checkpoint is incomplete)`);
  const saved = readSafetensors(path).tensors;
  const params = adapter.parameters();
  if (saved.size !== params.length)
    throw new Error(
      `${path}: ${saved.size} tensors, the adapter has ${params.length} (were the LoRA settings changed?)`,
    );
  for (const { name, tensor } of params) {
    const t = saved.get(name);
    if (t === undefined) throw new Error(`${path}: no tensor ${name}`);
    if (t.shape.length !== tensor.shape.length || t.shape.some((d, i) => d !== tensor.shape[i]))
      throw new Error(`${path}: ${name} has shape [${t.shape}], the adapter [${tensor.shape}]`);
    const dtype = Object.keys(SAFETENSORS_DTYPE).find((k) => SAFETENSORS_DTYPE[k] === t.dtype);
    if (dtype === undefined) throw new Error(`${path}: ${name} has unsupported dtype ${t.dtype}`);
    scope(() =>
      noGrad(() => {
        tensor.copy_(fromBytes(t.data, dtype as "float32", t.shape, { device: tensor.device }));
      }),
    );
    // A diverged checkpoint would train on garbage, and a finished run's resume would write it as final/.
    if (!tensor.allFinite()) throw new Error(`${path}: ${name} holds NaN or infinite values`);
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value)}\n`);
}

/** optimizer.json, checked field by field: a malformed file gets a message naming it and the field. */
function optimizerMeta(path: string): Omit<OptimizerState, "buffers"> {
  const meta = readJson(path) as Record<string, unknown> | null;
  const fail = (what: string): never => {
    throw new Error(`${path}: ${what} (the checkpoint is damaged; resume from another one)`);
  };
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return fail("not a JSON object");
  if (typeof meta.kind !== "string") fail('"kind" must be the optimizer\'s name (a string)');
  const hyper = meta.hyper;
  if (hyper === null || typeof hyper !== "object" || Array.isArray(hyper)) fail('"hyper" must be an object');
  const steps = meta.steps;
  if (!Array.isArray(steps) || !steps.every((n) => Number.isInteger(n) && n >= 0))
    fail('"steps" must be a list of step counts (non-negative integers)');
  return meta as unknown as Omit<OptimizerState, "buffers">;
}

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new Error(`${path}: missing (the checkpoint is incomplete)`);
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}
