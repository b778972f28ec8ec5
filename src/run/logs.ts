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

/**
 * The three logs of a run (docs/run-files.md) behind one object: training rows pass through the
 * monitor, which adds its fields before the row is written; eval rows, samples and games are
 * appended as given. On resume the logs are cut back to the checkpoint's step and the monitor
 * replays what is left, so the resumed run writes exactly the rows the uninterrupted one would.
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
    this.metrics.append({ ...row, ...fields });
    return fields;
  }

  /** Write an eval row (keys `eval/...`) and let the monitor see it. */
  logEval(row: JsonRow): void {
    this.monitor.observeEval(row);
    this.metrics.append(row);
  }

  logSamples(rows: SampleRow[]): void {
    this.samples.append(...rows);
  }

  logGames(rows: EvalGameRow[]): void {
    this.games.append(...rows);
  }

  /** Make every row durable; call before writing a checkpoint. */
  flush(): void {
    this.metrics.flush();
    this.samples.flush();
    this.games.flush();
  }

  close(): void {
    this.metrics.close();
    this.samples.close();
    this.games.close();
  }
}
