/**
 * Multi-turn GRPO rollout: whole games are the episodes.
 *
 * For each of P secrets, G games are played from the same start (empty history) by the current
 * policy, all P x G in lock-step: each turn, every unfinished game's prompt (the prompt template
 * over its own history) goes to the sampler in one `generate` call, the guess is parsed and judged
 * (an invalid guess costs a turn and changes nothing, as in evaluation), until a win or maxTurns.
 *
 * Two ways to credit a turn (`credit`):
 *
 *   "game"  every completion of a game gets that game's advantage (as multi-turn GRPO trainers do):
 *             R_g = outcome_g + mean over the game's turns of shaping_t
 *             A_{g,t} = normalise_G(R)_g
 *   "turn"  the game's outcome plus the turn's own shaping, each normalised in the secret's group
 *           (process-reward GRPO: a good guess in a lost game is not blamed for the loss):
 *             A_{g,t} = normalise_G(outcome)_g + turnWeight * normalise_group(shaping)_{g,t}
 *
 * where, for game g of the group's G games and its turn t,
 *
 *   outcome_g = win_g * (winBonus + savedBonus * (maxTurns - turns_g))   a win, worth more the sooner
 *   shaping_t = consistency * [the guess fits every feedback so far]
 *             + validity * [the guess is an accepted word]
 *             - repeatPenalty * [the guess was already played]
 *
 * normalise_G is computeAdvantages over the G outcomes (scale_rewards), normalise_group the same
 * over every turn the group's G games played. The result is a GenerationBatch like the
 * single-state rollout's, except that every completion carries its own prompt ids (`promptIds`):
 * turn k of a game was generated from a different prompt than turn 1, so the loss must score it
 * after that prompt.
 */
import { generate } from "../model/sampler.js";
import type { Tokenizer } from "../model/tokenizer.js";
import type { CausalLM } from "../model/transformer.js";
import { completionBehaviour } from "../task/metrics.js";
import { parseGuess } from "../task/parse-guess.js";
import { type PromptTemplateName, renderPrompt } from "../task/prompt.js";
import { encodeHistory, type HistoryEntry, isConsistentCoded } from "../wordle/candidates.js";
import { scoreGuess } from "../wordle/score.js";
import { loadWordLists } from "../wordle/words.js";
import { ADVANTAGE_STD_EPSILON, computeAdvantages, unbiasedStd } from "./advantages.js";
import type { ScaleRewards } from "./config-schema.js";
import {
  type GenerationBatch,
  oldAndReferenceLogProbs,
  type RolloutCompletion,
  type RolloutContext,
  samplerSettings,
} from "./rollout.js";

export interface GameReturnWeights {
  /** Paid for any win. */
  winBonus: number;
  /** Paid per turn left unused by a win. */
  savedBonus: number;
  /** Per-turn shaping ("game" credit: averaged over the game's turns). */
  consistency: number;
  validity: number;
  repeatPenalty: number;
}

export const DEFAULT_GAME_RETURN: GameReturnWeights = {
  winBonus: 1,
  savedBonus: 0.2,
  consistency: 0.5,
  validity: 0.25,
  repeatPenalty: 0.5,
};

export type TurnCredit = "game" | "turn";

export interface MultiTurnOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  template: PromptTemplateName;
  /** One group of G games per secret. */
  secrets: readonly string[];
  numGenerations: number;
  temperature: number;
  maxNewTokens: number;
  maxTurns?: number;
  scaleRewards?: ScaleRewards;
  weights?: GameReturnWeights;
  /**
   * End a game at its first invalid guess (a loss). Evaluation lets an invalid guess cost a turn,
   * but a greedy policy that has made one repeats it (its prompt is unchanged), so in play an
   * invalid guess is as good as a loss; ending the game makes that explicit and saves the turns.
   */
  endOnInvalid?: boolean;
  /** How a turn is credited (see the file comment); default "game". */
  credit?: TurnCredit;
  /** "turn" credit: weight of the turn's own shaping next to the game's outcome (default 1). */
  turnWeight?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  /** Reseeds the sampler (reproducible rollouts). */
  seed?: number;
  progress?: number;
}

