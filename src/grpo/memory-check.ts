/**
 * The memory check `train` and `sft` run before they allocate anything: the estimate
 * (memory-estimate.ts; sft/memory-estimate.ts for sft) against what this machine has left
 * (memory-available.ts). A run that would not fit is refused with its largest parts and what to
 * change for each, instead of growing tensor by tensor until the OOM killer ends it.
 *
 * WORDLE_SKIP_MEMORY_CHECK=1 skips the check (the estimate is deliberately on the high side).
 *
 * Nothing here loads the libtorch addon: what the estimate needs from the engine comes in as
 * EngineFacts (trainer-setup.ts engineFacts), so `plan` runs where the addon is not built.
 */
import type { Device } from "../engine/index.js";
import { loadHfConfig } from "../model/hf-config.js";
import type { FloatDtype } from "../model/memory-model.js";
import {
  type MemoryEstimate,
  memoryCheckSkipped,
  memoryProblem,
  runtimeBytes,
} from "../model/memory-report.js";
import { loadTokenizer } from "../model/tokenizer.js";
import { availableHostMemory } from "../util/memory-available.js";
import type { GrpoConfig } from "./config/schema.js";
import { estimateGrpoMemory } from "./memory-estimate.js";
import { assumedLengths, measuredLengths } from "./memory-lengths.js";
import { resolveModelDir } from "./model-dir.js";
import { type ModelShape, QWEN25_05B_SHAPE } from "./plan.js";

/** A model directory's shape (config.json through the one parser), named by the directory. */
export function modelShapeOf(dir: string): ModelShape {
  return { ...loadHfConfig(dir), name: dir };
}

/** The device and dtype a run of the config would use, and whether libtorch has fused attention. */
export interface EngineFacts {
  device: Device;
  dtype: FloatDtype;
  fusedAttention: boolean;
}

/**
 * Without the addon: the config's own device and dtype, and for `auto` the CPU in float32 (the
 * larger of the CPU's two choices), without fused attention (the larger attention buffers).
 */
export function assumedEngineFacts(config: GrpoConfig): EngineFacts {
  return {
    device: config.device === "auto" ? "cpu" : (config.device as Device),
    dtype: config.dtype === "auto" ? "float32" : (config.dtype as FloatDtype),
    fusedAttention: false,
  };
}

/**
 * The GRPO estimate for a config on this machine: its model directory's shape and tokenizer
 * (measured lengths) when there is one, else the Qwen2.5-0.5B shape and the config's limits.
 */
export function grpoMemoryEstimate(
  config: GrpoConfig,
  engine: EngineFacts,
  options: { modelDir?: string; ranks?: number; finalEvaluation?: boolean } = {},
): MemoryEstimate {
  const { device, dtype } = engine;
  const dir = options.modelDir;
  let lengths = assumedLengths(config);
  if (dir !== undefined) {
    try {
      lengths = measuredLengths(config, loadTokenizer(dir));
    } catch {
      // No usable tokenizer: the config's limits (loading the policy reports the tokenizer itself).
    }
  }
  return estimateGrpoMemory(config, {
    shape: dir === undefined ? QWEN25_05B_SHAPE : modelShapeOf(dir),
    dtype,
    device,
    lengths,
    fusedAttention: engine.fusedAttention,
    ranks: options.ranks,
    runtimeBytes: runtimeBytes(),
    finalEvaluation: options.finalEvaluation,
  });
}

function envCount(name: string): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/**
 * `train`: throws before the model is loaded when the run would not fit. Ranks come from the
 * torchrun variables (WORLD_SIZE: each rank's share of the step; LOCAL_WORLD_SIZE: processes on
 * this host), as train --nproc and torchrun set them.
 */
export function checkTrainingMemory(config: GrpoConfig, engine: EngineFacts): void {
  if (memoryCheckSkipped()) return;
  const estimate = grpoMemoryEstimate(config, engine, {
    modelDir: resolveModelDir(config),
    ranks: envCount("WORLD_SIZE"),
  });
  const problem = memoryProblem("train", estimate, availableHostMemory(), {
    processes: envCount("LOCAL_WORLD_SIZE"),
    seeAlso: "`wordle-grpo plan` (same --preset, --config and --set)",
  });
  if (problem !== null) throw new Error(problem);
}
