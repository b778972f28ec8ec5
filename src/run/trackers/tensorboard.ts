import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileError } from "../../util/file-errors.js";
import { AppendFile } from "../append-file.js";
import type { JsonRow } from "../jsonl.js";
import type { SampleRow } from "../row-types.js";
import { configMarkdown, samplesMarkdown } from "./markdown.js";
import { numericMetrics, rowStep } from "./metric-values.js";
import { fileVersionEvent, scalarsEvent, textEvent } from "./tensorboard-event.js";
import { tfRecord } from "./tfrecord.js";
import type { Tracker } from "./tracker.js";

/**
 * `report_to: tensorboard`: an event file TensorBoard reads (`tensorboard --logdir RUN/runs`), in
 * the folder it was given (logging_dir, or RUN/runs). Each metrics row becomes one event with a
 * scalar per numeric metric (tag = the metric's key, as in metrics.jsonl); each logged step's
 * samples become a text table under the tag `completions`; the config is text under `config` at
 * step 0.
 *
 * Every process writes a file of its own, as TensorBoard's writers do. A resumed run writes again
 * the steps after its checkpoint; TensorBoard's readers then keep the later file's points: a step
 * lower than the last one read for a tag replaces the points from that step on.
 */

/** Seconds since the epoch, the unit of an event's wall_time. */
const wallTime = (): number => Date.now() / 1000;

/**
 * `events.out.tfevents.<unix seconds>.<host>.<pid>.<n>`, the name TensorBoard looks for (any file
 * containing "tfevents"); n counts up when a file of this process and second already exists.
 */
function createEventFile(dir: string): AppendFile {
  const seconds = Math.floor(Date.now() / 1000);
  for (let n = 0; ; n++) {
    const path = join(dir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${n}`);
    try {
      return new AppendFile(path, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

export class TensorBoardTracker implements Tracker {
  readonly name = "tensorboard";
  private readonly file: AppendFile;

  constructor(dir: string, config: Record<string, unknown>) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw fileError(err, dir, "create the TensorBoard folder");
    }
    this.file = createEventFile(dir);
    this.write(fileVersionEvent(wallTime()));
    this.write(textEvent(wallTime(), 0, "config", configMarkdown(config)));
  }

  /** The event file this tracker writes. */
  get path(): string {
    return this.file.path;
  }

  logMetrics(row: JsonRow): void {
    const step = rowStep(row);
    const values = numericMetrics(row);
    if (step !== null && values.length > 0) this.write(scalarsEvent(wallTime(), step, values));
  }

  logSamples(rows: readonly SampleRow[]): void {
    const byStep = new Map<number, SampleRow[]>();
    for (const row of rows) {
      const group = byStep.get(row.step);
      if (group === undefined) byStep.set(row.step, [row]);
      else group.push(row);
    }
    for (const [step, samples] of byStep)
      this.write(textEvent(wallTime(), step, "completions", samplesMarkdown(samples)));
  }

  flush(): void {
    this.file.flush();
  }

  close(): void {
    this.file.close();
  }

  private write(event: Uint8Array): void {
    this.file.append(tfRecord(event));
  }
}
