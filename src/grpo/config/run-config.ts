/** The resolved config a run directory keeps (RUN/config.json, docs/run-files.md). */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import type { RunPaths } from "../../run/run-dir.js";
import { atomicWriteFile } from "../../util/atomic.js";
import { type GrpoConfig, parseConfig } from "./config.js";

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
