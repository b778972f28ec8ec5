/**
 * A memory estimate as every command reports it: its parts, the peak, how it is printed, and
 * whether it fits in what this machine has (the estimates themselves are grpo's and sft's).
 */
import { type AvailableMemory, currentRss } from "../util/memory-available.js";
import { type FloatDtype, MiB } from "./memory-model.js";

/**
 * Node, libtorch and the addon, loaded, with the project's modules and word lists: 212 MiB RSS at
 * `train`'s start (libtorch 1.13 CPU build, Node 20, x86-64), plus the JS heap a run grows
 * (games, logs): 30-40 MiB. memory-check.ts uses the process's own RSS where it is larger (a CUDA
 * build maps more libraries).
 */
export const RUN_HEAP_GROWTH_BYTES = 32 * MiB;
export const RUNTIME_BASELINE_BYTES = 208 * MiB + RUN_HEAP_GROWTH_BYTES;

/** Tokens of the rows the run generates and trains on. */
export interface SequenceLengths {
  /** single_state: the longest training prompt; multi_turn: the first turn's prompt. */
  prompt: number;
  /** max_completion_length. */
  completion: number;
  /** A whole game of max_turns turns (a multi_turn loss row; evaluation's longest row). */
  game: number;
  /** How they were obtained: measured with the model's tokenizer, or assumed from the config. */
  source: string;
}

/** Where a part lives: host RAM, or the accelerator (host RAM too for cpu and mps). */
export type MemoryPlace = "host" | "device";

export interface MemoryPart {
  name: string;
  bytes: number;
  place: MemoryPlace;
  /** How it was computed, with the numbers. */
  detail: string;
  /** What makes it smaller (the setting to change), or null for the fixed runtime. */
  fix: string | null;
  /** The phase it belongs to (phases do not overlap: the largest sets the peak), or null: always held. */
  phase: string | null;
}

export interface MemoryEstimate {
  /** Peak bytes of one rank: hostBytes + deviceBytes. */
  total: number;
  /** Peak of the host's and the GPU's share (all of it is host memory on cpu and mps). */
  hostBytes: number;
  deviceBytes: number;
  /** Every part, largest first; the phases after "optimizer state" do not add up (see peakPhase). */
  parts: MemoryPart[];
  /** The phase that sets the peak: "generation + training", "checkpoint save" or "final evaluation". */
  peakPhase: string;
  device: string;
  dtype: FloatDtype;
  lengths: SequenceLengths;
  notes: string[];
}

export const SKIP_MEMORY_CHECK_ENV = "WORDLE_SKIP_MEMORY_CHECK";

/** The estimate may use this share of the available memory; the rest is a margin for what it misses. */
export const USABLE_SHARE = 0.9;

/**
 * The runtime part: this process as it is now (Node, libtorch and the addon loaded) plus the heap
 * a run grows, at least the measured baseline.
 */
export function runtimeBytes(): number {
  return Math.max(RUNTIME_BASELINE_BYTES, currentRss() + RUN_HEAP_GROWTH_BYTES);
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

/** Bytes as KiB / MiB / GiB / TiB (binary units: what `free -h` and the OOM killer count). */
export function formatMemory(bytes: number): string {
  if (bytes >= 2 ** 40) return `${(bytes / 2 ** 40).toFixed(1)} TiB`;
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(bytes >= 100 * 2 ** 30 ? 0 : 1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** The estimate as `plan` prints it: the peak, then one line per part, largest first. */
export function formatMemoryEstimate(estimate: MemoryEstimate, indent = "  "): string[] {
  const where =
    estimate.deviceBytes > 0
      ? `${formatMemory(estimate.deviceBytes)} on ${estimate.device} + ${formatMemory(estimate.hostBytes)} host`
      : `${estimate.device}, host memory`;
  const width = Math.max(...estimate.parts.map((p) => p.name.length));
  return [
    `${indent}memory, peak       ${formatMemory(estimate.total)} per process (${where}, ${estimate.dtype}; at ${estimate.peakPhase})`,
    ...estimate.parts.map(
      (p) =>
        `${indent}  ${p.name.padEnd(width)}  ${formatMemory(p.bytes).padStart(9)}  ${p.detail}` +
        (p.phase === null || p.phase === estimate.peakPhase ? "" : ` (${p.phase}, not at the peak)`) +
        (p.fix === null ? "" : `; ${p.fix}`),
    ),
    `${indent}  sequence lengths: prompt ${estimate.lengths.prompt}, completion ${estimate.lengths.completion}, game ${estimate.lengths.game} tokens (${estimate.lengths.source})`,
  ];
}
