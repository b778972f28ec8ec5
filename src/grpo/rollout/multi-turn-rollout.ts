import type { Tokenizer } from "../../model/tokenizer.js";
import type { CausalLM } from "../../model/transformer.js";
import { completionBehaviour } from "../../task/metrics.js";
import { mixSeeds } from "../../util/rng.js";
import { loadWordLists } from "../../wordle/words.js";
import { configSchema, type GrpoConfig, type ScaleRewards } from "../config/schema.js";
import { type Ranks, SOLO } from "../ranks.js";
import { ADVANTAGE_STD_EPSILON, computeAdvantages, unbiasedStd } from "../step/advantages.js";
import { type Decoding, newGame, type PlayContext, playToEnd, type TurnRecord } from "./game-play.js";
import { type GenerationBatch, type RolloutCompletion, samplerSettings } from "./rollout.js";

export interface GameReturnWeights {
  /** Paid for any win. */
  winBonus: number;
  /** Paid per turn left unused by a win. */
  savedBonus: number;
  /** Per-turn shaping ("game" credit: averaged over the game's turns). */
  consistency: number;
  validity: number;
  repeatPenalty: number;
  /** Per-turn shaping: the guess's normalised expected information (0: not judged). */
  information: number;
}

/** The weights of the config's multi_turn section, in the names the maths below uses. */
export function gameReturnWeights(mt: GrpoConfig["multi_turn"]): GameReturnWeights {
  return {
    winBonus: mt.win_bonus,
    savedBonus: mt.saved_bonus,
    consistency: mt.consistency,
    validity: mt.validity,
    repeatPenalty: mt.repeat_penalty,
    information: mt.information,
  };
}

/** The schema's default weights (config/schema.ts states them; nothing here restates them). */
export const DEFAULT_GAME_RETURN: GameReturnWeights = gameReturnWeights(configSchema.parse({}).multi_turn);

export type TurnCredit = GrpoConfig["multi_turn"]["credit"];

/** The sections of the config a multi-turn rollout reads (a whole GrpoConfig will do). */
export type MultiTurnConfig = Pick<
  GrpoConfig,
  | "multi_turn"
  | "num_generations"
  | "max_completion_length"
  | "prompt_template"
  | "scale_rewards"
  | "top_k"
  | "top_p"
  | "min_p"
  | "repetition_penalty"
>;

export interface MultiTurnOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** How games are played, judged and credited: the config's multi_turn section and sampler. */
  config: MultiTurnConfig;
  /** One group of num_generations games per secret. */
  secrets: readonly string[];
  /** This step's sampling temperature (the config's temperature schedule applied). */
  temperature: number;
  /** Training progress in [0, 1]. */
  progress: number;
  /** Reseeds the sampler (reproducible rollouts). */
  seed?: number;
  /**
   * Data parallelism: this rank plays the games of its share of the secrets, from keyed streams
   * seeded by (config seed, step), and the played games are gathered (ranks.ts). Default: alone.
   */
  ranks?: Ranks;
  /** The step the batch is for (the keyed streams' seed). */
  step?: number;
  /** The run's seed (the keyed streams' seed). */
  runSeed?: number;
  /** Told the prefill / decode split of every generate call (benchmarks, profiling). */
  onGenerate?: PlayContext["onGenerate"];
}

export interface GameOutcome {
  secret: string;
  won: boolean;
  turns: number;
  invalid: number;
  return: number;
}

export interface MultiTurnBatch extends GenerationBatch {
  completions: (RolloutCompletion & { promptIds: number[]; game: number; turn: number })[];
  games: GameOutcome[];
}

export type JudgedTurn = Pick<TurnRecord, "valid" | "consistent" | "repeated" | "information"> & {
  /** "letter" credit: the shaping value of each completion token (letter-shaping.ts). */
  tokenValues?: readonly number[];
};

/** The per-turn shaping reward of one guess. */
export function turnShaping(t: JudgedTurn, w: GameReturnWeights): number {
  return (
    w.consistency * Number(t.consistent) +
    w.validity * Number(t.valid) -
    w.repeatPenalty * Number(t.repeated) +
    w.information * (t.information ?? 0)
  );
}

/** The game's outcome: a win bonus that grows with the turns it left unused, 0 for a loss. */
export function gameOutcome(
  turnsPlayed: number,
  won: boolean,
  maxTurns: number,
  w: GameReturnWeights,
): number {
  return won ? w.winBonus + w.savedBonus * (maxTurns - turnsPlayed) : 0;
}

/** "game" credit's return: the outcome plus the mean shaping of the game's turns. */
export function gameReturn(
  turns: readonly JudgedTurn[],
  won: boolean,
  maxTurns: number,
  w: GameReturnWeights,
): number {
  const shaping = turns.reduce((s, t) => s + turnShaping(t, w), 0) / Math.max(1, turns.length);
  return gameOutcome(turns.length, won, maxTurns, w) + shaping;
}

