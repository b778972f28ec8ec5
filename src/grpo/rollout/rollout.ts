/**
 * Rollout: one generation batch of GRPO. The P prompts of the batch each get G completions from
 * the sampler (one shared prefill per prompt), every completion is scored by the reward preset,
 * and the group-relative advantages are computed over the whole batch (TRL computes them before
 * splitting the batch into micro-batches). When the batch will be optimised on more than once
 * (num_iterations > 1) the policy's log-probs at generation time ("old") are computed here with a
 * no-grad forward pass, as TRL does; when beta > 0 the reference log-probs (adapter off) are too.
 *
 * A GenerationBatch is plain data (numbers, strings): a checkpoint can store it, so a resumed run
 * reuses exactly the batch the uninterrupted run would have reused.
 */
import { type Device, noGrad, scope, synchronize } from "../../engine/index.js";
import { withAdapterDisabled } from "../../model/load.js";
import { tokenLogProbs } from "../../model/logprobs.js";
import { type GenerationStats, generate, type TokenFilter } from "../../model/sampler.js";
import type { Tokenizer } from "../../model/tokenizer.js";
import type { CausalLM } from "../../model/transformer.js";
import { type CompletionBehaviour, completionBehaviour } from "../../task/metrics.js";
import { parseGuess } from "../../task/parse-guess.js";
import type { RewardPreset } from "../../task/rewards/presets.js";
import type { TaskState } from "../../task/state.js";
import { mixSeeds } from "../../util/rng.js";
import type { GrpoConfig } from "../config/schema.js";
import { type Ranks, SOLO } from "../ranks.js";
import { computeAdvantages, normalizeThenSumAdvantages, unbiasedStd } from "../step/advantages.js";
import { blockedTokens, buildMicroBatch } from "../step/micro-batch.js";

/** A training or validation prompt, rendered and tokenized once. */
export interface PreparedPrompt {
  state: TaskState;
  /** Token ids the model continues (left-truncated to max_prompt_length). */
  ids: number[];
}

export interface RolloutCompletion {
  /** Its group: the index of its prompt in GenerationBatch.promptIndices (multi-turn: of its secret). */
  prompt: number;
  /** The token ids it was generated after (multi-turn: its own turn's prompt). */
  promptIds: number[];
  /** The position it was played from (samples.jsonl reads it). */
  state: TaskState;
  tokenIds: number[];
  text: string;
  truncated: boolean;
  guess: string | null;
  /** Weighted total reward, and each function's unweighted value. */
  reward: number;
  rewards: Record<string, number>;
  advantage: number;
  /** Multi-turn "letter" credit: one advantage per completion token (else `advantage` for all). */
  tokenAdvantages?: number[];
  behaviour: CompletionBehaviour;
  /** log π_old per token (num_iterations > 1), else null. */
  oldLogps: number[] | null;
  /** log π_ref per token (beta > 0), else null. */
  refLogps: number[] | null;
  /** Constrained decoding (multi_turn.constrain): the filter each token was drawn under. */
  tokenFilters?: (TokenFilter | null)[];
}

export interface GenerationBatch {
  /** Indices into the training prompts. */
  promptIndices: number[];
  completions: RolloutCompletion[];
  /** Sampling temperature used (the loss scores tokens at the same temperature). */
  temperature: number;
  /** Training progress (0..1) the rewards were computed at. */
  progress: number;
  /** Reward statistics of the batch, TRL names (logged on the step that generated it). */
  stats: Record<string, number>;
  /** Optimizer steps that have used this batch so far. */
  uses: number;
}

export interface RolloutContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  config: GrpoConfig;
  preset: RewardPreset;
  /** Benchmarks: ignore EOS and `</guess>` so every completion runs max_completion_length tokens. */
  forceFullLength?: boolean;
  /** Filled with the seconds each phase of the latest rollout took (benchmarks, profiling). */
  timings?: RolloutTimings;
  /** Called with the sampler's figures (prefill and decode seconds) of each generate call. */
  onGenerate?: (stats: GenerationStats) => void;
}

