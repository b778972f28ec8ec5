/**
 * What evaluation asks of a player: given a batch of game positions, one move per position.
 *
 * A policy sees the history of scored guesses and the turn number, never the secret. It answers a
 * whole batch at once because a language model is far faster on one batch of N prompts than on N
 * single prompts; solver policies just loop. The game loop (play-games.ts) depends only on this
 * interface, so it never imports the model stack.
 */
import type { RefusedGuess } from "../task/prompt.js";
import type { HistoryEntry } from "../wordle/candidates.js";

/** One game position as a policy sees it. */
export interface PolicyState {
  /**
   * Index of the game in the evaluation's list of secrets; stable across turns, so a policy may
   * keep per-game state (a seeded random stream, a test script) without seeing the secret.
   */
  game: number;
  /** The turn about to be played, 1-based. Invalid guesses count: they cost a turn. */
  turn: number;
  /**
   * Scored guesses so far, oldest first (lowercase words with their marks). Invalid attempts are
   * not part of it: they received no feedback.
   */
  history: readonly HistoryEntry[];
  /**
   * The game's refused guesses so far ("not in word list"), in play order. A model policy shows
   * them in its prompt only when told to (ModelPolicyOptions.showRefused).
   */
  refused?: readonly RefusedGuess[];
}

/** One move: the raw text the player produced and the guess read from it. */
export interface PolicyMove {
  /** The full completion (for a solver, a synthetic `<guess>WORD</guess>`). */
  completion: string;
  /**
   * The guess read from the completion (any case, any length), or null when none could be read
   * (for a model: no complete `<guess>...</guess>` pair). The game loop judges its validity.
   */
  guess: string | null;
}

export interface GuessPolicy {
  /** Short label for tables and logs, e.g. "entropy (salet)" or "model greedy". */
  readonly name: string;
  /** How moves are chosen, for reports: "greedy", "sampled (T=0.7)", "deterministic solver"... */
  readonly decoding?: string;
  /** One move per state, in the same order. */
  next(states: readonly PolicyState[]): Promise<PolicyMove[]>;
  /**
   * Called by playGames before the first turn: forget per-evaluation state (random streams, call
   * counters), so two evaluations with one policy object are played alike (e.g. before/after an
   * adapter is switched on, with the same sampling seeds).
   */
  reset?(): void;
  /** Called by playGames after the last turn: free what the policy held for it (a KV cache). */
  release?(): void;
}
