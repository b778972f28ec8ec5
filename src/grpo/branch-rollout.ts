/**
 * Branching rollout for multi-turn GRPO (`multi_turn.rollout = "branch"`): every group shares one
 * prompt, at a position that greedy play actually reaches.
 *
 * The model is judged by greedy play, so what has to improve is the argmax at the positions its
 * greedy games pass through. Whole sampled games (multi-turn-rollout.ts) explore positions greedy
 * play rarely meets, and after the first turn a group's G games sit at G different positions, so
 * the group baseline compares different questions. Here, for each of P training secrets:
 *
 *   1. play the secret greedily to the end: positions s_1 .. s_n (the history before each guess);
 *   2. pick one of them, s_t, uniformly;
 *   3. sample G completions at s_t (the step's temperature): one group, one prompt;
 *   4. finish each of those G games greedily from where its guess leads;
 *   5. credit the G branch guesses with their game's outcome and their own shaping, both
 *      normalised over the group:
 *        A_i = normalise_G(outcome)_i + turnWeight * normalise_G(shaping)_i
 *      (with `credit = "letter"` the shaping is per token, letter-shaping.ts).
 *
 * Only the G branch completions enter the loss. The greedy continuations are the current policy
 * being evaluated, not moves being taught: the update moves probability at s_t towards the guesses
 * after which today's greedy play wins soonest (one step of policy improvement per position).
 */
import { generate } from "../model/sampler.js";
import { completionBehaviour } from "../task/metrics.js";
import type { HistoryEntry } from "../wordle/candidates.js";
import type { Rng } from "../wordle/rng.js";
import { loadWordLists } from "../wordle/words.js";
import { unbiasedStd } from "./advantages.js";
import { applyCompletion, type LiveGame, newGame, playToEnd, renderGamePrompt } from "./game-play.js";
import {
  creditTurns,
  DEFAULT_GAME_RETURN,
  type GameOutcome,
  type MultiTurnBatch,
  type MultiTurnOptions,
  playContext,
} from "./multi-turn-rollout.js";

export interface BranchOptions extends MultiTurnOptions {
  /** Picks the branch positions (seeded by the trainer for exact resume). */
  rng: Rng;
}

export function branchRollout(options: BranchOptions): MultiTurnBatch {
  const { model, secrets } = options;
  const G = options.numGenerations;
  const maxTurns = options.maxTurns ?? 6;
  const weights = options.weights ?? DEFAULT_GAME_RETURN;
  const credit = options.credit ?? "turn";
  if (credit === "game")
    throw new Error('branch rollout: credit must be "turn" or "letter" (one trained guess per game)');
  if (!Number.isInteger(G) || G < 2) throw new Error(`branch rollout: numGenerations must be >= 2, got ${G}`);
  if (secrets.length === 0) throw new Error("branch rollout: no secrets");
  const { answerSet } = loadWordLists();
  for (const s of secrets)
    if (!answerSet.has(s)) throw new Error(`branch rollout: secret ${JSON.stringify(s)} is not an answer`);
  const ctx = playContext(options, weights, credit);
  const seed = options.seed;

  const wasTraining = model.training;
  model.training = false;
  let greedyGames: LiveGame[];
  let branches: LiveGame[];
  let positions: { secret: string; history: HistoryEntry[]; turn: number }[];
  try {
    // 1. Greedy games: the positions the evaluated policy reaches.
    greedyGames = secrets.map((secret) => newGame(secret));
    playToEnd(ctx, greedyGames, { greedy: true, temperature: 1 });
    // 2. One position per secret.
    positions = greedyGames.map((game) => {
      const t = options.rng.int(game.turns.length);
      return { secret: game.secret, history: game.turns[t].historyBefore, turn: t };
    });
    // 3. G sampled guesses at each position, one prefill per prompt.
    const prompts = positions.map((p) => renderGamePrompt(ctx, p.history));
    const sampled = generate(model, options.tokenizer, prompts, {
      numReturnSequences: G,
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      topK: options.topK,
      topP: options.topP,
      minP: options.minP,
      repetitionPenalty: options.repetitionPenalty,
      stopStrings: ["</guess>"],
      seed: seed === undefined ? undefined : seed * 7919,
    });
    branches = sampled.map((c) => {
      const p = positions[c.promptIndex];
      const game = newGame(p.secret, p.history, p.turn);
      applyCompletion(ctx, game, prompts[c.promptIndex], c);
      return game;
    });
    // 4. Greedy continuations.
    playToEnd(ctx, branches, { greedy: true, temperature: 1 });
  } finally {
    model.training = wasTraining;
  }

  // 5. Credit: only each branch's first turn (the sampled guess) is a training completion.
  const turnsUsed = branches.map((g) => g.turnsBefore + g.turns.length);
  const credited = creditTurns(
    branches.map((g) => [g.turns[0]]),
    branches.map((g) => g.won),
    G,
    {
      maxTurns,
      weights,
      credit,
      turnWeight: options.turnWeight ?? 1,
      scaleRewards: options.scaleRewards ?? "group",
      turnsUsed,
    },
  );
  const completions: MultiTurnBatch["completions"] = branches.map((game, i) => {
    const t = game.turns[0];
    const group = Math.floor(i / G);
    const turn = positions[group].turn + 1;
    return {
      prompt: group,
      promptIds: t.promptIds,
      state: { id: `${game.secret}-branch${i}-turn${turn}`, secret: game.secret, history: t.historyBefore },
      game: i,
      turn,
      tokenIds: t.tokenIds,
      text: t.text,
      truncated: t.truncated,
      guess: t.guess === null ? null : t.guess.toUpperCase(),
      reward: credited.returns[i],
      rewards: {
        win: Number(game.won),
        consistent: Number(t.consistent),
        valid: Number(t.valid),
        repeated: Number(t.repeated),
      },
      advantage: credited.advantages[i][0],
      ...(credited.tokenAdvantages[i][0] === null ? {} : { tokenAdvantages: credited.tokenAdvantages[i][0] }),
      behaviour: completionBehaviour({ secret: game.secret, history: t.historyBefore }, t.text),
      oldLogps: null,
      refLogps: null,
    };
  });
  const outcomes: GameOutcome[] = branches.map((game, i) => ({
    secret: game.secret,
    won: game.won,
    turns: turnsUsed[i],
    invalid: game.turns.filter((t) => !t.valid).length,
    return: credited.returns[i],
  }));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const adv = credited.stats;
  return {
    promptIndices: secrets.map((_, i) => i),
    completions,
    temperature: options.temperature,
    progress: options.progress ?? 0,
    stats: {
      reward: adv.reward_mean,
      reward_std: adv.reward_std,
      frac_reward_zero_std: adv.frac_reward_zero_std,
      "games/greedy_win_rate": mean(greedyGames.map((g) => Number(g.won))),
      "games/win_rate": mean(outcomes.map((o) => Number(o.won))),
      "games/mean_turns": mean(outcomes.map((o) => o.turns)),
      "games/invalid_rate": mean(completions.map((c) => 1 - c.rewards.valid)),
      "rewards/consistent/mean": mean(completions.map((c) => c.rewards.consistent)),
      "rewards/consistent/std": unbiasedStd(completions.map((c) => c.rewards.consistent)),
    },
    uses: 0,
    games: outcomes,
  };
}
