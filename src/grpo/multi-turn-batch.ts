import { Rng } from "../util/rng.js";
import { branchRollout } from "./branch-rollout.js";
import { type MultiTurnBatch, type MultiTurnOptions, multiTurnRollout } from "./multi-turn-rollout.js";
import { oldAndReferenceLogProbs, type RolloutContext, samplerSettings } from "./rollout.js";

/**
 * The trainer's generation batch in multi_turn mode: the `multi_turn` section's rollout (whole
 * games, or branches off greedy games) for the step's secrets under the config's sampler, then
 * log π_old / log π_ref of every completion after its own prompt where num_iterations / beta need
 * them. `step` seeds the branch positions, so a resumed run picks the same ones.
 */
export function multiTurnGenerationBatch(
  ctx: Pick<RolloutContext, "model" | "tokenizer" | "config"> & Pick<MultiTurnOptions, "onGenerate">,
  secrets: readonly string[],
  temperature: number,
  progress: number,
  step: number,
): MultiTurnBatch {
  const { config } = ctx;
  const mt = config.multi_turn;
  const sampling = samplerSettings(config, temperature);
  const options: MultiTurnOptions = {
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
    showRefused: mt.show_refused,
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
    onGenerate: ctx.onGenerate,
  };
  const batch =
    mt.rollout === "branch"
      ? branchRollout({ ...options, rng: new Rng((config.seed * 1_000_003 + step) ^ 0x5bd1e995) })
      : multiTurnRollout(options);
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
