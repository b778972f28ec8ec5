/**
 * Greedy expected-information solver: each turn, guess the word whose feedback split of the
 * remaining candidates has the highest entropy (see entropy.ts). Ties (within 1e-9 bits) go to a
 * word that could still be the answer, because it might win right now; after that, to the word
 * earlier in the pool's (alphabetical) order, so the solver is deterministic.
 *
 * Decisions are memoised by history: all games that reached the same history share one
 * decision, so playing all 2,315 answers costs one pass over the decision tree, not 2,315 games'
 * worth of searches.
 */

import { hardModeRules, hardModeViolation } from "./hard-mode.js";
import type { PatternTable } from "./pattern-table.js";
import { decodePattern } from "./score.js";
import { type GuessPolicy, historyKey, type SolverState } from "./solver-state.js";

const TIE_EPSILON = 1e-9;

export interface EntropyPolicyOptions {
  /** Row of a fixed first guess, or null to compute the best one. */
  opener: number | null;
  /** Rows of the words it may guess. */
  pool: readonly number[];
  /** Restrict guesses to those allowed by hard-mode rules. */
  hard: boolean;
}

export class EntropyPolicy implements GuessPolicy {
  private readonly memo = new Map<string, number>();
  /** nLogN[n] = n * log2(n): bucket sizes are integers, so look the term up. */
  private readonly nLogN: Float64Array;
  /** Scratch: bucket sizes for the current guess (always returned to zero). */
  private readonly counts = new Uint32Array(243);
  /** Scratch: 1 on rows whose word is still a possible answer. */
  private readonly isCandidate: Uint8Array;

  constructor(
    private readonly table: PatternTable,
    private readonly options: EntropyPolicyOptions,
  ) {
    this.nLogN = Float64Array.from({ length: table.answers.length + 1 }, (_, n) =>
      n > 1 ? n * Math.log2(n) : 0,
    );
    this.isCandidate = new Uint8Array(table.guesses.length);
    if (options.pool.length === 0) throw new Error("entropy solver: the guess pool is empty");
  }

  /** Number of distinct decisions computed so far (for reporting). */
  get decisions(): number {
    return this.memo.size;
  }

  choose(state: SolverState): number {
    const { candidates, history } = state;
    if (history.length === 0 && this.options.opener !== null) return this.options.opener;
    if (candidates.length <= 2) {
      // One left: guess it. Two left: guessing one wins half the time and reveals the other;
      // no guess can do better, so guess the first.
      return this.candidateRow(candidates[0]);
    }
    const key = historyKey(history);
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const best = this.search(state);
    this.memo.set(key, best);
    return best;
  }

  private candidateRow(answer: number): number {
    const row = this.table.answerToGuess[answer];
    if (row < 0)
      throw new Error(`entropy solver: answer ${this.table.answers[answer]} is not in the guess list`);
    return row;
  }

  /** The pool, less the words hard mode forbids after this history. */
  private allowedPool(state: SolverState): readonly number[] {
    if (!this.options.hard || state.history.length === 0) return this.options.pool;
    const rules = hardModeRules(
      state.history.map((h) => ({ guess: h.guess, feedback: decodePattern(h.code) })),
    );
    const pool = this.options.pool.filter((g) => hardModeViolation(this.table.guesses[g], rules) === null);
    // Every candidate satisfies the rules, so the pool only ends up empty if it lacks them all.
    if (pool.length > 0) return pool;
    return state.candidates.map((a) => this.candidateRow(a));
  }

  private search(state: SolverState): number {
    const { candidates } = state;
    const { codes } = this.table;
    const width = this.table.answers.length;
    const n = candidates.length;
    const counts = this.counts;
    const nLogN = this.nLogN;
    for (const a of candidates) {
      const row = this.table.answerToGuess[a];
      if (row >= 0) this.isCandidate[row] = 1;
    }
    // A candidate whose guess separates every candidate cannot be beaten: stop there.
    const perfect = Math.log2(n) - TIE_EPSILON;
    let best = -1;
    let bestEntropy = Number.NEGATIVE_INFINITY;
    let bestIsCandidate = false;
    for (const g of this.allowedPool(state)) {
      const base = g * width;
      for (let i = 0; i < n; i++) counts[codes[base + candidates[i]]]++;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const b = codes[base + candidates[i]];
        const c = counts[b];
        if (c !== 0) {
          sum += nLogN[c];
          counts[b] = 0;
        }
      }
      const entropy = Math.log2(n) - sum / n;
      const isCandidate = this.isCandidate[g] === 1;
      if (
        entropy > bestEntropy + TIE_EPSILON ||
        (isCandidate && !bestIsCandidate && entropy >= bestEntropy - TIE_EPSILON)
      ) {
        best = g;
        bestEntropy = entropy;
        bestIsCandidate = isCandidate;
        if (bestIsCandidate && bestEntropy >= perfect) break;
      }
    }
    for (const a of candidates) {
      const row = this.table.answerToGuess[a];
      if (row >= 0) this.isCandidate[row] = 0;
    }
    return best;
  }
}
