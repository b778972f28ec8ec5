/**
 * Build a solver by name: "entropy" (greedy expected information) or "random-consistent"
 * (a uniformly random still-possible answer). Both run on the cached pattern table for the
 * answers x chosen accepted-guess list, and both answer `nextGuess(history)` for any history of
 * real play, so other parts (state generation, evaluation baselines) can use them as policies.
 */

import { Rng } from "../util/rng.js";
import { type CodedHistoryEntry, encodeHistory, type HistoryEntry } from "./candidates.js";
import { type PatternTable, patternRow, patternTable } from "./pattern-table.js";
import { patternCode } from "./score.js";
import { EntropyPolicy } from "./solver-entropy.js";
import { RandomConsistentPolicy } from "./solver-random.js";
import type { GuessPolicy, SolverState } from "./solver-state.js";
import { type AllowedListName, loadWordLists } from "./words.js";

export type SolverName = "entropy" | "random-consistent";
export const SOLVER_NAMES: readonly SolverName[] = ["entropy", "random-consistent"];

/** Which words the entropy solver may guess: every accepted word, or only the answers. */
export type GuessPool = "allowed" | "answers";

export interface SolverOptions {
  solver: SolverName;
  /** Fixed first guess (any accepted word). Default: entropy computes the best; random picks. */
  opener?: string;
  /** Entropy solver's guess pool (default "allowed"); random-consistent always guesses candidates. */
  pool?: GuessPool;
  /** Accepted-guess list (default "12972"). Answers are always the 2,315. */
  allowed?: AllowedListName;
  /** Seed of the random-consistent solver (default 0). */
  seed?: number;
  /** Play by hard-mode rules. */
  hard?: boolean;
}

/** History as either marks or pattern codes. */
export type AnyHistoryEntry = HistoryEntry | CodedHistoryEntry;

export interface Solver {
  readonly name: SolverName;
  readonly table: PatternTable;
  /** The opener in use, or null when computed (entropy) or random (random-consistent). */
  readonly opener: string | null;
  /** The next guess (lowercase) for a history of real play; throws if no answer fits it. */
  nextGuess(history: readonly AnyHistoryEntry[]): string;
  /** Fast path on indices (see SolverState). */
  choose(state: SolverState): number;
}

/** Answer indices consistent with a history (guesses outside the guess list are scored directly). */
export function candidateIndices(table: PatternTable, history: readonly CodedHistoryEntry[]): number[] {
  let alive = table.answers.map((_, i) => i);
  for (const { guess, code } of history) {
    const row = table.guessIndex.get(guess);
    if (row !== undefined) {
      const codes = patternRow(table, row);
      alive = alive.filter((a) => codes[a] === code);
    } else {
      alive = alive.filter((a) => patternCode(guess, table.answers[a]) === code);
    }
  }
  return alive;
}

export function createSolver(options: SolverOptions): Solver {
  if (!SOLVER_NAMES.includes(options.solver)) {
    throw new Error(
      `solver must be one of ${SOLVER_NAMES.join(", ")}, got ${JSON.stringify(options.solver)}`,
    );
  }
  const listName = options.allowed ?? "12972";
  const lists = loadWordLists({ allowed: listName });
  const table = patternTable(lists.allowed, lists.answers);
  let opener: number | null = null;
  if (options.opener !== undefined) {
    const row = table.guessIndex.get(options.opener.toLowerCase());
    if (row === undefined) {
      throw new Error(
        `opener ${JSON.stringify(options.opener)} is not in the ${listName}-word accepted list`,
      );
    }
    opener = row;
  }
  const poolName = options.pool ?? "allowed";
  if (poolName !== "allowed" && poolName !== "answers") {
    throw new Error(`pool must be "allowed" or "answers", got ${JSON.stringify(poolName)}`);
  }
  let policy: GuessPolicy;
  if (options.solver === "entropy") {
    const pool =
      poolName === "allowed"
        ? table.guesses.map((_, g) => g)
        : Array.from(table.answerToGuess).filter((g) => g >= 0);
    policy = new EntropyPolicy(table, { opener, pool, hard: options.hard ?? false });
  } else {
    policy = new RandomConsistentPolicy(new Rng(options.seed ?? 0), opener);
  }
  return {
    name: options.solver,
    table,
    opener: opener === null ? null : table.guesses[opener],
    choose: (state) => policy.choose(state),
    nextGuess(history) {
      const coded = encodeHistory(history);
      const candidates = candidateIndices(table, coded);
      if (candidates.length === 0) {
        const shown = coded.map((h) => `${h.guess}:${h.code}`).join(", ");
        throw new Error(`solver: no answer is consistent with the history [${shown}]`);
      }
      return table.guesses[policy.choose({ table, history: coded, candidates })];
    },
  };
}
