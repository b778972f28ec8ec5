/**
 * The numbers an evaluation reports, from its game records.
 *
 * Denominators (stated because they decide what a number means):
 * - winRate: games won / games played.
 * - meanGuesses: turns used over WON games only (the solver convention), invalid guesses
 *   included since they cost a turn; null when no game was won.
 * - invalidRate: invalid guesses / all guesses (every turn is a guess).
 * - consistentRate, deadLetterReuseRate: over VALID guesses, i.e. how the player plays when it
 *   plays a real word; null when there was none.
 */
import { type GameResult, INVALID_GUESS_KINDS, type InvalidGuessKind } from "./game-record.js";

export interface EvalSummary {
  games: number;
  wins: number;
  winRate: number | null;
  meanGuesses: number | null;
  /** Games won in "1".."maxTurns" turns, and lost ("fail"). */
  distribution: Record<string, number>;
  /** Every guess, invalid ones included (= turns played). */
  guesses: number;
  invalidGuesses: number;
  invalidRate: number | null;
  invalidByKind: Record<InvalidGuessKind, number>;
  validGuesses: number;
  consistentRate: number | null;
  deadLetterReuseRate: number | null;
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

export function summarizeGames(games: readonly GameResult[], maxTurns = 6): EvalSummary {
  const distribution: Record<string, number> = {};
  for (let t = 1; t <= maxTurns; t++) distribution[String(t)] = 0;
  distribution.fail = 0;
  const invalidByKind = Object.fromEntries(INVALID_GUESS_KINDS.map((k) => [k, 0])) as Record<
    InvalidGuessKind,
    number
  >;
  let wins = 0;
  let wonTurns = 0;
  let guesses = 0;
  let invalid = 0;
  let valid = 0;
  let consistent = 0;
  let deadReuse = 0;
  for (const game of games) {
    if (game.won) {
      wins++;
      wonTurns += game.turns;
      const key = String(game.turns);
      distribution[key] = (distribution[key] ?? 0) + 1;
    } else distribution.fail++;
    for (const g of game.guesses) {
      guesses++;
      if (!g.valid) {
        invalid++;
        if (g.invalid !== undefined) invalidByKind[g.invalid]++;
        continue;
      }
      valid++;
      if (g.consistent) consistent++;
      if (g.deadLetterReuse) deadReuse++;
    }
  }
  return {
    games: games.length,
    wins,
    winRate: ratio(wins, games.length),
    meanGuesses: ratio(wonTurns, wins),
    distribution,
    guesses,
    invalidGuesses: invalid,
    invalidRate: ratio(invalid, guesses),
    invalidByKind,
    validGuesses: valid,
    consistentRate: ratio(consistent, valid),
    deadLetterReuseRate: ratio(deadReuse, valid),
  };
}