/** One played turn, before the game's return is known. */
interface TurnRecord {
  game: number;
  promptIds: number[];
  tokenIds: number[];
  text: string;
  truncated: boolean;
  guess: string | null;
  historyBefore: HistoryEntry[];
  valid: boolean;
  consistent: boolean;
  repeated: boolean;
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

type JudgedTurn = Pick<TurnRecord, "valid" | "consistent" | "repeated">;

/** The per-turn shaping reward of one guess. */
export function turnShaping(t: JudgedTurn, w: GameReturnWeights): number {
  return (
    w.consistency * Number(t.consistent) + w.validity * Number(t.valid) - w.repeatPenalty * Number(t.repeated)
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
  },
): { returns: number[]; advantages: number[][]; stats: ReturnType<typeof computeAdvantages> } {
  const { maxTurns, weights: w, scaleRewards } = options;
  if (options.credit === "game") {
    const returns = turnsOf.map((turns, g) => gameReturn(turns, won[g], maxTurns, w));
    const adv = computeAdvantages(returns, G, scaleRewards);
    return { returns, advantages: turnsOf.map((turns, g) => turns.map(() => adv.advantages[g])), stats: adv };
  }
  const outcomes = turnsOf.map((turns, g) => gameOutcome(turns.length, won[g], maxTurns, w));
  const adv = computeAdvantages(outcomes, G, scaleRewards);
  const advantages = turnsOf.map((turns, g) => turns.map(() => adv.advantages[g]));
  for (let start = 0; start < turnsOf.length; start += G) {
    // Every turn the group played is one sample of the shaping: normalise them together.
    const shaping = turnsOf.slice(start, start + G).map((turns) => turns.map((t) => turnShaping(t, w)));
    const flat = shaping.flat();
    const centre = flat.reduce((s, x) => s + x, 0) / flat.length;
    const spread = scaleRewards === "none" ? 1 : unbiasedStd(flat) + ADVANTAGE_STD_EPSILON;
    shaping.forEach((turns, k) => {
      turns.forEach((x, t) => {
        advantages[start + k][t] += (options.turnWeight * (x - centre)) / spread;
      });
    });
  }
  const returns = turnsOf.map((turns, g) => gameReturn(turns, won[g], maxTurns, w));
  // Batch statistics (reward, reward_std, frac_reward_zero_std) describe the whole return, so a
  // group whose games all lost but guessed differently still counts as carrying signal.
  return { returns, advantages, stats: computeAdvantages(returns, G, scaleRewards) };
}

export function multiTurnRollout(options: MultiTurnOptions): MultiTurnBatch {
  const { model, tokenizer, template, secrets } = options;
  const G = options.numGenerations;
  const maxTurns = options.maxTurns ?? 6;
  const weights = options.weights ?? DEFAULT_GAME_RETURN;
  if (!Number.isInteger(G) || G < 2)
    throw new Error(`multi-turn rollout: numGenerations must be >= 2, got ${G}`);
  if (secrets.length === 0) throw new Error("multi-turn rollout: no secrets");
  const { allowedSet, answerSet } = loadWordLists();
  for (const s of secrets)
    if (!answerSet.has(s))
      throw new Error(`multi-turn rollout: secret ${JSON.stringify(s)} is not an answer`);

  const games = secrets.flatMap((secret) => Array.from({ length: G }, () => secret));
  const histories: HistoryEntry[][] = games.map(() => []);
  const turnsOf: TurnRecord[][] = games.map(() => []);
  const won = games.map(() => false);
  const over = games.map(() => false);
  const wasTraining = model.training;
  model.training = false;
  try {
    for (let turn = 0; turn < maxTurns; turn++) {
      const active = games.map((_, g) => g).filter((g) => !over[g]);
      if (active.length === 0) break;
      const prompts = active.map((g) =>
        tokenizer.encode(renderPrompt({ history: histories[g] }, { template, tokenizer }).text),
      );
      const completions = generate(model, tokenizer, prompts, {
        maxNewTokens: options.maxNewTokens,
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
        minP: options.minP,
        repetitionPenalty: options.repetitionPenalty,
        stopStrings: ["</guess>"],
        seed: options.seed === undefined ? undefined : options.seed * 7919 + turn,
      });
      completions.forEach((c, i) => {
        const g = active[i];
        const secret = games[g];
        const guess = parseGuess(c.text)?.toLowerCase() ?? null;
        const history = histories[g];
        const valid = guess !== null && guess.length === 5 && allowedSet.has(guess);
        const coded = encodeHistory(history);
        const record: TurnRecord = {
          game: g,
          promptIds: prompts[i],
          tokenIds: c.tokenIds,
          text: c.text,
          truncated: c.truncated,
          guess,
          historyBefore: [...history],
          valid,
          consistent: valid && isConsistentCoded(guess as string, coded),
          repeated: valid && history.some((h) => h.guess === guess),
        };
        turnsOf[g].push(record);
        if (!valid) {
          if (options.endOnInvalid) over[g] = true;
          return;
        }
        if (guess === secret) won[g] = over[g] = true;
        else history.push({ guess: guess as string, feedback: scoreGuess(guess as string, secret) });
      });
    }
  } finally {
    model.training = wasTraining;
  }

  const credited = creditTurns(turnsOf, won, G, {
    maxTurns,
    weights,
    credit: options.credit ?? "game",
    turnWeight: options.turnWeight ?? 1,
    scaleRewards: options.scaleRewards ?? "group",
  });
  const returns = credited.returns;
  const adv = credited.stats;
  const progress = options.progress ?? 0;
  const completions: MultiTurnBatch["completions"] = [];
  games.forEach((secret, g) => {
    turnsOf[g].forEach((t, k) => {
      completions.push({
        prompt: Math.floor(g / G),
        promptIds: t.promptIds,
        state: { id: `${secret}-game${g}-turn${k + 1}`, secret, history: t.historyBefore },
        game: g,
        turn: k + 1,
        tokenIds: t.tokenIds,
        text: t.text,
        truncated: t.truncated,
        guess: t.guess === null ? null : t.guess.toUpperCase(),
        reward: returns[g],
        rewards: {
          win: Number(won[g] && k === turnsOf[g].length - 1),
          consistent: Number(t.consistent),
          valid: Number(t.valid),
          repeated: Number(t.repeated),
        },
        advantage: credited.advantages[g][k],
        behaviour: completionBehaviour({ secret, history: t.historyBefore }, t.text),
        oldLogps: null,
        refLogps: null,
      });
    });
  });
  const outcomes: GameOutcome[] = games.map((secret, g) => ({
    secret,
    won: won[g],
    turns: turnsOf[g].length,
    invalid: turnsOf[g].filter((t) => !t.valid).length,
    return: returns[g],
  }));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const stats: Record<string, number> = {
    reward: adv.reward_mean,
    reward_std: adv.reward_std,
    frac_reward_zero_std: adv.frac_reward_zero_std,
    "games/win_rate": mean(outcomes.map((o) => Number(o.won))),
    "games/mean_turns": mean(outcomes.map((o) => o.turns)),
    "games/invalid_rate": mean(completions.map((c) => 1 - c.rewards.valid)),
    "rewards/consistent/mean": mean(completions.map((c) => c.rewards.consistent)),
    "rewards/consistent/std": unbiasedStd(completions.map((c) => c.rewards.consistent)),
  };
  return {
    promptIndices: secrets.map((_, i) => i),
    completions,
    temperature: options.temperature,
    progress,
    stats,
    uses: 0,
    games: outcomes,
  };
}

/**
 * The trainer's generation batch in multi_turn mode: G games for each secret under the config's
 * sampler and `multi_turn` section, then log π_old / log π_ref of every turn after its own prompt
 * where num_iterations / beta need them.
 */
export function multiTurnGenerationBatch(
  ctx: Pick<RolloutContext, "model" | "tokenizer" | "config">,
  secrets: readonly string[],
  temperature: number,
  progress: number,
): MultiTurnBatch {
  const { config } = ctx;
  const mt = config.multi_turn;
  const sampling = samplerSettings(config, temperature);
  const batch = multiTurnRollout({
    model: ctx.model,
    tokenizer: ctx.tokenizer,
    template: config.prompt_template,
    secrets,
    numGenerations: config.num_generations,
    temperature,
    maxNewTokens: config.max_completion_length,
    maxTurns: mt.max_turns,
    scaleRewards: config.scale_rewards,
    credit: mt.credit,
    turnWeight: mt.turn_weight,
    endOnInvalid: mt.invalid_ends_game,
    weights: {
      winBonus: mt.win_bonus,
      savedBonus: mt.saved_bonus,
      consistency: mt.consistency,
      validity: mt.validity,
      repeatPenalty: mt.repeat_penalty,
    },
    topK: sampling.topK,
    topP: sampling.topP,
    minP: sampling.minP,
    repetitionPenalty: sampling.repetitionPenalty,
    progress,
  });
  const { oldLogps, refLogps } = oldAndReferenceLogProbs(
    ctx,
    batch.completions.map((c) => c.promptIds),
    batch.completions.map((c) => c.tokenIds),
    temperature,
  );
  batch.completions.forEach((c, i) => {
    c.oldLogps = oldLogps?.[i] ?? null;
    c.refLogps = refLogps?.[i] ?? null;
  });
  return batch;
}
