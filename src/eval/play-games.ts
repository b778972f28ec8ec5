/**
 * Play many games against a policy, in lock-step batches: every unfinished game in the batch
 * advances one turn per policy call, and a finished game's slot is refilled from the queue. A
 * language-model policy then generates for up to `batchSize` prompts at a time instead of one.
 *
 * Rules are WordleGame's (exact feedback, accepted-word list, optional hard mode), with one
 * deliberate difference: an invalid guess (no `<guess>` tags, not 5 letters, not an accepted word,
 * a hard-mode violation) COSTS A TURN here. The real game refuses such a guess and lets the player
 * try again, but a model that keeps producing the same invalid guess (greedy decoding does, the
 * position being unchanged) would then never finish. Invalid guesses are counted separately
 * (`invalidRate`), so a model that wins despite them is not confused with one that plays cleanly.
 * The policy is also told which guesses were refused (PolicyState.refused), as the real game's "not
 * in word list" tells a player; a model policy shows them in its prompt when it was trained to read
 * them (ModelPolicyOptions.showRefused), so it can try another word instead of repeating one.
 */

import { deadLetters, letterKnowledge } from "../task/knowledge.js";
import type { RefusedGuess } from "../task/prompt.js";
import { encodeHistory, type HistoryEntry, isConsistentCoded } from "../wordle/candidates.js";
import { WordleGame } from "../wordle/game.js";
import { type AllowedListName, loadWordLists } from "../wordle/words.js";
import { type EvalSummary, summarizeGames } from "./aggregate.js";
import { excerpt, feedbackString, type GameResult, type GuessRecord } from "./game-record.js";
import type { GuessPolicy, PolicyState } from "./policy.js";

export interface TurnEvent {
  game: number;
  secret: string;
  /** 1-based turn just played. */
  turn: number;
  record: GuessRecord;
  /** The game ended with this turn (won, or out of turns). */
  over: boolean;
  won: boolean;
}

export interface PlayGamesOptions {
  /** Turns per game, invalid guesses included (default 6). */
  maxTurns?: number;
  hardMode?: boolean;
  /** Games played side by side (default 64). */
  batchSize?: number;
  /** Accepted guesses: a list name (default "12972") or a lowercase set. */
  allowed?: AllowedListName | ReadonlySet<string>;
  /** Keep at most this many characters of each completion (head and tail; default 400). */
  excerptChars?: number;
  /** Called after every turn of every game (progress bars, the play command). */
  onTurn?: (event: TurnEvent) => void;
}

export interface PlayGamesResult {
  games: GameResult[];
  summary: EvalSummary;
}

/** A game in progress. */
interface LiveGame {
  index: number;
  game: WordleGame;
  /** Scored guesses (what the policy sees). */
  history: HistoryEntry[];
  /** Refused guesses, in play order (every policy is told; a model policy may show them). */
  refused: RefusedGuess[];
  result: GameResult;
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`playGames: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Judge one move and update the game. */
function applyMove(
  live: LiveGame,
  completion: string,
  guess: string | null,
  excerptChars: number,
): GuessRecord {
  const text = typeof completion === "string" ? completion : String(completion);
  const shown = excerpt(text, excerptChars);
  if (guess === null || guess === undefined) {
    live.refused.push({ guess: null, after: live.history.length });
    return { word: null, completion: shown, feedback: null, valid: false, invalid: "unparseable" };
  }
  const word = String(guess).toLowerCase();
  const result = live.game.guess(word);
  if (result.status === "invalid") {
    live.refused.push({ guess: word, after: live.history.length });
    return { word, completion: shown, feedback: null, valid: false, invalid: result.kind };
  }
  // Judge the guess against what was known before it.
  const known = live.history;
  const dead = deadLetters(letterKnowledge(known));
  const record: GuessRecord = {
    word: result.guess,
    completion: shown,
    feedback: feedbackString(result.feedback),
    valid: true,
    consistent: isConsistentCoded(result.guess, encodeHistory(known)),
    deadLetterReuse: [...result.guess].some((letter) => dead.has(letter)),
  };
  live.history.push({ guess: result.guess, feedback: result.feedback });
  if (result.status === "win") live.result.won = true;
  return record;
}

export async function playGames(
  policy: GuessPolicy,
  secrets: readonly string[],
  options: PlayGamesOptions = {},
): Promise<PlayGamesResult> {
  const maxTurns = positiveInt(options.maxTurns ?? 6, "maxTurns");
  const batchSize = positiveInt(options.batchSize ?? 64, "batchSize");
  const excerptChars = options.excerptChars ?? 400;
  if (!(excerptChars >= 0)) throw new Error(`playGames: excerptChars must be >= 0, got ${excerptChars}`);
  const allowed =
    typeof options.allowed === "object"
      ? options.allowed
      : loadWordLists({ allowed: options.allowed ?? "12972" }).allowedSet;

  const lower = secrets.map((s, i) => {
    const word = typeof s === "string" ? s.toLowerCase() : "";
    if (!/^[a-z]{5}$/.test(word)) {
      throw new Error(`playGames: secrets[${i}] must be 5 letters A-Z, got ${JSON.stringify(s)}`);
    }
    return word;
  });
  const results: GameResult[] = lower.map((secret, index) => ({
    game: index,
    secret,
    guesses: [],
    won: false,
    turns: 0,
  }));

  // WordleGame gets turns to spare: invalid guesses use turns here but not there, so this loop,
  // not WordleGame, decides when a game is lost.
  const start = (index: number): LiveGame => ({
    index,
    game: new WordleGame({ secret: lower[index], maxTurns, hardMode: options.hardMode, allowed }),
    history: [],
    refused: [],
    result: results[index],
  });
  policy.reset?.();
  let nextIndex = 0;
  const active: LiveGame[] = [];
  const refill = () => {
    while (active.length < batchSize && nextIndex < lower.length) active.push(start(nextIndex++));
  };
  refill();

  try {
    while (active.length > 0) {
      const states: PolicyState[] = active.map((live) => ({
        game: live.index,
        turn: live.result.turns + 1,
        history: live.history.map((h) => ({ guess: h.guess, feedback: [...h.feedback] })),
        refused: live.refused.map((r) => ({ ...r })),
      }));
      const moves = await policy.next(states);
      if (!Array.isArray(moves) || moves.length !== states.length) {
        throw new Error(
          `playGames: policy "${policy.name}" returned ${Array.isArray(moves) ? moves.length : "no"} moves for ${states.length} positions`,
        );
      }
      const stillPlaying: LiveGame[] = [];
      active.forEach((live, i) => {
        const record = applyMove(live, moves[i].completion, moves[i].guess, excerptChars);
        live.result.guesses.push(record);
        live.result.turns++;
        const over = live.result.won || live.result.turns >= maxTurns;
        options.onTurn?.({
          game: live.index,
          secret: live.result.secret,
          turn: live.result.turns,
          record,
          over,
          won: live.result.won,
        });
        if (!over) stillPlaying.push(live);
      });
      active.length = 0;
      active.push(...stillPlaying);
      refill();
    }
  } finally {
    policy.release?.();
  }
  return { games: results, summary: summarizeGames(results, maxTurns) };
}
