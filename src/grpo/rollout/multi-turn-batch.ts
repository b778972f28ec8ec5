import { Rng } from "../../util/rng.js";
import { type Ranks, SOLO } from "../ranks.js";
import { branchRollout } from "./branch-rollout.js";
import { type MultiTurnBatch, type MultiTurnOptions, multiTurnRollout } from "./multi-turn-rollout.js";
import { oldAndReferenceLogProbs, type RolloutContext } from "./rollout.js";

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
  ranks: Ranks = SOLO,
): MultiTurnBatch {
  const { config } = ctx;
  if (ranks.distributed && config.multi_turn.rollout === "branch")
    throw new Error(
      'multi_turn.rollout = "branch" runs in one process only (its branch points are drawn across all ' +
        'secrets of a step); use multi_turn.rollout = "games" with several ranks',
    );
  const options: MultiTurnOptions = {
    model: ctx.model,
    tokenizer: ctx.tokenizer,
    config,
    secrets,
    temperature,
    progress,
    onGenerate: ctx.onGenerate,
    ranks,
    step,
    runSeed: config.seed,
  };
  const batch =
    config.multi_turn.rollout === "branch"
      ? branchRollout({ ...options, rng: new Rng((config.seed * 1_000_003 + step) ^ 0x5bd1e995) })
      : multiTurnRollout(options);
  // Neither log-prob is needed (num_iterations 1, beta 0): no forward pass, no gather across ranks.
  if (config.num_iterations <= 1 && config.beta === 0) return batch;
  // Each rank scores its portion of the completions; every rank gets all of them.
  const scored = ranks.mapPortion(batch.completions, (part) => {
    const { oldLogps, refLogps } = oldAndReferenceLogProbs(
      ctx,
      part.map((c) => c.promptIds),
      part.map((c) => c.tokenIds),
      temperature,
      part.map((c) => c.tokenFilters),
    );
    return part.map((_, i) => ({ old: oldLogps?.[i] ?? null, ref: refLogps?.[i] ?? null }));
  });
  batch.completions.forEach((c, i) => {
    c.oldLogps = scored[i].old;
    c.refLogps = scored[i].ref;
  });
  return batch;
}
