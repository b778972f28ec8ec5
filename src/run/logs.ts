import {
  JsonlWriter,
  type JsonlWriterOptions,
  type JsonRow,
  readJsonl,
  truncateJsonlAfterStep,
} from "./jsonl.js";
import type { Monitor, MonitorFields } from "./monitor.js";
import type { EvalGameRow, SampleRow } from "./row-types.js";
import type { RunPaths } from "./run-dir.js";
import { TrackerSet } from "./trackers/tracker-set.js";

/**
 * The three logs of a run (docs/run-files.md) behind one object: training rows pass through the
 * monitor, which adds its fields before the row is written; eval rows, samples and games are
 * appended as given. On resume the logs are cut back to the checkpoint's step and the monitor
 * replays what is left, so the resumed run writes exactly the rows the uninterrupted one would.
 * Every metrics row and sample written is also handed to the run's experiment trackers
 * (`report_to`, src/run/trackers/), which can fail without stopping the run.
 */

export type { EvalGameRow, SampleRow } from "./row-types.js";

export class RunLogs {
  private readonly metrics: JsonlWriter;
  private readonly samples: JsonlWriter;
  private readonly games: JsonlWriter;

  constructor(
    readonly paths: RunPaths,
    readonly monitor: Monitor,
    /** How often rows are made durable (fsync); a synthetic run that needs no durability can say never. */
    writerOptions: JsonlWriterOptions = {},
    /** Experiment trackers (makeTrackers); none by default. */
    private readonly trackers: TrackerSet = new TrackerSet([], () => {}),
  ) {
    this.metrics = new JsonlWriter(paths.metrics, writerOptions);
    this.samples = new JsonlWriter(paths.samples, writerOptions);
    this.games = new JsonlWriter(paths.evalGames, writerOptions);
  }

  /**
   * Cut the logs back to `step` (rows after it will be logged again) and rebuild the monitor from
   * the metrics that remain. Call before constructing RunLogs when resuming from checkpoint-<step>.
   */
  static prepareResume(paths: RunPaths, step: number, monitor: Monitor): void {
    for (const path of [paths.metrics, paths.samples, paths.evalGames]) truncateJsonlAfterStep(path, step);
    monitor.replay(readJsonl(paths.metrics).rows);
  }

  /** Add the monitor's fields to a training row, write it, and return the fields. */
  logTrain(row: JsonRow): MonitorFields {
    const fields = this.monitor.observe(row);
    const written = { ...row, ...fields };
    this.metrics.append(written);
    this.trackers.logMetrics(written);
    return fields;
  }

  /** Write an eval row (keys `eval/...`) and let the monitor see it. */
  logEval(row: JsonRow): void {
    this.monitor.observeEval(row);
    this.metrics.append(row);
    this.trackers.logMetrics(row);
  }

  logSamples(rows: SampleRow[]): void {
    this.samples.append(...rows);
    this.trackers.logSamples(rows);
  }

  logGames(rows: EvalGameRow[]): void {
    this.games.append(...rows);
  }

  /** Make every row durable, the trackers' files included; call before writing a checkpoint. */
  flush(): void {
    this.metrics.flush();
    this.samples.flush();
    this.games.flush();
    this.trackers.flush();
  }

  /**
   * Close the logs and the trackers. The files are closed when this returns; the promise settles
   * once trackers that finish asynchronously (W&B's upload) are done or given up on. It never rejects.
   */
  close(): Promise<void> {
    this.metrics.close();
    this.samples.close();
    this.games.close();
    return this.trackers.close();
  }
}
