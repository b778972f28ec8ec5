/**
 * One game of Wordle against a known secret: the environment that evaluation and multi-turn
 * training drive.
 *
 * An invalid guess (wrong length or characters, not an accepted word, or a hard-mode violation)
 * returns status "invalid" with a reason and does NOT consume a turn, as in the real game, which
 * refuses such a guess and lets the player try again. Callers that want to punish invalid guesses
 * (a model wasting a turn) can count `invalidGuesses` or end the game themselves.
 */
import { type HardModeRules, hardModeRules, hardModeViolation } from "./hard-mode.js";
import { type Feedback, scoreGuess } from "./score.js";
import { type AllowedListName, loadWordLists } from "./words.js";

export type InvalidKind = "format" | "not-a-word" | "hard-mode";

export type GuessResult =
  | { status: "invalid"; guess: string; kind: InvalidKind; reason: string }
  | { status: "continue"; guess: string; feedback: Feedback; turn: number }
  | { status: "win"; guess: string; feedback: Feedback; turn: number }
  | { status: "loss"; guess: string; feedback: Feedback; turn: number; secret: string };

export interface WordleGameOptions {
  secret: string;
  /** Turns before the game is lost (default 6). */
  maxTurns?: number;
  hardMode?: boolean;
  /** Accepted guesses: a list name (default "12972") or an explicit lowercase set. */
  allowed?: AllowedListName | ReadonlySet<string>;
}

export interface Turn {
  guess: string;
  feedback: Feedback;
}

export class WordleGame {
  readonly secret: string;
  readonly maxTurns: number;
  readonly hardMode: boolean;
  private readonly allowed: ReadonlySet<string>;
  private readonly turns: Turn[] = [];
  private rules: HardModeRules = { greens: [null, null, null, null, null], minCounts: new Map() };
  private won = false;
  /** How many guesses were refused (they did not consume turns). */
  invalidGuesses = 0;

  constructor(options: WordleGameOptions) {
    const secret = String(options.secret ?? "").toLowerCase();
    if (!/^[a-z]{5}$/.test(secret)) {
      throw new Error(`WordleGame: secret must be 5 letters A-Z, got ${JSON.stringify(options.secret)}`);
    }
    const maxTurns = options.maxTurns ?? 6;
    if (!Number.isInteger(maxTurns) || maxTurns < 1) {
      throw new Error(`WordleGame: maxTurns must be a positive integer, got ${options.maxTurns}`);
    }
    this.secret = secret;
    this.maxTurns = maxTurns;
    this.hardMode = options.hardMode ?? false;
    this.allowed =
      typeof options.allowed === "object"
        ? options.allowed
        : loadWordLists({ allowed: options.allowed ?? "12972" }).allowedSet;
  }

  /** Past turns, oldest first (copies: mutating them does not change the game). */
  get history(): Turn[] {
    return this.turns.map((t) => ({ guess: t.guess, feedback: [...t.feedback] }));
  }

  get turnsUsed(): number {
    return this.turns.length;
  }

  get isOver(): boolean {
    return this.won || this.turns.length >= this.maxTurns;
  }

  get isWon(): boolean {
    return this.won;
  }

  /** Play a guess (case-insensitive). Throws only when the game is already over. */
  guess(word: string): GuessResult {
    if (this.isOver) {
      throw new Error(`WordleGame: the game is over (${this.won ? "won" : "lost"}); start a new one`);
    }
    const guess = typeof word === "string" ? word.toLowerCase() : "";
    if (!/^[a-z]{5}$/.test(guess)) {
      this.invalidGuesses++;
      return {
        status: "invalid",
        guess: String(word),
        kind: "format",
        reason: `a guess must be 5 letters A-Z, got ${JSON.stringify(word)}`,
      };
    }
    if (!this.allowed.has(guess)) {
      this.invalidGuesses++;
      return {
        status: "invalid",
        guess,
        kind: "not-a-word",
        reason: `${guess.toUpperCase()} is not in the word list`,
      };
    }
    if (this.hardMode) {
      const violation = hardModeViolation(guess, this.rules);
      if (violation !== null) {
        this.invalidGuesses++;
        return { status: "invalid", guess, kind: "hard-mode", reason: `hard mode: ${violation}` };
      }
    }
    const feedback = scoreGuess(guess, this.secret);
    this.turns.push({ guess, feedback });
    if (this.hardMode) this.rules = hardModeRules(this.turns);
    const turn = this.turns.length;
    if (guess === this.secret) {
      this.won = true;
      return { status: "win", guess, feedback, turn };
    }
    if (turn >= this.maxTurns) return { status: "loss", guess, feedback, turn, secret: this.secret };
    return { status: "continue", guess, feedback, turn };
  }
}
