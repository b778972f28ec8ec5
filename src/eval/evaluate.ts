/**
 * An evaluation: a policy plays every secret of one or more sets (all answers, held-out, a custom
 * list), and the solver baselines play the same secrets by the same rules beside it.
 */
import type { EvalSummary } from "./aggregate.js";
import { type BaselineOptions, type BaselineResult, solverBaselines } from "./baselines.js";
import type { GameResult } from "./game-record.js";
import { type PlayGamesOptions, playGames, type TurnEvent } from "./play-games.js";
import type { GuessPolicy } from "./policy.js";
import type { EvalSet } from "./secrets.js";

export interface EvaluateOptions {
  policy: GuessPolicy;
  sets: readonly EvalSet[];
  /** Game rules and batching (maxTurns, hardMode, allowed, batchSize, excerptChars). */
  play?: Omit<PlayGamesOptions, "onTurn">;
  /** Solver baselines on the same secrets (default: entropy and random-consistent); false: none. */
  baselines?: false | Omit<BaselineOptions, "play">;
  onTurn?: (set: string, event: TurnEvent) => void;
}

export interface SetReport {
  set: string;
  summary: EvalSummary;
  games: GameResult[];
  baselines: BaselineResult[];
  /** Seconds the policy's games took (baselines excluded). */
  seconds: number;
}

export interface EvaluationReport {
  policy: string;
  decoding: string | null;
  sets: SetReport[];
}

export async function evaluate(options: EvaluateOptions): Promise<EvaluationReport> {
  const { policy } = options;
  if (options.sets.length === 0) throw new Error("evaluate: no evaluation sets given");
  const play = options.play ?? {};
  const reports: SetReport[] = [];
  for (const set of options.sets) {
    if (set.secrets.length === 0) throw new Error(`evaluate: the set "${set.name}" has no secrets`);
    const started = performance.now();
    const onTurn = options.onTurn;
    const { games, summary } = await playGames(policy, set.secrets, {
      ...play,
      onTurn: onTurn ? (event) => onTurn(set.name, event) : undefined,
    });
    const seconds = (performance.now() - started) / 1000;
    const baselines =
      options.baselines === false
        ? []
        : await solverBaselines(set.secrets, {
            ...options.baselines,
            play: { maxTurns: play.maxTurns, hardMode: play.hardMode, allowed: play.allowed },
          });
    reports.push({ set: set.name, summary, games, baselines, seconds });
  }
  return { policy: policy.name, decoding: policy.decoding ?? null, sets: reports };
}
