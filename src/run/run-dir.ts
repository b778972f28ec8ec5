import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { type GrpoConfig, parseConfig } from "../grpo/config.js";
import { atomicWriteFile, removeStaleTemps } from "./atomic.js";

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
  mkdirSync(paths.root, { recursive: true });
  removeStaleTemps(paths.root);
  return paths;
}

/** Keys added to config.json for tools (docs/run-files.md); stripped again when it is read back. */
const DERIVED_KEYS = ["reward_preset"] as const;

/**
 * Write config.json: the resolved config with `max_steps` set to the run's actual step count (so
 * tools can size axes and ETAs even when the config counted epochs), `run_name` defaulted to the
 * directory name, and `reward_preset` copied up from `reward.preset`.
 */
export function writeRunConfig(paths: RunPaths, config: GrpoConfig, totalSteps: number): void {
  const record = {
    ...config,
    run_name: config.run_name ?? basename(paths.root),
    max_steps: totalSteps,
    reward_preset: config.reward.preset,
  };
  atomicWriteFile(paths.config, `${JSON.stringify(record, null, 2)}\n`);
}

/** Read config.json back into a validated config (for resume and `eval`). */
export function readRunConfig(paths: RunPaths): GrpoConfig {
  if (!existsSync(paths.config)) throw new Error(`${paths.root}: no config.json (is this a run directory?)`);
  let values: Record<string, unknown>;
  try {
    values = JSON.parse(readFileSync(paths.config, "utf8"));
  } catch (err) {
    throw new Error(`${paths.config}: not valid JSON (${(err as Error).message})`);
  }
  for (const key of DERIVED_KEYS) delete values[key];
  return parseConfig(values, paths.config).config;
}
