import type { JsonRow } from "../jsonl.js";
import type { SampleRow } from "../row-types.js";
import type { Tracker, TrackerWarn } from "./tracker.js";

/**
 * The run's trackers behind one object that never throws: trackers are extras, and a full disk
 * under logging_dir or a W&B outage must not cost a training run. The first failure of a tracker
 * is reported once and the tracker is dropped; the others and the run's own logs go on.
 */

/** How long close() waits for a tracker that finishes asynchronously (W&B's upload) before leaving it. */
export const TRACKER_CLOSE_TIMEOUT_MS = 30_000;

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class TrackerSet {
  private active: Tracker[];

  constructor(
    trackers: readonly Tracker[],
    private readonly warn: TrackerWarn,
    private readonly closeTimeoutMs = TRACKER_CLOSE_TIMEOUT_MS,
  ) {
    this.active = [...trackers];
  }

  /** Names of the trackers still running. */
  get names(): string[] {
    return this.active.map((t) => t.name);
  }

  logMetrics(row: JsonRow): void {
    this.each((t) => t.logMetrics(row));
  }

  logSamples(rows: readonly SampleRow[]): void {
    if (rows.length > 0) this.each((t) => t.logSamples?.(rows));
  }

  flush(): void {
    this.each((t) => t.flush?.());
  }

  /**
   * Close every tracker. Synchronous trackers (files) are closed when this returns; the promise
   * settles when the asynchronous ones have finished, or after closeTimeoutMs, and never rejects.
   */
  close(): Promise<void> {
    const closing = this.active;
    this.active = [];
    return Promise.all(closing.map((t) => this.closeOne(t))).then(() => undefined);
  }

  private each(call: (t: Tracker) => void | Promise<void>): void {
    for (const tracker of this.active) {
      try {
        const result = call(tracker);
        if (result instanceof Promise) result.catch((err: unknown) => this.drop(tracker, err));
      } catch (err) {
        this.drop(tracker, err);
      }
    }
  }

  private drop(tracker: Tracker, err: unknown): void {
    // An asynchronous failure can arrive after another one, or after close(): report only the first.
    if (!this.active.includes(tracker)) return;
    this.active = this.active.filter((t) => t !== tracker);
    this.say(
      `report_to ${tracker.name}: ${describe(err)}; ${tracker.name} is off for the rest of this run ` +
        "(training goes on; metrics.jsonl and samples.jsonl have every row)",
    );
    try {
      // Release its file or connection; it already failed once, so a second failure says nothing new.
      const closing = tracker.close();
      if (closing instanceof Promise) closing.catch(() => {});
    } catch {}
  }

  private closeOne(tracker: Tracker): Promise<void> {
    let result: void | Promise<void>;
    try {
      result = tracker.close();
    } catch (err) {
      this.say(`report_to ${tracker.name}: closing failed: ${describe(err)}`);
      return Promise.resolve();
    }
    if (!(result instanceof Promise)) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    // The timer keeps the process alive while it waits (an unref'd one could let the process end
    // with the trainer's code after `await logs.close()` never run); it is cleared when done.
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.closeTimeoutMs);
    });
    return Promise.race([result, timeout])
      .then(
        (outcome) => {
          if (outcome === "timeout")
            this.say(
              `report_to ${tracker.name}: still closing after ${this.closeTimeoutMs / 1000} s; not waiting longer`,
            );
        },
        (err: unknown) => this.say(`report_to ${tracker.name}: closing failed: ${describe(err)}`),
      )
      .finally(() => clearTimeout(timer));
  }

  /** The warning callback is the trainer's; even its failure must not reach the training loop. */
  private say(message: string): void {
    try {
      this.warn(message);
    } catch {}
  }
}
