/**
 * Generated training positions: (secret, history) rows where the history is 0-5 guesses played
 * by a policy against the secret. Unlike the 75 seed rows, this gives unlimited, varied states.
 *
 * Policies:
 * - "random-word": a uniformly random accepted word (12,972), never repeating a guess. Histories
 *   look like an unskilled player's; feedback is often uninformative.
 * - "random-consistent": a uniformly random answer still consistent with the history (what a
 *   player who uses all feedback but no strategy does).
 * - "entropy": the wordle solver's greedy expected-information policy (src/wordle/solver.ts) with
 *   a fixed opener (default "salet"): the accepted word with the most expected information over
 *   the remaining answers, ties to possible answers; it memoises decisions per history, so after
 *   the first few rows most steps are a lookup. Builds the guess x answer pattern table once
 *   (about a second).
 *
 * A position is never past the solving guess: if the policy would guess the secret before the
 * drawn history length is reached, the row's history stops just before that guess. So entropy
 * histories are mostly 0-3 guesses long even with maxHistory 5.
 *
 * Determinism: row i is seeded by the i-th draw of Rng(seed), so the first k rows of a larger request
 * equal a request for k rows.
 */

import { Rng } from "../util/rng.js";
import { encodeHistory, type HistoryEntry } from "../wordle/candidates.js";
import { filterByCode } from "../wordle/entropy.js";
import type { PatternTable } from "../wordle/pattern-table.js";
import { decodePattern, patternCode } from "../wordle/score.js";
import { createSolver } from "../wordle/solver.js";
import { loadWordLists } from "../wordle/words.js";
import type { TaskState } from "./state.js";

export type StatePolicy = "random-word" | "random-consistent" | "entropy";
export const STATE_POLICIES: readonly StatePolicy[] = ["random-word", "random-consistent", "entropy"];

export interface GenerateStatesOptions {
  count: number;
  seed: number;
  policy: StatePolicy;
  /** Fewest guesses in a history (default 0). */
  minHistory?: number;
  /** Most guesses in a history (default 5; a game has 6 turns, so at most 5). */
  maxHistory?: number;
  /** Secrets to draw from (lowercase or not); default the 2,315 answers. Must be answers. */
  secrets?: readonly string[];
  /** Secrets training must never see: removed from the pool. */
  heldOut?: Iterable<string>;
  /** First guess of the entropy policy (default "salet"). */
  opener?: string;
  /** Row ids are `${idPrefix}-${seed}-${i}` (default "gen"). */
  idPrefix?: string;
}

/** One step of a policy: given the answers still possible (indices) and the history, pick a word. */
type Policy = (remaining: readonly number[], history: readonly HistoryEntry[], rng: Rng) => string;

function checkOptions(o: GenerateStatesOptions): { min: number; max: number } {
  if (!Number.isInteger(o.count) || o.count < 0)
    throw new Error(`generateStates: count must be an integer >= 0, got ${o.count}`);
  if (!Number.isInteger(o.seed)) throw new Error(`generateStates: seed must be an integer, got ${o.seed}`);
  if (!STATE_POLICIES.includes(o.policy)) {
    throw new Error(
      `generateStates: policy must be one of ${STATE_POLICIES.join(", ")}, got ${JSON.stringify(o.policy)}`,
    );
  }
  const min = o.minHistory ?? 0;
  const max = o.maxHistory ?? 5;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max > 5 || min > max) {
    throw new Error(
      `generateStates: need integers 0 <= minHistory <= maxHistory <= 5, got ${min} and ${max}`,
    );
  }
  return { min, max };
}

/** The secret pool: given secrets (default all answers) minus the held-out ones. */
function secretPool(
  o: GenerateStatesOptions,
  answerSet: ReadonlySet<string>,
  answers: readonly string[],
): string[] {
  const heldOut = new Set([...(o.heldOut ?? [])].map((w) => w.toLowerCase()));
  const given = (o.secrets ?? answers).map((w) => w.toLowerCase());
  for (const word of given) {
    if (!answerSet.has(word))
      throw new Error(`generateStates: secret ${JSON.stringify(word)} is not one of the 2,315 answers`);
  }
  const pool = given.filter((w) => !heldOut.has(w));
  if (pool.length === 0) throw new Error("generateStates: no secrets left after removing the held-out ones");
  return pool;
}

function randomWordPolicy(allowed: readonly string[]): Policy {
  return (_remaining, history, rng) => {
    const used = new Set(history.map((h) => h.guess));
    for (;;) {
      const word = rng.pick(allowed);
      if (!used.has(word)) return word;
    }
  };
}

function randomConsistentPolicy(answers: readonly string[]): Policy {
  return (remaining, _history, rng) => answers[rng.pick(remaining)];
}

function entropyPolicy(opener: string): { policy: Policy; table: PatternTable } {
  const solver = createSolver({ solver: "entropy", opener });
  const { table } = solver;
  const policy: Policy = (remaining, history) =>
    table.guesses[solver.choose({ table, history: encodeHistory(history), candidates: remaining })];
  return { policy, table };
}

/** Generate `count` positions; see the file comment for policies and determinism. */
export function generateStates(options: GenerateStatesOptions): TaskState[] {
  const { min, max } = checkOptions(options);
  const lists = loadWordLists();
  const pool = secretPool(options, lists.answerSet, lists.answers);
  const opener = (options.opener ?? "salet").toLowerCase();
  if (!lists.allowedSet.has(opener))
    throw new Error(`generateStates: opener ${JSON.stringify(opener)} is not an accepted word`);
  const entropy = options.policy === "entropy" ? entropyPolicy(opener) : undefined;
  const table = entropy?.table;
  const policy: Policy =
    options.policy === "random-word"
      ? randomWordPolicy(lists.allowed)
      : options.policy === "random-consistent"
        ? randomConsistentPolicy(lists.answers)
        : (entropy as { policy: Policy }).policy;
  const allAnswers = lists.answers.map((_, i) => i);
  const master = new Rng(options.seed);
  const prefix = options.idPrefix ?? "gen";
  const states: TaskState[] = [];
  for (let i = 0; i < options.count; i++) {
    // One 32-bit seed per row from the master stream: row i never depends on what row i-1 drew.
    const rng = new Rng(master.nextUint32());
    const secret = rng.pick(pool);
    const length = min + rng.int(max - min + 1);
    const history: HistoryEntry[] = [];
    let remaining: number[] = allAnswers;
    while (history.length < length) {
      const guess = policy(remaining, history, rng);
      if (guess === secret) break;
      const code = patternCode(guess, secret);
      history.push({ guess, feedback: decodePattern(code) });
      remaining = narrow(remaining, guess, code, lists.answers, table);
    }
    states.push({ id: `${prefix}-${options.seed}-${i}`, secret, history });
  }
  return states;
}

/** The answers (indices) still consistent after `guess` got `code`. */
function narrow(
  remaining: readonly number[],
  guess: string,
  code: number,
  answers: readonly string[],
  table: PatternTable | undefined,
): number[] {
  const row = table?.guessIndex.get(guess);
  if (table !== undefined && row !== undefined) return filterByCode(table, row, code, remaining);
  return remaining.filter((a) => patternCode(guess, answers[a]) === code);
}
