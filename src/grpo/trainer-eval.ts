/**
 * Evaluation during training (every eval_steps, and at the end when eval_steps is null):
 *
 * 1. the validation prompts (the 15 seed rows training never sees): one completion each, decoded
 *    as eval.sampling says, scored by the run's reward preset -> `eval/reward`,
 *    `eval/rewards/<name>/mean`;
 * 2. full multi-turn games against held-out secrets (src/eval: FROST first when included, then
 *    secrets never used for training) -> `eval/win_rate`, `eval/mean_guesses`, `eval/invalid_rate`,
 *    `eval/games`, and one eval-games.jsonl line per game.
 *
 * Evaluation must not change training: the adapter is switched to inference mode (no dropout)
 * and the engine's random generators are restored afterwards, so a run with evaluation draws the
 * same training samples as one without.
 */

import { summarizeGames } from "../eval/aggregate.js";
import { evalGameLines, evalMetrics } from "../eval/format.js";
import { modelPolicy } from "../eval/model-policy.js";
import { playGames } from "../eval/play-games.js";
import { heldOutSecrets } from "../eval/secrets.js";
import { generate } from "../model/sampler.js";
import type { EvalGameRow } from "../run/logs.js";
import type { GrpoConfig } from "./config/schema.js";
import { type Ranks, SOLO } from "./ranks.js";
import { captureEngineRng, restoreEngineRng } from "./resume.js";
import {
  type PreparedPrompt,
  type RolloutContext,
  samplerSettings,
  scoreCompletion,
} from "./rollout/rollout.js";

export interface TrainingEvaluation {
  /** The eval row's metrics (keys `eval/...`), without `step`. */
  metrics: Record<string, number | null>;
  games: EvalGameRow[];
}

/** The secrets evaluation games are played on (FROST first), `eval.games` of them at most. */
export function evaluationSecrets(config: GrpoConfig): string[] {
  const { games, held_out_secrets, include_frost } = config.eval;
  if (games === 0) return [];
  return heldOutSecrets({ count: held_out_secrets, includeFrost: include_frost }).slice(0, games);
}

export async function evaluateDuringTraining(
  ctx: RolloutContext,
  validation: readonly PreparedPrompt[],
  step: number,
  temperature: number,
  progress: number,
  ranks: Ranks = SOLO,
): Promise<TrainingEvaluation> {
  const { model, tokenizer, config, preset } = ctx;
  const greedy = config.eval.sampling === "greedy";
  const rng = captureEngineRng(model.device);
  const wasTraining = model.training;
  model.training = false;
  try {
    const metrics: Record<string, number | null> = {};
    if (validation.length > 0) {
      // Each rank scores its portion of the prompts; every rank gets all the scores.
      const scored = ranks.mapPortion(validation, (part) =>
        part.length === 0
          ? []
          : generate(
              model,
              tokenizer,
              part.map((p) => p.ids),
              {
                ...samplerSettings(config, temperature),
                greedy,
                maxNewTokens: config.max_completion_length,
                seed: greedy ? undefined : config.seed + step,
              },
            ).map((c) => {
              const { reward, rewards } = scoreCompletion(
                preset,
                part[c.promptIndex].state,
                c.text,
                progress,
              );
              return { reward, rewards };
            }),
      );
      metrics["eval/reward"] = scored.reduce((s, x) => s + x.reward, 0) / scored.length;
      for (const fn of preset.rewards)
        metrics[`eval/rewards/${fn.name}/mean`] =
          scored.reduce((s, x) => s + x.rewards[fn.name], 0) / scored.length;
    }
    const secrets = evaluationSecrets(config);
    let games: EvalGameRow[] = [];
    if (secrets.length > 0) {
      const policy = modelPolicy({
        model,
        tokenizer,
        template: config.prompt_template,
        showRefused: config.multi_turn.show_refused,
        constrain: config.multi_turn.constrain,
        greedy,
        ...samplerSettings(config, temperature),
        maxNewTokens: config.max_completion_length,
        seed: config.seed + step,
      });
      // Each rank plays its portion of the secrets; the games are gathered in secret order.
      const { start, end } = ranks.portion(secrets.length);
      const played = start < end ? (await playGames(policy, secrets.slice(start, end))).games : [];
      const all = ranks.gather(played);
      Object.assign(metrics, evalMetrics(summarizeGames(all)));
      games = evalGameLines(step, all) as unknown as EvalGameRow[];
    }
    return { metrics, games };
  } finally {
    model.training = wasTraining;
    restoreEngineRng(rng);
  }
}
