/**
 * The memory check `train` and `sft` run before they allocate anything: the estimate
 * (memory-estimate.ts, memory-estimate-sft.ts) against what this machine has left
 * (memory-available.ts). A run that would not fit is refused with its largest parts and what to
 * change for each, instead of growing tensor by tensor until the OOM killer ends it.
 *
 * WORDLE_SKIP_MEMORY_CHECK=1 skips the check (the estimate is deliberately on the high side).
 */
import { hasFusedAttention } from "../engine/index.js";
import { loadHfConfig, type ModelConfig } from "../model/hf-config.js";
import { loadTokenizer, type Tokenizer } from "../model/tokenizer.js";
import type { GrpoConfig } from "./config/schema.js";
import { type AvailableMemory, availableHostMemory, currentRss } from "./memory-available.js";
import {
  estimateGrpoMemory,
  type MemoryEstimate,
  RUN_HEAP_GROWTH_BYTES,
  RUNTIME_BASELINE_BYTES,
} from "./memory-estimate.js";
import { estimateSftMemory, sftGameTokens } from "./memory-estimate-sft.js";
import { formatMemory } from "./memory-format.js";
import { assumedLengths, measuredLengths } from "./memory-lengths.js";
import type { FloatDtype } from "./memory-model.js";
import { type ModelShape, QWEN25_05B_SHAPE } from "./plan.js";
import { resolveDevice, resolveDtype, resolveModelDir } from "./trainer-setup.js";

export const SKIP_MEMORY_CHECK_ENV = "WORDLE_SKIP_MEMORY_CHECK";

/** The estimate may use this share of the available memory; the rest is a margin for what it misses. */
export const USABLE_SHARE = 0.9;

/** A model directory's shape (config.json through the one parser), named by the directory. */
export function modelShapeOf(dir: string): ModelShape {
  return { ...loadHfConfig(dir), name: dir };
}

/**
 * The runtime part: this process as it is now (Node, libtorch and the addon loaded) plus the heap
 * a run grows, at least the measured baseline.
 */
export function runtimeBytes(): number {
  return Math.max(RUNTIME_BASELINE_BYTES, currentRss() + RUN_HEAP_GROWTH_BYTES);
}

/**
 * The GRPO estimate for a config on this machine: its model directory's shape and tokenizer
 * (measured lengths) when there is one, else the Qwen2.5-0.5B shape and the config's limits.
 */
export function grpoMemoryEstimate(
  config: GrpoConfig,
  options: { modelDir?: string; ranks?: number; finalEvaluation?: boolean } = {},
): MemoryEstimate {
  const device = resolveDevice(config);
  const dtype = resolveDtype(config, device) as FloatDtype;
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
    fusedAttention: hasFusedAttention(),
    ranks: options.ranks,
    runtimeBytes: runtimeBytes(),
    finalEvaluation: options.finalEvaluation,
  });
}

function envCount(name: string): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

export interface FitOptions {
  /** Processes sharing this host's memory (ranks of one job). Default 1. */
  processes?: number;
  /** This process's resident memory now: part of the estimate, no longer in `available`. */
  resident?: number;
  /** Where the user sees the whole estimate, for the message. */
  seeAlso?: string;
}

/**
 * Why `estimate` does not fit in `available` (a message naming the largest parts and what to
 * change), or null when it fits within USABLE_SHARE of it.
 */
export function memoryProblem(
  command: string,
  estimate: MemoryEstimate,
  available: AvailableMemory,
  options: FitOptions = {},
): string | null {
  const processes = options.processes ?? 1;
  const resident = options.resident ?? currentRss();
  const needed = estimate.hostBytes * processes;
  if (needed <= available.bytes * USABLE_SHARE + resident) return null;
  // The parts that make up the host's peak: those always held and those of the peak's phase.
  const largest = estimate.parts
    .filter((p) => p.phase === null || p.phase === estimate.peakPhase)
    .filter((p) => (p.place === "host" || estimate.deviceBytes === 0) && p.fix !== null && p.bytes > 0)
    .slice(0, 3)
    .map((p) => `${p.name} ${formatMemory(p.bytes)}: ${p.fix}`);
  return (
    `${command}: not enough memory. The run needs about ${formatMemory(needed)} of host memory at its peak` +
    (processes > 1 ? ` (${processes} ranks on this host, ${formatMemory(estimate.hostBytes)} each)` : "") +
    `; this machine has ${formatMemory(available.bytes + resident)} available (${available.source}, ` +
    `this process included). Largest parts: ${largest.join("; ")}. ` +
    (options.seeAlso ? `${options.seeAlso} shows the whole estimate; ` : "") +
    `${SKIP_MEMORY_CHECK_ENV}=1 starts the run anyway.`
  );
}

export function memoryCheckSkipped(): boolean {
  const value = process.env[SKIP_MEMORY_CHECK_ENV];
  return value !== undefined && value !== "" && value !== "0";
}

/**
 * `train`: throws before the model is loaded when the run would not fit. Ranks come from the
 * torchrun variables (WORLD_SIZE: each rank's share of the step; LOCAL_WORLD_SIZE: processes on
 * this host), as train --nproc and torchrun set them.
 */
export function checkTrainingMemory(config: GrpoConfig): void {
  if (memoryCheckSkipped()) return;
  const estimate = grpoMemoryEstimate(config, {
    modelDir: resolveModelDir(config),
    ranks: envCount("WORLD_SIZE"),
  });
  const problem = memoryProblem("train", estimate, availableHostMemory(), {
    processes: envCount("LOCAL_WORLD_SIZE"),
    seeAlso: "`wordle-grpo plan` (same --preset, --config and --set)",
  });
  if (problem !== null) throw new Error(problem);
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
