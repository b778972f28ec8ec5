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
import type { Rng } from "../../util/rng.js";
import {
  applyCompletion,
  generateGuesses,
  newGame,
  playToEnd,
  renderGamePrompt,
  turnsPlayed,
} from "./game-play.js";
import {
  checkRolloutInputs,
  creditTurns,
  type GameOutcome,
  gameReturnWeights,
  type MultiTurnBatch,
  type MultiTurnOptions,
  playContext,
  rolloutStats,
  sampledDecoding,
  turnCompletion,
} from "./multi-turn-rollout.js";

export interface BranchOptions extends MultiTurnOptions {
  /** Picks the branch positions (seeded by the trainer for exact resume). */
  rng: Rng;
}

export function branchRollout(options: BranchOptions): MultiTurnBatch {
  const { secrets, config } = options;
  const mt = config.multi_turn;
  const G = config.num_generations;
  if (mt.credit === "game")
    throw new Error('branch rollout: credit must be "turn" or "letter" (one trained guess per game)');
  checkRolloutInputs("branch rollout", G, secrets);
  const ctx = playContext(options);
  const greedy = { greedy: true, temperature: 1 };

  // 1. Greedy games: the positions the evaluated policy reaches.
  const greedyGames = secrets.map((secret) => newGame(ctx, secret));
  playToEnd(ctx, greedyGames, greedy);
  // 2. One position per secret.
  const positions = greedyGames.map((game) => {
    const t = options.rng.int(game.turns.length);
    const played = game.turns[t];
    return { secret: game.secret, history: played.historyBefore, refused: played.refusedShown, turn: t };
  });
  // 3. G sampled guesses at each position, one prefill per prompt.
  const prompts = positions.map((p) => renderGamePrompt(ctx, p));
  const histories = positions.map((p) => p.history);
  const sampled = generateGuesses(ctx, prompts, histories, sampledDecoding(options), 0, G);
  const branches = sampled.map((c) => {
    const p = positions[c.promptIndex];
    const game = newGame(ctx, p.secret, { history: p.history, refused: p.refused, turnsUsed: p.turn });
    applyCompletion(ctx, game, prompts[c.promptIndex], c);
    return game;
  });
  // 4. Greedy continuations.
  playToEnd(ctx, branches, greedy);

  // 5. Credit: only each branch's first turn (the sampled guess) is a training completion.
  const turnsUsed = branches.map(turnsPlayed);
  const credited = creditTurns(
    branches.map((g) => [g.turns[0]]),
    branches.map((g) => g.won),
    G,
    {
      maxTurns: mt.max_turns,
      weights: gameReturnWeights(mt),
      credit: mt.credit,
      turnWeight: mt.turn_weight,
      scaleRewards: config.scale_rewards,
      turnsUsed,
    },
  );
  const completions = branches.map((game, i) => {
    const group = Math.floor(i / G);
    const turn = positions[group].turn + 1;
    return turnCompletion(
      game.turns[0],
      { secret: game.secret, group, game: i, turn, id: `${game.secret}-branch${i}-turn${turn}` },
      {
        reward: credited.returns[i],
        win: game.won,
        advantage: credited.advantages[i][0],
        tokenAdvantages: credited.tokenAdvantages[i][0],
      },
    );
  });
  const outcomes: GameOutcome[] = branches.map((game, i) => ({
    secret: game.secret,
    won: game.won,
    turns: turnsUsed[i],
    invalid: game.turns.filter((t) => !t.valid).length,
    return: credited.returns[i],
  }));
  const greedyWins = greedyGames.filter((g) => g.won).length;
  return {
    promptIndices: secrets.map((_, i) => i),
    completions,
    temperature: options.temperature,
    progress: options.progress,
    stats: {
      "games/greedy_win_rate": greedyWins / greedyGames.length,
      ...rolloutStats(credited.stats, outcomes, completions),
    },
    uses: 0,
    games: outcomes,
  };
}
