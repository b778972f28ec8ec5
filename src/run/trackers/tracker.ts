import type { JsonRow } from "../jsonl.js";
import type { SampleRow } from "../row-types.js";

/**
 * An experiment tracker (`report_to`): it is handed the rows the run logs, after they are in
 * metrics.jsonl and samples.jsonl. A method may throw or return a rejected promise; TrackerSet
 * (tracker-set.ts) then drops the tracker with one warning, so a tracker can never stop a run.
 */
export interface Tracker {
  readonly name: string;
  /** A metrics.jsonl row as written: a training row with its monitor fields, or an eval row. */
  logMetrics(row: JsonRow): void | Promise<void>;
  /** The sample completions of one logged step (samples.jsonl rows). */
  logSamples?(rows: readonly SampleRow[]): void | Promise<void>;
  /** Make what was logged durable; called with RunLogs.flush (before each checkpoint). */
  flush?(): void;
  close(): void | Promise<void>;
}

/** How trackers report a problem: the trainer's message line. */
export type TrackerWarn = (message: string) => void;
