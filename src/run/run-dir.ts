import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeStaleTemps } from "../util/atomic.js";
import { fileError } from "../util/file-errors.js";

/**
 * The run directory (docs/run-files.md):
 *
 *   RUN/config.json          the resolved config (+ the keys tools read: reward_preset, run_name, max_steps)
 *   RUN/metrics.jsonl        training rows and eval rows
 *   RUN/samples.jsonl        sample completions
 *   RUN/eval-games.jsonl     evaluation games
 *   RUN/checkpoint-<step>/   adapter, optimizer, RNG, trainer_state.json
 *   RUN/best/, RUN/final/    adapters
 */

export interface RunPaths {
  root: string;
  config: string;
  metrics: string;
  samples: string;
  evalGames: string;
  best: string;
  final: string;
  checkpoint(step: number): string;
}

export const CHECKPOINT_PREFIX = "checkpoint-";

export function runPaths(root: string): RunPaths {
  const dir = resolve(root);
  return {
    root: dir,
    config: join(dir, "config.json"),
    metrics: join(dir, "metrics.jsonl"),
    samples: join(dir, "samples.jsonl"),
    evalGames: join(dir, "eval-games.jsonl"),
    best: join(dir, "best"),
    final: join(dir, "final"),
    checkpoint: (step: number) => join(dir, `${CHECKPOINT_PREFIX}${step}`),
  };
}

/** Create the run directory (or reopen it) and clear leftovers of interrupted atomic writes. */
export function openRunDirectory(root: string): RunPaths {
  const paths = runPaths(root);
  try {
    mkdirSync(paths.root, { recursive: true });
  } catch (err) {
    throw fileError(err, paths.root, "create the run directory");
  }
  removeStaleTemps(paths.root);
  return paths;
}
