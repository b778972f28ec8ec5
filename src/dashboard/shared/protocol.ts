/**
 * Shapes shared by the dashboard server and the page: the run-file rows (docs/run-files.md) and
 * the messages the server pushes over server-sent events. No Node or DOM APIs here, so both
 * sides can import it.
 */

/** A success criterion as the monitor writes it into each training row. */
export interface Criterion {
  expr: string;
  value: number | null;
  op?: string | null;
  threshold: number | null;
  met: boolean;
  first_step: number | null;
}

export type MilestoneStatus = "pass" | "fail" | "pending";

export interface Milestone {
  step: number;
  label: string;
  expect?: string;
  status: MilestoneStatus;
  value?: number | null;
}

/** One guess of a game or of a prompt's history. `feedback` is "c"/"p"/"a" per position, or null if invalid. */
export interface GuessRecord {
  word: string;
  feedback: string | null;
  invalid?: boolean;
  /** Why an invalid guess was invalid (src/eval: unparseable, format, not-a-word, hard-mode). */
  invalid_kind?: string;
  /** The model's text for this turn (an excerpt), when the evaluation logged it. */
  completion?: string;
}

export interface EvalGame {
  step: number;
  secret: string;
  won: boolean;
  guesses: GuessRecord[];
}

export interface SampleRow {
  step: number;
  prompt_id?: string;
  secret?: string;
  history?: GuessRecord[];
  completion?: string;
  guess?: string | null;
  reward?: number;
  rewards?: Record<string, number>;
}

/** A metrics.jsonl row: `step` plus metric keys (numbers) and monitor fields (other JSON). */
export type MetricsRow = { step: number } & Record<string, unknown>;

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