/**
 * Advantage of every turn of every game, games in groups of G (one group per secret), in the
 * order games[g] turns[t]. See the file comment for the two credit rules.
 */
export function creditTurns(
  turnsOf: readonly (readonly JudgedTurn[])[],
  won: readonly boolean[],
  G: number,
  options: {
    maxTurns: number;
    weights: GameReturnWeights;
    credit: TurnCredit;
    turnWeight: number;
    scaleRewards: ScaleRewards;
    /** Turns each game used in all, when more than its credited turns (branch rollout). */
    turnsUsed?: readonly number[];
  },
): {
  returns: number[];
  /** Per game, per turn. "letter" credit: the mean of the turn's token advantages. */
  advantages: number[][];
  /** "letter" credit: per game, per turn, one advantage per completion token; else null. */
  tokenAdvantages: (number[] | null)[][];
  stats: ReturnType<typeof computeAdvantages>;
} {
  const { maxTurns, weights: w, scaleRewards } = options;
  if (options.credit === "game") {
    const returns = turnsOf.map((turns, g) => gameReturn(turns, won[g], maxTurns, w));
    const adv = computeAdvantages(returns, G, scaleRewards);
    return {
      returns,
      advantages: turnsOf.map((turns, g) => turns.map(() => adv.advantages[g])),
      tokenAdvantages: turnsOf.map((turns) => turns.map(() => null)),
      stats: adv,
    };
  }
  const outcomes = turnsOf.map((turns, g) =>
    gameOutcome(options.turnsUsed?.[g] ?? turns.length, won[g], maxTurns, w),
  );
  const adv = computeAdvantages(outcomes, G, scaleRewards);
  const byLetter = options.credit === "letter";
  // One shaping sample per turn ("turn") or per completion token ("letter").
  const samplesOf = (t: JudgedTurn): readonly number[] => {
    if (!byLetter) return [turnShaping(t, w)];
    if (t.tokenValues === undefined)
      throw new Error("creditTurns: letter credit needs every turn's tokenValues");
    return t.tokenValues;
  };
  const advantages = turnsOf.map((turns, g) => turns.map(() => adv.advantages[g]));
  const tokenAdvantages: (number[] | null)[][] = turnsOf.map((turns) => turns.map(() => null));
  for (let start = 0; start < turnsOf.length; start += G) {
    // Every turn (token) the group played is one sample of the shaping: normalise them together.
    const shaping = turnsOf.slice(start, start + G).map((turns) => turns.map(samplesOf));
    const flat = shaping.flat(2);
    const centre = flat.reduce((s, x) => s + x, 0) / flat.length;
    const spread = scaleRewards === "none" ? 1 : unbiasedStd(flat) + ADVANTAGE_STD_EPSILON;
    shaping.forEach((turns, k) => {
      const g = start + k;
      turns.forEach((samples, t) => {
        const perSample = samples.map(
          (x) => adv.advantages[g] + (options.turnWeight * (x - centre)) / spread,
        );
        advantages[g][t] = perSample.reduce((s, x) => s + x, 0) / Math.max(1, perSample.length);
        if (byLetter) tokenAdvantages[g][t] = perSample;
      });
    });
  }
  const returns = turnsOf.map(
    (turns, g) => outcomes[g] + turns.reduce((s, t) => s + turnShaping(t, w), 0) / Math.max(1, turns.length),
  );
  // Batch statistics (reward, reward_std, frac_reward_zero_std) describe the whole return, so a
  // group whose games all lost but guessed differently still counts as carrying signal.
  return { returns, advantages, tokenAdvantages, stats: computeAdvantages(returns, G, scaleRewards) };
}

/** How games are played and judged for this config. */
export function playContext(
  options: Pick<MultiTurnOptions, "model" | "tokenizer" | "config" | "onGenerate">,
): PlayContext {
  const { config } = options;
  const weights = gameReturnWeights(config.multi_turn);
  return {
    model: options.model,
    tokenizer: options.tokenizer,
    template: config.prompt_template,
    maxNewTokens: config.max_completion_length,
    maxTurns: config.multi_turn.max_turns,
    endOnInvalid: config.multi_turn.invalid_ends_game,
    showRefused: config.multi_turn.show_refused,
    constrain: config.multi_turn.constrain,
    letterWeights: config.multi_turn.credit === "letter" ? weights : null,
    judgeInformation: weights.information !== 0,
    turnValue: (t) => turnShaping(t, weights),
    onGenerate: options.onGenerate,
  };
}

/** How both multi-turn rollouts sample the policy's guesses: the config's sampler. */
export function sampledDecoding(
  options: Pick<MultiTurnOptions, "config" | "temperature" | "seed">,
): Decoding {
  const { stopStrings: _, ...sampling } = samplerSettings(options.config, options.temperature);
  return { greedy: false, ...sampling, seed: options.seed };
}

