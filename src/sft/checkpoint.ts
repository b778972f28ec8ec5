/**
 * Resumable state of a supervised run, in RUN/checkpoint/:
 * - an HF model directory holding the float32 master weights (config.json + model.safetensors);
 * - optimizer.safetensors + optimizer.json: AdamW moments, step counts and hyper-parameters;
 * - state.json: the step, seconds trained, the secret/teacher Rng state and the libtorch RNG.
 * Written into checkpoint.tmp/ and renamed, so a crash mid-write leaves the previous one intact.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AdamW,
  fromBytes,
  getRngState,
  loadSafetensors,
  noGrad,
  saveSafetensors,
} from "../engine/index.js";
import type { OptimizerState, StateBuffer } from "../engine/optim/state.js";
import type { ModelConfig } from "../model/hf-config.js";
import { loadWeights, type ModelWeights } from "../model/weights.js";
import type { RngState } from "../util/rng.js";
import { namedWeights } from "./model-files.js";

export interface SftProgressState {
  step: number;
  seconds: number;
  gamesSeen: number;
  rng: RngState;
  /** libtorch's CPU generator, base64 (nothing random uses it today; kept for exactness). */
  torchRng: string;
}

export const CHECKPOINT_DIR = "checkpoint";

export function saveCheckpoint(
  runDir: string,
  configJson: Record<string, unknown>,
  config: ModelConfig,
  masters: ModelWeights,
  optimizer: AdamW,
  progress: Omit<SftProgressState, "torchRng">,
): void {
  const final = join(runDir, CHECKPOINT_DIR);
  const tmp = join(runDir, `${CHECKPOINT_DIR}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(
    join(tmp, "config.json"),
    `${JSON.stringify({ ...configJson, torch_dtype: "float32" }, null, 2)}\n`,
  );
  saveSafetensors(join(tmp, "model.safetensors"), namedWeights(config, masters), { format: "pt" });
  const state = optimizer.state();
  const buffers = new Map(
    Object.entries(state.buffers).map(([name, b]) => [
      name,
      noGrad(() => fromBytes(b.bytes, b.dtype, b.shape)),
    ]),
  );
  try {
    saveSafetensors(join(tmp, "optimizer.safetensors"), buffers);
  } finally {
    for (const t of buffers.values()) t.dispose();
  }
  writeFileSync(
    join(tmp, "optimizer.json"),
    `${JSON.stringify({ kind: state.kind, hyper: state.hyper, steps: state.steps })}\n`,
  );
  const full: SftProgressState = { ...progress, torchRng: Buffer.from(getRngState()).toString("base64") };
  writeFileSync(join(tmp, "state.json"), `${JSON.stringify(full, null, 2)}\n`);
  const old = join(runDir, `${CHECKPOINT_DIR}.old`);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  masters: ModelWeights;
  optimizerState: OptimizerState;
  progress: SftProgressState;
}

export function loadCheckpoint(runDir: string, config: ModelConfig): LoadedCheckpoint {
  const dir = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(join(dir, "state.json")))
    throw new Error(
      `${runDir}: no ${CHECKPOINT_DIR}/state.json to resume from (was the run started with sft?)`,
    );
  const progress = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as SftProgressState;
  const meta = JSON.parse(readFileSync(join(dir, "optimizer.json"), "utf8")) as Omit<
    OptimizerState,
    "buffers"
  >;
  const tensors = loadSafetensors(join(dir, "optimizer.safetensors"));
  const buffers: Record<string, StateBuffer> = {};
  for (const [name, t] of tensors) {
    buffers[name] = { dtype: t.dtype, shape: [...t.shape], bytes: t.toBytes() };
    t.dispose();
  }
  const masters = loadWeights(dir, config, { dtype: "float32" });
  return { masters, optimizerState: { ...meta, buffers }, progress };
}