export interface RolloutTimings {
  generate: number;
  score: number;
  oldLogps: number;
  refLogps: number;
}

/** Sampling settings of the config, in the sampler's terms (0 / null mean "off"). */
export function samplerSettings(
  config: Pick<GrpoConfig, "top_k" | "top_p" | "min_p" | "repetition_penalty">,
  temperature: number,
) {
  return {
    temperature,
    topK: config.top_k === null || config.top_k === 0 ? undefined : config.top_k,
    topP: config.top_p,
    minP: config.min_p === null || config.min_p === 0 ? undefined : config.min_p,
    repetitionPenalty: config.repetition_penalty,
    stopStrings: ["</guess>"],
  };
}

/** Score one completion: rewards, parsed guess and behaviour. */
export function scoreCompletion(preset: RewardPreset, state: TaskState, text: string, progress: number) {
  const scores = preset.score(state, text, progress);
  return {
    reward: scores.total,
    rewards: scores.values,
    guess: parseGuess(text),
    behaviour: completionBehaviour(state, text),
  };
}

/**
 * Per-token log-probs of each completion under the model as it is now (no grad), computed in
 * micro-batches of `rows` completions. Used for π_old and, with the adapter off, π_ref. With
 * `filters` (constrained decoding), each token is scored over the tokens its filter allowed.
 */
export function completionLogProbs(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  completions: readonly (readonly number[])[],
  padId: number,
  temperature: number,
  rows: number,
  filters?: readonly ((TokenFilter | null)[] | undefined)[],
): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < completions.length; start += rows) {
    const end = Math.min(completions.length, start + rows);
    const values = scope(() =>
      noGrad(() => {
        const mb = buildMicroBatch(
          prompts.slice(start, end),
          completions.slice(start, end),
          completions.slice(start, end).map(() => false),
          padId,
          model.device,
          false,
        );
        const hidden = model.forward(mb.inputIds, {
          attentionMask: mb.attentionMask,
          positionIds: mb.positionIds,
          hiddenOnly: true,
        });
        const scored = hidden.narrow(1, mb.promptWidth - 1, mb.completionWidth);
        const blocked =
          filters === undefined
            ? null
            : blockedTokens(
                filters.slice(start, end),
                mb.completionWidth,
                model.config.vocabSize,
                model.device,
              );
        const lp = tokenLogProbs(model, scored, mb.targets, {
          temperature,
          blocked: blocked ?? undefined,
        }).logprobs;
        return { data: lp.toFloat32Array(), width: mb.completionWidth };
      }),
    );
    for (let r = 0; r < end - start; r++) {
      const offset = r * values.width;
      out.push(Array.from(values.data.subarray(offset, offset + completions[start + r].length)));
    }
  }
  return out;
}

/**
 * log π_old (num_iterations > 1) and log π_ref (beta > 0, adapter off) of every completion after
 * its prompt, in micro-batches of per_device_train_batch_size; null where the config needs none.
 */
export function oldAndReferenceLogProbs(
  ctx: Pick<RolloutContext, "model" | "tokenizer" | "config">,
  promptIds: readonly (readonly number[])[],
  completionIds: readonly (readonly number[])[],
  temperature: number,
  filters?: readonly ((TokenFilter | null)[] | undefined)[],
): { oldLogps: number[][] | null; refLogps: number[][] | null; seconds: { old: number; ref: number } } {
  const { model, config } = ctx;
  const rows = config.per_device_train_batch_size;
  const pad = ctx.tokenizer.padTokenId;
  const score = () => completionLogProbs(model, promptIds, completionIds, pad, temperature, rows, filters);
  const clock = phaseClock(model.device);
  const oldLogps = config.num_iterations > 1 ? score() : null;
  const old = clock();
  const refLogps = config.beta > 0 ? withAdapterDisabled(model, score) : null;
  return { oldLogps, refLogps, seconds: { old, ref: clock() } };
}

