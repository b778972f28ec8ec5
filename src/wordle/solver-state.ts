/**
 * What a solver sees on its turn, in the fast index form the pattern table speaks: past guesses
 * with their pattern codes, and the answers (as column indices) that are still possible.
 */
import type { CodedHistoryEntry } from "./candidates.js";
import type { PatternTable } from "./pattern-table.js";

export interface SolverState {
  readonly table: PatternTable;
  readonly history: readonly CodedHistoryEntry[];
  /** Answer indices (columns of the table) consistent with the history; never empty. */
  readonly candidates: readonly number[];
}

/** A guessing strategy: picks the next guess as a row of the table. */
export interface GuessPolicy {
  choose(state: SolverState): number;
}

/** A stable text key for a history ("salet:12,crony:200"): the memo key of deterministic policies. */
export function historyKey(history: readonly CodedHistoryEntry[]): string {
  return history.map((h) => `${h.guess}:${h.code}`).join(",");
}
