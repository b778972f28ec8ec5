/**
 * Batched text generation with a KV cache: P prompts x G completions each, as GRPO needs them.
 *
 *   1. prefill: the P distinct prompts run once, left-padded into one batch [P, L] (attention
 *      mask 0 on the padding, position ids counting real tokens only), filling the KV cache;
 *   2. the cache rows, the mask and the last logits are repeated G times: completion g of prompt p
 *      is row p * G + g, and all G continue from the one prefill;
 *   3. decode: each step processes the [N, V] next-token logits (logits-processors.ts), samples
 *      one id per row on the tensor side (multinomial, or argmax when greedy) and copies only
 *      [N, 3] numbers back to JavaScript: the ids and two log-probs. A row stops on EOS, a stop
 *      string or max_new_tokens (stop-criteria.ts); a stopped row is fed the pad token with
 *      mask 0 until enough rows have stopped to drop them from the batch (fewer rows, less work);
 *      the loop ends when every row has stopped.
 *
 * Log-probs returned per completion token, when asked for (`logprobs: true`):
 * - `logprobs`: log softmax(logits / T) at the chosen token — the policy at temperature T with no
 *   truncation, which is what TRL's GRPO computes for "old" log-probs in its separate forward
 *   (logits divided by the temperature). With T = 1 it is the raw model log-prob.
 * - `sampledLogprobs`: the log-prob under the distribution actually sampled from (after the
 *   repetition penalty, temperature, top-k, top-p, min-p). Equal to `logprobs` when only the
 *   temperature is set. Greedy decoding applies the penalty only, then T.
 *
 * Randomness comes from the engine's process-wide generator of the model's device: `seed` reseeds
 * it (like transformers.set_seed), `rngState` restores a saved state; the same seed, prompts and
 * settings give the same completions on the same device and libtorch build.
 */
import { type Device, manualSeed, noGrad, setRngState, type Tensor } from "../engine/index.js";
import { type DecodeSettings, DecodeState } from "./decode-state.js";
import type { ModelConfig } from "./hf-config.js";
import type { KVCache } from "./kv-cache.js";
import { type SamplingSettings, samplingSettingsOf, validateSamplingSettings } from "./logits-processors.js";
import type { PromptCache } from "./prompt-cache.js";
import { StopCriteria, type StopReason, type TokenDecoder } from "./stop-criteria.js";

/** What the sampler needs from a model (transformer.ts's CausalLM fits). */
export interface GenerationModel {
  readonly config: ModelConfig;
  readonly device: Device;
  /**
   * Float logits [B, S, V] for input ids [B, S] (int64), appending to `cache`. With
   * `logitsToKeep: 1` the LM head runs on the last position only: prefill needs nothing else.
   */
  forward(
    inputIds: Tensor,
    options: { attentionMask?: Tensor; positionIds?: Tensor; cache?: KVCache; logitsToKeep?: number },
  ): Tensor;
}

/** A tokenizer as the sampler uses it: decoding, plus defaults for EOS and pad ids. */
export interface GenerationTokenizer extends TokenDecoder {
  readonly eosTokenIds?: readonly number[];
  readonly padTokenId?: number;
}

export interface GenerateOptions extends SamplingSettings {
  /** Completions per prompt (TRL's num_generations, G). Default 1. */
  numReturnSequences?: number;
  /** Most tokens generated per completion (the EOS token or the stop string's last token included). */
  maxNewTokens: number;
  /** Take the argmax instead of sampling (temperature, top-k, top-p, min-p then do not apply). */
  greedy?: boolean;
  /** Ids that end a completion. Default: the tokenizer's, else the model config's. [] = none. */
  eosTokenIds?: readonly number[];
  /** A completion ends once its text contains one of these (kept in the text). Needs a tokenizer. */
  stopStrings?: readonly string[];
  /** Fed to finished rows and used for left padding. Default: tokenizer's pad, config's, else EOS. */
  padTokenId?: number;
  /** Reseeds the device's global generator before sampling. */
  seed?: number;
  /**
   * Return each token's log-probs (Completion.logprobs and sampledLogprobs). Off by default: the
   * trainer computes its log-probs in a forward pass of its own, as TRL does, and these cost a
   * log-softmax over the whole vocabulary at every decode step.
   */
  logprobs?: boolean;
  /**
   * Keyed random streams instead of the device's generator: completion row i (prompt p, sample g:
   * i = p * G + g) draws its k-th token with keyedUniform(seed, rowKeys[i], k), so a row samples
   * the same tokens whatever other rows share the batch (data-parallel ranks, compaction).
   */
  streams?: { seed: number; rowKeys: readonly number[] };
  /** Restores the device's generator to this state (from getRngState) before sampling. */
  rngState?: Uint8Array;
  /** Drop special tokens (EOS, <|im_end|>, ...) from `text`. Default true (as TRL decodes). */
  skipSpecialTokens?: boolean;
  /**
   * Remove finished rows from the batch (KV cache included) once they are at least this fraction
   * of it, in (0, 1]. Default 0.25. Completions depend on it only through floating-point rounding
   * of differently shaped matmuls and which random numbers each row draws.
   */
  compactFraction?: number;
  /**
   * Constrained decoding (Hugging Face's `prefix_allowed_tokens_fn`): asked before every pick with
   * the completion row (prompt p, sample g: p * G + g) and its tokens so far, it names the tokens
   * the row may pick next; every other token's logit becomes -inf before the processors run, so
   * greedy and sampled decoding (and the returned log-probs) see only the allowed ones. null, or
   * an empty allow list: the row is unconstrained at this step.
   */
  constrain?: TokenConstraint;
  /** Called once at the end with where the time went (benchmarks, tokens/s logging). */
  onStats?: (stats: GenerationStats) => void;
  /**
   * Continue rows of a cache kept from earlier calls (multi-turn play, prompt-cache.ts): `keys[p]`
   * names the row prompts[p] continues. Needs numReturnSequences 1; finished rows then stay in
   * the batch until the end (no compaction), so the cache keeps every row.
   */
  promptCache?: { cache: PromptCache; keys: readonly number[] };
}

