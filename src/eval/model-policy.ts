/**
 * A language model as an evaluation policy: every position of the batch is rendered with a prompt
 * template (course or compact; wrapped in the model's own chat template when its tokenizer has
 * one, else in Qwen2.5 ChatML like the dataset), tokenized, and all prompts go to the sampler in
 * ONE `generate` call. The guess is read with the training parser (parseGuess), so evaluation and
 * rewards agree on what the model said.
 *
 * Each game keeps its KV cache row from one turn to the next (model/prompt-cache.ts, keyed by
 * PolicyState.game), so a turn feeds only the text its prompt adds.
 *
 * Decoding: greedy (argmax, the default: deterministic, comparable between checkpoints) or sampled
 * with the given temperature and truncation settings. Sampled runs are reproducible: the k-th call
 * since the last reset (playGames resets at its start) reseeds the generator with seed + k.
 */
import { type SamplingSettings, samplingSettingsOf } from "../model/logits-processors.js";
import { PromptCache } from "../model/prompt-cache.js";
import type { Completion, GenerateOptions, GenerationModel } from "../model/sampler.js";
import { generate } from "../model/sampler.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { type GuessConstraintMode, positionsConstraint } from "../task/guess-constraint.js";
import { parseGuess } from "../task/parse-guess.js";
import { type PromptTemplateName, renderPrompt } from "../task/prompt.js";
import type { GuessPolicy, PolicyMove, PolicyState } from "./policy.js";

/** Sampling settings (temperature, top-k, top-p, min-p, repetition penalty) apply when not greedy. */
export interface ModelPolicyOptions extends SamplingSettings {
  model: GenerationModel;
  tokenizer: Tokenizer;
  /** Prompt template of the task layer (default "course"). */
  template?: PromptTemplateName;
  /**
   * Show the game's refused guesses in the prompt (default false: a model never trained on them
   * would be shown a format it does not know). Models trained with multi_turn.show_refused read them.
   */
  showRefused?: boolean;
  /**
   * "auto" (default): the tokenizer's chat template when it has one, else ChatML; "chatml": always
   * Qwen2.5 ChatML; "model": the tokenizer's chat template (an error if it has none).
   */
  chat?: "auto" | "chatml" | "model";
  /** Argmax decoding (default true). */
  greedy?: boolean;
  /** Most tokens per completion (default 128, the seed preset's max_completion_length). */
  maxNewTokens?: number;
  /** Generation stops once the text contains one of these (default ["</guess>"]). */
  stopStrings?: readonly string[];
  /** Seed of sampled decoding (default 0). */
  seed?: number;
  /**
   * Constrained guessing (task/guess-constraint.ts): "valid" lets the decoder spell only accepted
   * words, "consistent" only accepted words that fit the feedback so far; default "none".
   */
  constrain?: GuessConstraintMode;
  /** Label for reports (default "model"). */
  name?: string;
  /**
   * Keep each game's KV cache between turns (default true). Off, every turn prefills its whole
   * prompt: the same moves up to float rounding, slower.
   */
  promptCache?: boolean;
}

export interface ModelPolicy extends GuessPolicy {
  /** Prompt text for a position (what the model is shown), for display and debugging. */
  promptText(state: Pick<PolicyState, "history" | "refused">): string;
  /** Completions of the latest call, in state order (token counts, truncation). */
  readonly lastCompletions: readonly Completion[];
}

export function modelPolicy(options: ModelPolicyOptions): ModelPolicy {
  const { model, tokenizer } = options;
  const template = options.template ?? "course";
  const chat = options.chat ?? "auto";
  if (chat !== "auto" && chat !== "chatml" && chat !== "model") {
    throw new Error(`model policy: chat must be auto, chatml or model, got ${JSON.stringify(chat)}`);
  }
  if (chat === "model" && !tokenizer.chatTemplate) {
    throw new Error(`model policy: chat "model" needs a chat template, but ${tokenizer.source} has none`);
  }
  const useModelTemplate = chat === "model" || (chat === "auto" && Boolean(tokenizer.chatTemplate));
  const greedy = options.greedy ?? true;
  const maxNewTokens = options.maxNewTokens ?? 128;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw new Error(`model policy: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  }
  const seed = options.seed ?? 0;
  const settings: GenerateOptions = {
    maxNewTokens,
    greedy,
    ...samplingSettingsOf(options),
    stopStrings: options.stopStrings ?? ["</guess>"],
  };
  const constrain = options.constrain ?? "none";
  const decoding =
    (greedy
      ? "greedy"
      : `sampled (T=${options.temperature ?? 1}${options.topK ? `, top_k=${options.topK}` : ""}` +
        `${options.topP !== undefined && options.topP < 1 ? `, top_p=${options.topP}` : ""}` +
        `${options.minP ? `, min_p=${options.minP}` : ""}, seed ${seed})`) +
    (constrain === "none" ? "" : `, ${constrain} words only`);

  const showRefused = options.showRefused ?? false;
  const promptText = (state: Pick<PolicyState, "history" | "refused">): string =>
    renderPrompt(
      { history: state.history, refused: showRefused ? state.refused : undefined },
      { template, tokenizer: useModelTemplate ? tokenizer : undefined },
    ).text;

  let calls = 0;
  let last: Completion[] = [];
  // Rows come and go as playGames refills finished games' slots: start over now and then.
  let cache: PromptCache | null = null;
  const release = () => {
    cache?.dispose();
    cache = null;
  };
  return {
    name: options.name ?? "model",
    decoding,
    promptText,
    get lastCompletions() {
      return last;
    },
    reset() {
      calls = 0;
      release();
    },
    release,
    async next(states: readonly PolicyState[]): Promise<PolicyMove[]> {
      if (states.length === 0) return [];
      const prompts = states.map((state) => tokenizer.encode(promptText(state)));
      if (options.promptCache !== false) cache ??= new PromptCache({ maxColumns: 512 });
      const completions = generate(model, tokenizer, prompts, {
        ...settings,
        constrain: positionsConstraint(
          constrain,
          states.map((s) => s.history),
          { tokenizer, template },
        ),
        seed: greedy ? undefined : seed + calls,
        ...(cache === null ? {} : { promptCache: { cache, keys: states.map((s) => s.game) } }),
      });
      calls++;
      // One completion per prompt; order them by prompt index rather than trusting row order.
      last = new Array<Completion>(states.length);
      for (const c of completions) last[c.promptIndex] = c;
      return last.map((c) => ({ completion: c.text, guess: parseGuess(c.text) }));
    },
  };
}
