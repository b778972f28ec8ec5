/**
 * Play a solver against every answer (or a given list of secrets) and summarise: win rate, mean
 * guesses over won games, and the distribution of game lengths.
 */
import type { CodedHistoryEntry } from "./candidates.js";
import { filterByCode } from "./entropy.js";
import { ALL_CORRECT } from "./score.js";
import { createSolver, type GuessPool, type SolverName, type SolverOptions } from "./solver.js";
import type { AllowedListName } from "./words.js";

export interface SolveOptions extends SolverOptions {
  /** Secrets to play (must be answers); default all 2,315 answers. */
  secrets?: readonly string[];
  /** Turns per game (default 6). */
  maxTurns?: number;
  /** Include every game's guesses in the report. */
  keepGames?: boolean;
}

export interface GameRecord {
  secret: string;
  guesses: string[];
  won: boolean;
}

export interface SolveReport {
  solver: SolverName;
  /** The fixed opener, or null when the solver chose it (entropy) or drew it (random). */
  opener: string | null;
  pool: GuessPool;
  allowed: AllowedListName;
  hard: boolean;
  seed: number | null;
  games: number;
  wins: number;
  winRate: number;
  /** Mean number of guesses over won games (NaN if none was won). */
  meanGuesses: number;
  /** Games won in 1..maxTurns guesses ("1".."6") and games lost ("fail"). */
  distribution: Record<string, number>;
  /** Seconds to load the lists and build (or fetch) the pattern table. */
  setupSeconds: number;
  /** Seconds to play all games. */
  playSeconds: number;
  records?: GameRecord[];
}

export function solve(options: SolveOptions): SolveReport {
  const maxTurns = options.maxTurns ?? 6;
  if (!Number.isInteger(maxTurns) || maxTurns < 1) {
    throw new Error(`solve: maxTurns must be a positive integer, got ${options.maxTurns}`);
  }
  const t0 = performance.now();
  const solver = createSolver(options);
  const { table } = solver;
  const t1 = performance.now();

  const secrets = (options.secrets ?? table.answers).map((w, i) => {
    const index = table.answerIndex.get(w.toLowerCase());
    if (index === undefined)
      throw new Error(`solve: secrets[${i}] ${JSON.stringify(w)} is not one of the answers`);
    return index;
  });
  const allAnswers = table.answers.map((_, i) => i);
  const width = table.answers.length;
  const distribution: Record<string, number> = {};
  for (let t = 1; t <= maxTurns; t++) distribution[String(t)] = 0;
  distribution.fail = 0;
  const records: GameRecord[] = [];
  let wins = 0;
  let wonGuesses = 0;

  for (const secret of secrets) {
    const history: CodedHistoryEntry[] = [];
    let candidates: number[] = allAnswers;
    let won = false;
    while (history.length < maxTurns) {
      const guess = solver.choose({ table, history, candidates });
      const code = table.codes[guess * width + secret];
      history.push({ guess: table.guesses[guess], code });
      if (code === ALL_CORRECT) {
        won = true;
        break;
      }
      candidates = filterByCode(table, guess, code, candidates);
    }
    if (won) {
      wins++;
      wonGuesses += history.length;
      distribution[String(history.length)]++;
    } else distribution.fail++;
    if (options.keepGames)
      records.push({ secret: table.answers[secret], guesses: history.map((h) => h.guess), won });
  }
  const t2 = performance.now();

  const report: SolveReport = {
    solver: solver.name,
    opener: solver.opener,
    pool: options.pool ?? "allowed",
    allowed: options.allowed ?? "12972",
    hard: options.hard ?? false,
    seed: options.solver === "random-consistent" ? (options.seed ?? 0) : null,
    games: secrets.length,
    wins,
    winRate: secrets.length === 0 ? 0 : wins / secrets.length,
    meanGuesses: wins === 0 ? Number.NaN : wonGuesses / wins,
    distribution,
    setupSeconds: (t1 - t0) / 1000,
    playSeconds: (t2 - t1) / 1000,
  };
  if (options.keepGames) report.records = records;
  return report;
}
