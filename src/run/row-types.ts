/**
 * The rows of a run's files (docs/run-files.md), declared once: the trainer writes them
 * (run/logs.ts, run/monitor.ts) and the dashboard's server and page read them
 * (dashboard/shared/protocol.ts). Types only, no Node or DOM APIs, so both sides import them.
 */

/** A success criterion as the monitor writes it into each training row. */
export interface CriterionStatus {
  expr: string;
  value: number | null;
  op: string | null;
  threshold: number | null;
  met: boolean;
  first_step: number | null;
}

export type MilestoneState = "pending" | "pass" | "fail";

/** A milestone as the monitor writes it into each training row. */
export interface MilestoneStatus {
  step: number;
  label: string;
  expect: string;
  status: MilestoneState;
  value: number | null;
}

/** One guess of a game or of a prompt's history. `feedback` is "c"/"p"/"a" per position, or null if invalid. */
export interface GuessRow {
  word: string;
  feedback: string | null;
  invalid?: boolean;
  /** Why an invalid guess was invalid (src/eval: unparseable, format, not-a-word, hard-mode). */
  invalid_kind?: string;
  /** The model's text for this turn (an excerpt), when the evaluation logged it. */
  completion?: string;
}

/** One sampled completion (samples.jsonl). */
export interface SampleRow {
  step: number;
  prompt_id: string;
  secret: string;
  history: GuessRow[];
  completion: string;
  guess: string | null;
  reward: number;
  rewards: Record<string, number>;
  [extra: string]: unknown;
}

/** One evaluation game (eval-games.jsonl). */
export interface EvalGameRow {
  step: number;
  secret: string;
  won: boolean;
  guesses: GuessRow[];
  [extra: string]: unknown;
}

/** A metrics.jsonl row: `step` plus metric keys (numbers) and monitor fields (other JSON). */
export type MetricsRow = { step: number } & Record<string, unknown>;