/**
 * `ranks`: each rank generates and scores the completions of its share of the prompts (whole
 * groups), drawing from keyed streams (seed, step, completion) so its tokens equal the one-process
 * run's; the completions are then gathered, and advantages and statistics computed on the whole
 * batch on every rank.
 */
export function rollout(
  ctx: RolloutContext,
  prompts: readonly PreparedPrompt[],
  promptIndices: readonly number[],
  temperature: number,
  progress: number,
  ranks: Ranks = SOLO,
  step = 0,
): GenerationBatch {
  const { model, tokenizer, config, preset } = ctx;
  const G = config.num_generations;
  const mine = ranks.share(promptIndices);
  const chosen = mine.items.map((i) => prompts[i]);
  const wasTraining = model.training;
  model.training = false;
  try {
    const clock = phaseClock(model.device);
    const sampling = samplerSettings(config, temperature);
    const firstRow = mine.offset * G;
    const generated = generate(
      model,
      tokenizer,
      chosen.map((p) => p.ids),
      {
        ...sampling,
        ...(ctx.forceFullLength ? { eosTokenIds: [], stopStrings: [] } : {}),
        numReturnSequences: G,
        maxNewTokens: config.max_completion_length,
        onStats: ctx.onGenerate,
        ...(ranks.distributed
          ? {
              streams: {
                seed: mixSeeds(config.seed, step),
                rowKeys: Array.from({ length: chosen.length * G }, (_, i) => firstRow + i),
              },
            }
          : {}),
      },
    );
    const generateSeconds = clock();
    const scored = generated.map((c) =>
      scoreCompletion(preset, chosen[c.promptIndex].state, c.text, progress),
    );
    const scoreSeconds = clock();

    // π_old and π_ref, per micro-batch of completions.
    const { oldLogps, refLogps, seconds } = oldAndReferenceLogProbs(
      ctx,
      generated.map((c) => chosen[c.promptIndex].ids),
      generated.map((c) => c.tokenIds),
      temperature,
    );
    if (ctx.timings)
      Object.assign(ctx.timings, {
        generate: generateSeconds,
        score: scoreSeconds,
        oldLogps: seconds.old,
        refLogps: seconds.ref,
      });

    const all = ranks.gather(
      generated.map((c, i) => ({
        prompt: mine.offset + c.promptIndex,
        tokenIds: c.tokenIds,
        text: c.text,
        truncated: c.truncated,
        ...scored[i],
        oldLogps: oldLogps ? oldLogps[i] : null,
        refLogps: refLogps ? refLogps[i] : null,
      })),
    );
    const adv = computeAdvantages(
      all.map((c) => c.reward),
      G,
      config.scale_rewards,
    );
    if (config.multi_objective_aggregation === "normalize_then_sum") {
      adv.advantages = normalizeThenSumAdvantages(
        all.map((c) => preset.rewards.map((r) => c.rewards[r.name]!)),
        preset.rewards.map((r) => r.weight),
        G,
      );
    }
    const completions: RolloutCompletion[] = all.map((c, i) => {
      const prompt = prompts[promptIndices[c.prompt]];
      return { ...c, promptIds: prompt.ids, state: prompt.state, advantage: adv.advantages[i] };
    });
    const stats: Record<string, number> = {
      reward: adv.reward_mean,
      reward_std: adv.reward_std,
      frac_reward_zero_std: adv.frac_reward_zero_std,
    };
    for (const fn of preset.rewards) {
      const values = completions.map((c) => c.rewards[fn.name]);
      stats[`rewards/${fn.name}/mean`] = values.reduce((s, v) => s + v, 0) / values.length;
      stats[`rewards/${fn.name}/std`] = unbiasedStd(values);
    }
    return { promptIndices: [...promptIndices], completions, temperature, progress, stats, uses: 0 };
  } finally {
    model.training = wasTraining;
  }
}

/** Seconds since the previous call (device work waited for, so GPU timings are honest). */
export function phaseClock(device: Device): () => number {
  synchronize(device);
  let last = performance.now();
  return () => {
    synchronize(device);
    const now = performance.now();
    const seconds = (now - last) / 1000;
    last = now;
    return seconds;
  };
}
