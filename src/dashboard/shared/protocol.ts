/**
 * Shapes shared by the dashboard server and the page: the run-file rows (docs/run-files.md,
 * declared in src/run/row-types.ts) and the messages the server pushes over server-sent events. No Node or DOM APIs here, so both
 * sides can import it.
 */

// The run-file rows, as the trainer writes them (one declaration: src/run/row-types.ts).
export type {
  CriterionStatus as Criterion,
  EvalGameRow as EvalGame,
  GuessRow as GuessRecord,
  MetricsRow,
  MilestoneState as MilestoneStatus,
  MilestoneStatus as Milestone,
  SampleRow,
} from "../../run/row-types.js";

import type { EvalGameRow as EvalGame, MetricsRow, SampleRow } from "../../run/row-types.js";

/** Describes one followed run directory. */
export interface RunInfo {
  id: number;
  label: string;
  dir: string;
}

/**
 * First message for each run on a new event stream: everything except the numeric columns of
 * the training rows, which the page fetches in binary from `/api/runs/<id>/columns`.
 */
export interface RunInit {
  run: RunInfo;
  config: Record<string, unknown> | null;
  /** Numeric training-row keys, in column order (the order only ever grows at the end). */
  keys: string[];
  /** Training rows stored so far; the columns endpoint serves exactly this many when asked. */
  rowCount: number;
  /** The newest training row in full (monitor fields included), or null. */
  latest: MetricsRow | null;
  evalRows: MetricsRow[];
  samples: SampleRow[];
  games: EvalGame[];
  problems: string[];
  /** When metrics.jsonl was last modified (ms since 1970), or null if it does not exist yet. */
  lastWriteMs: number | null;
}

/** Training rows appended after `init`: `start` is the row index of `rows[0]`. */
export interface MetricsAppend {
  runId: number;
  start: number;
  rows: MetricsRow[];
}

export interface RowsAppend<T> {
  runId: number;
  rows: T[];
}

export interface ProblemMessage {
  runId: number;
  message: string;
}

/** Event names on `/api/events`. */
export const EVENTS = {
  init: "init",
  metrics: "metrics",
  evalRows: "eval",
  samples: "samples",
  games: "games",
  config: "config",
  problem: "problem",
  reset: "reset",
} as const;

/** A training row is any metrics row with no `eval/` key; an eval row has at least one. */
export function isEvalRow(row: Record<string, unknown>): boolean {
  for (const key in row) if (key.startsWith("eval/")) return true;
  return false;
}
