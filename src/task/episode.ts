/**
 * The model-facing Wordle game: the one set of rules that evaluation (eval/play-games.ts), the
 * training rollouts (grpo/rollout/game-play.ts) and `play` share. It is WordleGame (exact feedback, the
 * accepted-word list, optional hard mode) with what a model player needs on top:
 *
 * - a completion with no parseable guess is a move too ("unparseable");
 * - an invalid guess COSTS A TURN. The real game refuses it and lets the player try again, but a
 *   model that repeats an invalid guess (greedy decoding does, its position being unchanged) would
 *   then never finish. With `endOnInvalid` it ends the game instead (a loss);
 * - refused guesses are recorded with the number of scored guesses before them, so a prompt can
 *   show them as the real game's "not in word list" tells a player;
 * - a game can start from another game's position (its scored and refused guesses and the turns
 *   it used), as the branching rollout does.
 */

import type { HistoryEntry } from "../wordle/candidates.js";
import type { InvalidKind } from "../wordle/game.js";
import { WordleGame } from "../wordle/game.js";
import type { Feedback } from "../wordle/score.js";
import type { AllowedListName } from "../wordle/words.js";
import type { RefusedGuess } from "./prompt.js";

export interface EpisodeOptions {
  /** Turns per game, invalid guesses included (default 6). */
  maxTurns?: number;
  hardMode?: boolean;
  /** Accepted guesses: a list name (default "12972") or a lowercase set. */
  allowed?: AllowedListName | ReadonlySet<string>;
  /** An invalid guess ends the game (a loss) instead of costing a turn. */
  endOnInvalid?: boolean;
}

/** Where a game starts: another game's position (default: the empty board). */
export interface EpisodeStart {
  history?: readonly HistoryEntry[];
  refused?: readonly RefusedGuess[];
  /** Turns already used, invalid ones included (default: the scored guesses). */
  turnsUsed?: number;
}

export type RefusalKind = InvalidKind | "unparseable";

export type MoveResult =
  | { valid: false; word: string | null; kind: RefusalKind }
  | { valid: true; word: string; feedback: Feedback; won: boolean };

export class WordleEpisode {
  readonly secret: string;
  readonly maxTurns: number;
  /** Scored guesses, oldest first (the winning one included). */
  readonly history: HistoryEntry[];
  /** Refused guesses, in play order. */
  readonly refused: RefusedGuess[];
  /** Turns used since the empty board, invalid guesses included. */
  turnsUsed: number;
  won = false;
  private endedByInvalid = false;
  private readonly endOnInvalid: boolean;
  private readonly game: WordleGame;

  constructor(secret: string, options: EpisodeOptions = {}, start: EpisodeStart = {}) {
    this.maxTurns = options.maxTurns ?? 6;
    if (!Number.isInteger(this.maxTurns) || this.maxTurns < 1)
      throw new Error(`WordleEpisode: maxTurns must be a positive integer, got ${options.maxTurns}`);
    this.endOnInvalid = options.endOnInvalid ?? false;
    const history = start.history ?? [];
    // WordleGame judges and scores; this class counts the turns (invalid guesses use none there).
    this.game = new WordleGame({
      secret,
      maxTurns: history.length + this.maxTurns,
      hardMode: options.hardMode,
      allowed: options.allowed,
    });
    this.secret = this.game.secret;
    for (const entry of history) {
      const result = this.game.guess(entry.guess);
      if (result.status === "invalid")
        throw new Error(`WordleEpisode: start position guess ${entry.guess}: ${result.reason}`);
    }
    this.history = history.map((h) => ({ guess: h.guess, feedback: [...h.feedback] }));
    this.refused = (start.refused ?? []).map((r) => ({ ...r }));
    this.turnsUsed = start.turnsUsed ?? history.length;
  }

  /** Won, ended by an invalid guess (endOnInvalid), or out of turns. */
  get over(): boolean {
    return this.won || this.endedByInvalid || this.turnsUsed >= this.maxTurns;
  }

  /** Play one move: a guess (any case), or null when the completion held none. */
  play(guess: string | null): MoveResult {
    if (this.over) throw new Error(`WordleEpisode: the game (secret ${this.secret}) is over`);
    this.turnsUsed++;
    if (guess === null) return this.refuse(null, "unparseable");
    const word = guess.toLowerCase();
    const result = this.game.guess(word);
    if (result.status === "invalid") return this.refuse(word, result.kind);
    this.history.push({ guess: result.guess, feedback: result.feedback });
    if (result.status === "win") this.won = true;
    return { valid: true, word: result.guess, feedback: result.feedback, won: this.won };
  }

  private refuse(word: string | null, kind: RefusalKind): MoveResult {
    this.refused.push({ guess: word, after: this.history.length });
    if (this.endOnInvalid) this.endedByInvalid = true;
    return { valid: false, word, kind };
  }
}