/** The tokens a row may pick next: only these (`allow`), or any but these (`block`). */
export type TokenFilter = { allow: readonly number[] } | { block: readonly number[] };
export type TokenConstraint = (row: number, generated: readonly number[]) => TokenFilter | null;

export interface GenerationStats {
  /** Prompts prefilled (distinct prompts) and completions decoded. */
  prompts: number;
  completions: number;
  /** Seconds for the prefill (device synchronised), and for every decode step after it. */
  prefillSeconds: number;
  decodeSeconds: number;
  /**
   * Decode steps: tokens picked per row, i.e. the longest completion's length (the first pick uses
   * the prefill's logits, so steps - 1 forward passes); and tokens generated in total.
   */
  steps: number;
  generatedTokens: number;
}

export interface Completion {
  /** Index of the prompt in the input list. */
  promptIndex: number;
  /** Generated ids, the EOS token or the stop string's last token included. */
  tokenIds: number[];
  /** Decoded text; when a stop string ended it, cut right after the stop string. */
  text: string;
  /** With GenerateOptions.logprobs: log p(token) under softmax(logits / T), one per token (see the file header). */
  logprobs?: number[];
  /** With GenerateOptions.logprobs: log p(token) under the processed distribution it was drawn from. */
  sampledLogprobs?: number[];
  /**
   * With GenerateOptions.constrain: the filter each token was picked under (null where the row was
   * free), so a trainer can score the tokens under the distribution they were drawn from.
   */
  tokenFilters?: (TokenFilter | null)[];
  /** tokenIds.length */
  length: number;
  /** Hit maxNewTokens without an EOS token or a stop string. */
  truncated: boolean;
  stopReason: StopReason;
  /** The stop string that ended it, or null. */
  stopString: string | null;
}

/** Every prompt has at least one token, and every token is an id of the vocabulary. */
function checkPrompts(prompts: readonly (readonly number[])[], vocabSize: number): void {
  if (prompts.length === 0) throw new Error("generate: no prompts");
  prompts.forEach((ids, p) => {
    if (ids.length === 0) throw new Error(`generate: prompt ${p} is empty (it needs at least one token)`);
    ids.forEach((id, i) => {
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize))
        throw new Error(`generate: prompt ${p} token ${i} is ${id}, expected an id in [0, ${vocabSize})`);
    });
  });
}

export function generate(
  model: GenerationModel,
  tokenizer: GenerationTokenizer | null,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
): Completion[] {
  const settings = decodeSettings(model.config, tokenizer, prompts, options);
  if (options.seed !== undefined) manualSeed(options.seed);
  if (options.rngState !== undefined) setRngState(options.rngState, model.device);
  const state = new DecodeState(model, prompts, settings);
  try {
    noGrad(() => {
      state.start();
      while (state.pick()) {
        state.compact();
        state.feed();
      }
      state.finish();
    });
  } finally {
    state.dispose();
  }
  options.onStats?.(state.timings());
  return state.completions(tokenizer, options.skipSpecialTokens ?? true);
}

/** The options checked once and resolved against the tokenizer's and the model's defaults. */
function decodeSettings(
  config: ModelConfig,
  tokenizer: GenerationTokenizer | null,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
): DecodeSettings {
  const sampling = samplingSettingsOf(options);
  validateSamplingSettings(sampling);
  const group = options.numReturnSequences ?? 1;
  if (!(Number.isInteger(group) && group >= 1))
    throw new Error(`generate: numReturnSequences must be an integer >= 1 (got ${group})`);
  const session = options.promptCache ?? null;
  if (session !== null && (group !== 1 || session.keys.length !== prompts.length))
    throw new Error("generate: promptCache needs numReturnSequences 1 and one key per prompt");
  // A prompt cache keeps every row to the end (the cache must hold them all for the next call).
  const compactFraction = session !== null ? 1 : (options.compactFraction ?? 0.25);
  if (!(compactFraction > 0 && compactFraction <= 1))
    throw new Error(`generate: compactFraction must be in (0, 1] (got ${compactFraction})`);
  checkPrompts(prompts, config.vocabSize);
  const streams = options.streams ?? null;
  if (streams !== null && streams.rowKeys.length !== prompts.length * group)
    throw new Error(
      `generate: streams.rowKeys has ${streams.rowKeys.length} keys for ${prompts.length * group} completion rows`,
    );
  const eos = [...(options.eosTokenIds ?? tokenizer?.eosTokenIds ?? config.eosTokenIds)];
  const pad = options.padTokenId ?? tokenizer?.padTokenId ?? config.padTokenId ?? eos[0] ?? 0;
  if (!(Number.isInteger(pad) && pad >= 0 && pad < config.vocabSize))
    throw new Error(`generate: padTokenId ${pad} is not an id in [0, ${config.vocabSize})`);
  const stop = new StopCriteria(
    { eosTokenIds: eos, stopStrings: options.stopStrings, maxNewTokens: options.maxNewTokens },
    tokenizer ?? undefined,
  );
  return {
    sampling,
    greedy: options.greedy ?? false,
    group,
    maxNewTokens: options.maxNewTokens,
    pad,
    stop,
    withLogprobs: options.logprobs ?? false,
    compactFraction,
    session,
    streams,
    constrain: options.constrain ?? null,
    timed: options.onStats !== undefined,
  };
}
