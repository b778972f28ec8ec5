/**
 * Play many games against a policy, in lock-step batches: every unfinished game in the batch
 * advances one turn per policy call, and a finished game's slot is refilled from the queue. A
 * language-model policy then generates for up to `batchSize` prompts at a time instead of one.
 *
 * Rules are the model-facing game's (task/episode.ts), the ones training rollouts play by: an
 * invalid guess (no `<guess>` tags, not 5 letters, not an accepted word, a hard-mode violation)
 * COSTS A TURN. Invalid guesses are counted separately (`invalidRate`), so a model that wins
 * despite them is not confused with one that plays cleanly. The policy is also told which guesses
 * were refused (PolicyState.refused); a model policy shows them in its prompt when it was trained
 * to read them (ModelPolicyOptions.showRefused), so it can try another word instead of repeating one.
 */

import { WordleEpisode } from "../task/episode.js";
import { deadLetters, letterKnowledge } from "../task/knowledge.js";
import { encodeHistory, isConsistentCoded } from "../wordle/candidates.js";
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
  episode: WordleEpisode;
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
  // Judge the guess against what was known before it.
  const known = [...live.episode.history];
  const move = live.episode.play(guess === null || guess === undefined ? null : String(guess));
  if (!move.valid)
    return { word: move.word, completion: shown, feedback: null, valid: false, invalid: move.kind };
  const dead = deadLetters(letterKnowledge(known));
  if (move.won) live.result.won = true;
  return {
    word: move.word,
    completion: shown,
    feedback: feedbackString(move.feedback),
    valid: true,
    consistent: isConsistentCoded(move.word, encodeHistory(known)),
    deadLetterReuse: [...move.word].some((letter) => dead.has(letter)),
  };
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

  const start = (index: number): LiveGame => ({
    index,
    episode: new WordleEpisode(lower[index], { maxTurns, hardMode: options.hardMode, allowed }),
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
        history: live.episode.history.map((h) => ({ guess: h.guess, feedback: [...h.feedback] })),
        refused: live.episode.refused.map((r) => ({ ...r })),
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
        const over = live.episode.over;
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