/** The checks both multi-turn rollouts make on their inputs (`label` names the rollout). */
export function checkRolloutInputs(label: string, G: number, secrets: readonly string[]): void {
  if (!Number.isInteger(G) || G < 2) throw new Error(`${label}: numGenerations must be >= 2, got ${G}`);
  if (secrets.length === 0) throw new Error(`${label}: no secrets`);
  const { answerSet } = loadWordLists();
  for (const s of secrets)
    if (!answerSet.has(s)) throw new Error(`${label}: secret ${JSON.stringify(s)} is not an answer`);
}

/** A played turn as a training completion of the batch. */
export function turnCompletion(
  t: TurnRecord,
  where: { secret: string; group: number; game: number; turn: number; id: string },
  credit: { reward: number; win: boolean; advantage: number; tokenAdvantages: number[] | null },
): MultiTurnBatch["completions"][number] {
  return {
    prompt: where.group,
    promptIds: t.promptIds,
    state: {
      id: where.id,
      secret: where.secret,
      history: t.historyBefore,
      ...(t.refusedShown.length > 0 ? { refused: t.refusedShown } : {}),
    },
    game: where.game,
    turn: where.turn,
    tokenIds: t.tokenIds,
    text: t.text,
    truncated: t.truncated,
    guess: t.guess === null ? null : t.guess.toUpperCase(),
    reward: credit.reward,
    rewards: {
      win: Number(credit.win),
      consistent: Number(t.consistent),
      valid: Number(t.valid),
      repeated: Number(t.repeated),
    },
    advantage: credit.advantage,
    ...(credit.tokenAdvantages === null ? {} : { tokenAdvantages: credit.tokenAdvantages }),
    behaviour: completionBehaviour({ secret: where.secret, history: t.historyBefore }, t.text),
    oldLogps: null,
    refLogps: null,
    ...(t.tokenFilters === undefined ? {} : { tokenFilters: t.tokenFilters }),
  };
}

/** The batch statistics both multi-turn rollouts log (trainer metrics `games/*`, `rewards/*`). */
export function rolloutStats(
  adv: ReturnType<typeof computeAdvantages>,
  outcomes: readonly GameOutcome[],
  completions: MultiTurnBatch["completions"],
): Record<string, number> {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  return {
    reward: adv.reward_mean,
    reward_std: adv.reward_std,
    frac_reward_zero_std: adv.frac_reward_zero_std,
    "games/win_rate": mean(outcomes.map((o) => Number(o.won))),
    "games/mean_turns": mean(outcomes.map((o) => o.turns)),
    "games/invalid_rate": mean(completions.map((c) => 1 - c.rewards.valid)),
    "rewards/consistent/mean": mean(completions.map((c) => c.rewards.consistent)),
    "rewards/consistent/std": unbiasedStd(completions.map((c) => c.rewards.consistent)),
  };
}

export function multiTurnRollout(options: MultiTurnOptions): MultiTurnBatch {
  const { secrets, config } = options;
  const mt = config.multi_turn;
  const G = config.num_generations;
  checkRolloutInputs("multi-turn rollout", G, secrets);

  const ranks = options.ranks ?? SOLO;
  const mine = ranks.share(secrets);
  const ctx = playContext(options);
  const live = mine.items.flatMap((secret) => Array.from({ length: G }, () => newGame(ctx, secret)));
  const decoding = sampledDecoding(options);
  if (ranks.distributed)
    decoding.stream = { seed: mixSeeds(options.runSeed ?? 0, options.step ?? 0), firstGame: mine.offset * G };
  playToEnd(ctx, live, decoding);
  const played = ranks.gather(live.map((g) => ({ secret: g.secret, turns: g.turns, won: g.won })));
  const games = played.map((g) => g.secret);
  const turnsOf = played.map((g) => g.turns);
  const won = played.map((g) => g.won);

  const credited = creditTurns(turnsOf, won, G, {
    maxTurns: mt.max_turns,
    weights: gameReturnWeights(mt),
    credit: mt.credit,
    turnWeight: mt.turn_weight,
    scaleRewards: config.scale_rewards,
  });
  const returns = credited.returns;
  const completions = games.flatMap((secret, g) =>
    turnsOf[g].map((t, k) =>
      turnCompletion(
        t,
        { secret, group: Math.floor(g / G), game: g, turn: k + 1, id: `${secret}-game${g}-turn${k + 1}` },
        {
          reward: returns[g],
          win: won[g] && k === turnsOf[g].length - 1,
          advantage: credited.advantages[g][k],
          tokenAdvantages: credited.tokenAdvantages[g][k],
        },
      ),
    ),
  );
  const outcomes: GameOutcome[] = games.map((secret, g) => ({
    secret,
    won: won[g],
    turns: turnsOf[g].length,
    invalid: turnsOf[g].filter((t) => !t.valid).length,
    return: returns[g],
  }));
  return {
    promptIndices: secrets.map((_, i) => i),
    completions,
    temperature: options.temperature,
    progress: options.progress,
    stats: rolloutStats(credited.stats, outcomes, completions),
    uses: 0,
    games: outcomes,
  };
}
