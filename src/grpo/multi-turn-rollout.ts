/**
 * Multi-turn GRPO rollout: whole games are the episodes.
 *
 * For each of P secrets, G games are played from the same start (empty history) by the current
 * policy, all P x G in lock-step: each turn, every unfinished game's prompt (the prompt template
 * over its own history) goes to the sampler in one `generate` call, the guess is parsed and judged
 * (an invalid guess costs a turn and changes nothing, as in evaluation), until a win or maxTurns.
 *
 * Every completion of a game is credited with that game's return (as multi-turn GRPO trainers do):
 *
 *   R = win * (winBonus + savedBonus * (maxTurns - turns))       a win, worth more the sooner
 *     + mean over the game's turns of (consistency * [guess fits every feedback so far]
 *                                      + validity * [guess is an accepted word]
 *                                      - repeatPenalty * [guess was already played])
 *
 * and advantages are normalised across the G games of the same secret (computeAdvantages with
 * group size G over the game returns); each turn's completion gets its game's advantage. The
 * result is a GenerationBatch like the single-state rollout's, except that every completion
 * carries its own prompt ids (`promptIds`): turn k of a game was generated from a different prompt
 * than turn 1, so the loss must score it after that prompt.
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
import { computeAdvantages, unbiasedStd } from "./advantages.js";
import type { ScaleRewards } from "./config-schema.js";
import type { GenerationBatch, RolloutCompletion } from "./rollout.js";

export interface GameReturnWeights {
  /** Paid for any win. */
  winBonus: number;
  /** Paid per turn left unused by a win. */
  savedBonus: number;
  /** Per-turn shaping, averaged over the game's turns. */
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
  topK?: number;
  topP?: number;
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

export function gameReturn(
  turns: readonly Pick<TurnRecord, "valid" | "consistent" | "repeated">[],
  won: boolean,
  maxTurns: number,
  w: GameReturnWeights,
): number {
  const shaping =
    turns.reduce(
      (s, t) =>
        s +
        w.consistency * Number(t.consistent) +
        w.validity * Number(t.valid) -
        w.repeatPenalty * Number(t.repeated),
      0,
    ) / Math.max(1, turns.length);
  const win = won ? w.winBonus + w.savedBonus * (maxTurns - turns.length) : 0;
  return win + shaping;
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
  const wasTraining = model.training;
  model.training = false;
  try {
    for (let turn = 0; turn < maxTurns; turn++) {
      const active = games.map((_, g) => g).filter((g) => !won[g]);
      if (active.length === 0) break;
      const prompts = active.map((g) =>
        tokenizer.encode(renderPrompt({ history: histories[g] }, { template, tokenizer }).text),
      );
      const completions = generate(model, tokenizer, prompts, {
        maxNewTokens: options.maxNewTokens,
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
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
        if (!valid) return;
        if (guess === secret) won[g] = true;
        else history.push({ guess: guess as string, feedback: scoreGuess(guess as string, secret) });
      });
    }
  } finally {
    model.training = wasTraining;
  }

  const returns = games.map((_, g) => gameReturn(turnsOf[g], won[g], maxTurns, weights));
  const adv = computeAdvantages(returns, G, options.scaleRewards ?? "group");
  const progress = options.progress ?? 0;
  const completions: MultiTurnBatch["completions"] = [];
  games.forEach((secret, g) => {
    turnsOf[g].forEach((t, k) => {
      completions.push({
        prompt: Math.floor(g / G),
        promptIds: t.promptIds,
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
        advantage: adv.advantages[g],
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
