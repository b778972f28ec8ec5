import { Rng } from "../../util/rng.js";
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
): MultiTurnBatch {
  const { config } = ctx;
  const options: MultiTurnOptions = {
    model: ctx.model,
    tokenizer: ctx.tokenizer,
    config,
    secrets,
    temperature,
    progress,
    onGenerate: ctx.onGenerate,
  };
  const batch =
    config.multi_turn.rollout === "branch"
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
