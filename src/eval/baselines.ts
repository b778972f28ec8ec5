/**
 * Solver baselines next to a model's figures: the entropy solver (SALET opener) and the
 * random-consistent player, played by the same game loop on the same secrets, plus published
 * reference figures for the full 2,315-answer benchmark.
 */
import type { SolverName } from "../wordle/solver.js";
import type { EvalSummary } from "./aggregate.js";
import { type PlayGamesOptions, playGames } from "./play-games.js";
import { solverPolicy } from "./solver-policy.js";

/**
 * Mean guesses over all 2,315 answers (12,972 accepted guesses, normal mode), from
 * data/SOURCES.md section 4:
 * - optimum: Selby's proven optimal tree from SALET, 7,920 guesses = 3.42117 (alex1770/wordle
 *   normal.top105.proven); Bertsimas & Paskov, Operations Research 73(3), 2025, give 3.421.
 * - greedy entropy: one-step maximum entropy from SALET, 3.4328 computed there (3.43 rounded);
 *   src/wordle/solve.ts reproduces 3.4324 with every game won.
 * - random-consistent: a uniformly random still-possible answer; 4.09 mean with a 98.2% win rate
 *   (data/SOURCES.md, 20 runs per word); 4.00 in an earlier in-house run of the same
 *   policy, so a range.
 */
export const REFERENCE_FIGURES = {
  optimum: {
    meanGuesses: 3.421,
    winRate: 1,
    source: "Selby (alex1770/wordle), Bertsimas & Paskov 2025: SALET",
  },
  greedyEntropy: {
    meanGuesses: 3.43,
    winRate: 1,
    source: "greedy max-entropy from SALET (data/SOURCES.md: 3.4328)",
  },
  randomConsistent: {
    meanGuesses: [4.0, 4.09] as const,
    winRate: 0.982,
    source: "random still-possible answer (data/SOURCES.md: 4.09, 98.2% wins; 4.00 in an in-house run)",
  },
} as const;

/** One line of reference text for tables. */
export function referenceLine(): string {
  const r = REFERENCE_FIGURES;
  return (
    `reference over all 2,315 answers: optimum ${r.optimum.meanGuesses} (SALET), greedy entropy ~${r.greedyEntropy.meanGuesses}, ` +
    `random-consistent ${r.randomConsistent.meanGuesses[0].toFixed(2)}-${r.randomConsistent.meanGuesses[1].toFixed(2)} guesses`
  );
}

export interface BaselineResult {
  /** Solver id, used in metric keys (`eval/baseline/<solver>/...`). */
  solver: SolverName;
  /** Label for tables, e.g. "entropy (salet)". */
  label: string;
  summary: EvalSummary;
}

export interface BaselineOptions {
  /** Which solvers (default both). */
  solvers?: readonly SolverName[];
  /** Seed of random-consistent (default 0). */
  seed?: number;
  /** The same game settings the model was evaluated with (maxTurns, hardMode, allowed). */
  play?: Pick<PlayGamesOptions, "maxTurns" | "hardMode" | "allowed">;
}

/** Baselines are pure functions of (solver, seed, secrets, rules): computed once per process. */
const cache = new Map<string, BaselineResult>();

export async function solverBaselines(
  secrets: readonly string[],
  options: BaselineOptions = {},
): Promise<BaselineResult[]> {
  const solvers = options.solvers ?? (["entropy", "random-consistent"] as const);
  const seed = options.seed ?? 0;
  const play = options.play ?? {};
  const allowedKey = typeof play.allowed === "object" ? "set" : (play.allowed ?? "12972");
  const results: BaselineResult[] = [];
  for (const solver of solvers) {
    const key = [
      solver,
      seed,
      play.maxTurns ?? 6,
      play.hardMode ?? false,
      allowedKey,
      secrets.join(","),
    ].join("|");
    // An explicit word set has no stable name to key on: such baselines are not cached.
    const cacheable = typeof play.allowed !== "object";
    let result = cacheable ? cache.get(key) : undefined;
    if (result === undefined) {
      const policy = solverPolicy({
        solver,
        seed,
        hard: play.hardMode,
        allowed: typeof play.allowed === "string" ? play.allowed : undefined,
      });
      const { summary } = await playGames(policy, secrets, { ...play, batchSize: 256, excerptChars: 0 });
      result = { solver, label: policy.name, summary };
      if (cacheable) cache.set(key, result);
    }
    results.push(result);
  }
  return results;
}
