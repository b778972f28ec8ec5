import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { writeDirectoryAtomically } from "../util/atomic.js";
import { CHECKPOINT_PREFIX, type RunPaths } from "./run-dir.js";

/**
 * Checkpoint folders: atomic saving, discovery for resume, retention by save_total_limit, and the
 * best checkpoint by a metric. What goes inside a checkpoint is the trainer's business; here a
 * checkpoint is a folder `checkpoint-<step>/` that appears complete or not at all.
 */

export interface CheckpointInfo {
  step: number;
  path: string;
}

const CHECKPOINT_NAME = new RegExp(`^${CHECKPOINT_PREFIX}(\\d+)$`);

/** The step of a `checkpoint-<step>` folder name, or undefined for anything else (`.tmp` included). */
export function checkpointStep(name: string): number | undefined {
  const m = CHECKPOINT_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Completed checkpoints, oldest first. */
export function listCheckpoints(paths: RunPaths): CheckpointInfo[] {
  if (!existsSync(paths.root)) return [];
  const found: CheckpointInfo[] = [];
  for (const name of readdirSync(paths.root)) {
    const step = checkpointStep(name);
    const path = join(paths.root, name);
    if (step !== undefined && statSync(path).isDirectory()) found.push({ step, path });
  }
  return found.sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(paths: RunPaths): CheckpointInfo | undefined {
  return listCheckpoints(paths).at(-1);
}

/**
 * Which checkpoint `--resume` means: "latest" (or true), a step number, a folder name, or a path
 * to a checkpoint folder. Errors list what exists.
 */
export function findCheckpoint(paths: RunPaths, spec: string | number | true): CheckpointInfo {
  const all = listCheckpoints(paths);
  const available = all.length === 0 ? "none" : all.map((c) => c.step).join(", ");
  if (spec === true || spec === "latest") {
    const latest = all.at(-1);
    if (latest === undefined)
      throw new Error(
        `${paths.root}: no checkpoint-<step>/ folder to resume from (a run stopped before its first ` +
          "checkpoint: start it again without --resume)",
      );
    return latest;
  }
  const isPath = typeof spec === "string" && !/^\d+$/.test(spec);
  const step =
    typeof spec === "number" ? spec : isPath ? checkpointStep(basename(resolve(spec))) : Number(spec);
  // A path must name one of this run's checkpoints: a mistyped or foreign path must not resume
  // (and prune) this run's checkpoint of the same name.
  if (isPath && (step === undefined || resolve(spec) !== paths.checkpoint(step)))
    throw new Error(
      existsSync(resolve(spec))
        ? `--resume ${spec}: not a checkpoint folder of ${paths.root} (give one of its checkpoint-<step> folders, a step, or latest)`
        : `--resume ${spec}: no such checkpoint folder (available steps of ${paths.root}: ${available})`,
    );
  const match = all.find((c) => c.step === step);
  if (match === undefined) {
    throw new Error(`${paths.root}: no checkpoint ${JSON.stringify(spec)} (available steps: ${available})`);
  }
  return match;
}

/** Save `checkpoint-<step>/` atomically: `fill` writes into a temp folder that is renamed when done. */
export function saveCheckpoint(paths: RunPaths, step: number, fill: (dir: string) => void): CheckpointInfo {
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`saveCheckpoint: step must be an integer >= 0, got ${step}`);
  const path = paths.checkpoint(step);
  writeDirectoryAtomically(path, fill);
  return { step, path };
}

/**
 * Retention by save_total_limit, as the HF Trainer does it: keep the newest checkpoints up to the
 * limit, but never delete a protected one (the best checkpoint; also the one just saved). A
 * protected checkpoint counts toward the limit, so with limit 3 and an old best, the best and the
 * two newest stay; with limit 1 and an old best, two stay. null keeps everything.
 * Returns the steps deleted.
 */
export function applyRetention(
  paths: RunPaths,
  limit: number | null,
  protect: readonly number[] = [],
): number[] {
  if (limit === null) return [];
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`save_total_limit must be a positive integer, got ${limit}`);
  const all = listCheckpoints(paths);
  if (all.length <= limit) return [];
  const steps = all.map((c) => c.step);
  const keep = new Set<number>([steps.at(-1)!, ...protect.filter((s) => steps.includes(s))]);
  for (let i = steps.length - 1; i >= 0 && keep.size < limit; i--) keep.add(steps[i]!);
  const deleted: number[] = [];
  for (const c of all) {
    if (!keep.has(c.step)) {
      rmSync(c.path, { recursive: true, force: true });
      deleted.push(c.step);
    }
  }
  return deleted;
}

/** Best-so-far by one metric (HF: metric_for_best_model, greater_is_better, best_metric). */
export interface BestState {
  metric: string;
  greater_is_better: boolean;
  best_metric: number | null;
  best_step: number | null;
}

export class BestTracker {
  private state: BestState;

  constructor(metric: string, greaterIsBetter: boolean, saved?: BestState) {
    if (saved !== undefined && (saved.metric !== metric || saved.greater_is_better !== greaterIsBetter)) {
      throw new Error(
        `best checkpoint: the saved state tracks ${saved.metric} (${saved.greater_is_better ? "greater" : "smaller"} is better), ` +
          `the config asks for ${metric} (${greaterIsBetter ? "greater" : "smaller"} is better)`,
      );
    }
    this.state = saved ?? { metric, greater_is_better: greaterIsBetter, best_metric: null, best_step: null };
  }

  /**
   * Offer a row (usually an eval row). Returns true when it sets a new best: strictly better than
   * before (ties keep the earlier step, like HF). Rows without a finite value are ignored.
   */
  consider(step: number, row: Record<string, unknown>): boolean {
    const value = row[this.state.metric];
    if (typeof value !== "number" || !Number.isFinite(value)) return false;
    const best = this.state.best_metric;
    const better = best === null || (this.state.greater_is_better ? value > best : value < best);
    if (better) this.state = { ...this.state, best_metric: value, best_step: step };
    return better;
  }

  get bestStep(): number | null {
    return this.state.best_step;
  }

  get bestValue(): number | null {
    return this.state.best_metric;
  }

  /** For trainer_state.json, so a resumed run keeps its best. */
  toJSON(): BestState {
    return { ...this.state };
  }
}
