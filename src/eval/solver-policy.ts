/**
 * The solvers of src/wordle as evaluation policies: the baselines a model is compared with.
 *
 * - entropy: greedy expected information, SALET opener by default (about 3.43 guesses over the
 *   2,315 answers, every game won). Deterministic; one solver (and its decision memo) serves
 *   every game.
 * - random-consistent: a uniformly random answer still consistent with the feedback (about 4.0-4.1
 *   guesses). Each game draws from its own stream, seeded from (seed, game index), so a game's
 *   guesses do not depend on which other games share its batch or in which order games are played.
 *
 * Their "completion" is a synthetic `<guess>WORD</guess>`, so records look like a model's.
 */
import type { GuessPool, Solver, SolverName } from "../wordle/solver.js";
import { createSolver, SOLVER_NAMES } from "../wordle/solver.js";
import type { AllowedListName } from "../wordle/words.js";
import type { GuessPolicy, PolicyMove, PolicyState } from "./policy.js";

export interface SolverPolicyOptions {
  solver: SolverName;
  /** First guess; default "salet" for entropy, a random candidate for random-consistent. */
  opener?: string;
  /** Seed of random-consistent (default 0). */
  seed?: number;
  /** Entropy solver's guess pool (default "allowed"). */
  pool?: GuessPool;
  /** Accepted-guess list (default "12972"). */
  allowed?: AllowedListName;
  /** Entropy solver plays by hard-mode rules. */
  hard?: boolean;
}

/** A 32-bit seed for game `game` of a run seeded `seed` (Rng mixes it further with splitmix32). */
export function gameSeed(seed: number, game: number): number {
  return (Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x9e3779b1) + game) >>> 0;
}

function solverMove(solver: Solver, state: PolicyState): PolicyMove {
  const word = solver.nextGuess(state.history);
  return { completion: `<guess>${word.toUpperCase()}</guess>`, guess: word };
}

export function solverPolicy(options: SolverPolicyOptions): GuessPolicy {
  if (!SOLVER_NAMES.includes(options.solver)) {
    throw new Error(
      `solver policy: solver must be one of ${SOLVER_NAMES.join(", ")}, got ${JSON.stringify(options.solver)}`,
    );
  }
  const common = { pool: options.pool, allowed: options.allowed, hard: options.hard };
  if (options.solver === "entropy") {
    const solver = createSolver({ ...common, solver: "entropy", opener: options.opener ?? "salet" });
    return {
      name: `entropy (${solver.opener})`,
      decoding: "deterministic",
      next: async (states) => states.map((state) => solverMove(solver, state)),
    };
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`solver policy: seed must be an integer, got ${seed}`);
  // One solver per game (they share the cached word lists and pattern table; only the Rng differs).
  // A game's first turn always starts a fresh stream, so reusing the policy for another set of
  // secrets (game indices start at 0 again) gives the same games as a new policy would.
  const perGame = new Map<number, Solver>();
  const solverFor = (state: PolicyState): Solver => {
    let solver = perGame.get(state.game);
    if (solver === undefined || state.turn === 1) {
      solver = createSolver({
        ...common,
        solver: "random-consistent",
        opener: options.opener,
        seed: gameSeed(seed, state.game),
      });
      perGame.set(state.game, solver);
    }
    return solver;
  };
  return {
    name: options.opener ? `random-consistent (${options.opener.toLowerCase()})` : "random-consistent",
    decoding: `random (seed ${seed})`,
    next: async (states) => states.map((state) => solverMove(solverFor(state), state)),
    reset: () => perGame.clear(),
  };
}
