import { basename, join, resolve } from "node:path";
import { readJsonl } from "../jsonl.js";
import type { RunPaths } from "../run-dir.js";
import { CsvTracker } from "./csv.js";
import { TRACKER_NAMES, type TrackerName } from "./names.js";
import { TensorBoardTracker } from "./tensorboard.js";
import type { Tracker, TrackerWarn } from "./tracker.js";
import { TrackerSet } from "./tracker-set.js";
import { openWandb } from "./wandb.js";

/**
 * The trackers a run's `report_to` names, ready for RunLogs. The trainer calls this on rank 0,
 * after a resume has cut the logs back (the csv tracker starts from metrics.jsonl as it is then).
 * A tracker that cannot start is reported and left out: the run goes on without it.
 */

/** The config keys the trackers read; the whole config is what they record as the run's settings. */
export interface TrackerConfig {
  report_to: readonly string[];
  logging_dir: string | null;
  run_name: string | null;
}

/** RUN/metrics.csv. */
export const csvPath = (paths: RunPaths): string => join(paths.root, "metrics.csv");

/** logging_dir (relative to the working directory, as in HF), or RUN/runs. */
export const tensorboardDir = (config: TrackerConfig, paths: RunPaths): string =>
  config.logging_dir === null ? join(paths.root, "runs") : resolve(config.logging_dir);

const isTrackerName = (name: string): name is TrackerName =>
  (TRACKER_NAMES as readonly string[]).includes(name);

export async function makeTrackers(
  config: TrackerConfig & Record<string, unknown>,
  paths: RunPaths,
  warn: TrackerWarn,
): Promise<TrackerSet> {
  const trackers: Tracker[] = [];
  const started: string[] = [];
  for (const name of config.report_to) {
    if (!isTrackerName(name)) {
      warn(`report_to: unknown tracker "${name}" skipped (supported: ${TRACKER_NAMES.join(", ")})`);
      continue;
    }
    try {
      const tracker = await openTracker(name, config, paths, warn);
      if (tracker === null) continue;
      trackers.push(tracker);
      started.push(
        name === "tensorboard"
          ? `tensorboard -> ${tensorboardDir(config, paths)}`
          : name === "csv"
            ? `csv -> ${csvPath(paths)}`
            : name,
      );
    } catch (err) {
      warn(`report_to ${name}: cannot start (${(err as Error).message}); the run goes on without it`);
    }
  }
  if (started.length > 0) warn(`report_to: ${started.join(", ")}`);
  return new TrackerSet(trackers, warn);
}

function openTracker(
  name: TrackerName,
  config: TrackerConfig & Record<string, unknown>,
  paths: RunPaths,
  warn: TrackerWarn,
): Promise<Tracker | null> | Tracker {
  switch (name) {
    case "tensorboard":
      return new TensorBoardTracker(tensorboardDir(config, paths), config);
    case "csv":
      return new CsvTracker(csvPath(paths), readJsonl(paths.metrics).rows);
    case "wandb":
      return openWandb(
        {
          runName: config.run_name ?? basename(paths.root),
          config,
          tensorboardDir: tensorboardDir(config, paths),
          tensorboardOn: config.report_to.includes("tensorboard"),
        },
        warn,
      );
  }
}
