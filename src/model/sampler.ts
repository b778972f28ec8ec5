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
import {
  cat,
  type Device,
  keep,
  manualSeed,
  noGrad,
  rand,
  scope,
  setRngState,
  synchronize,
  type Tensor,
  tensor,
  zeros,
} from "../engine/index.js";
import type { ModelConfig } from "./hf-config.js";
import type { KVCache } from "./kv-cache.js";
import {
  applyRepetitionPenalty,
  processLogits,
  type SamplingSettings,
  topKCandidates,
  validateSamplingSettings,
} from "./logits-processors.js";
import { prefill } from "./prefill.js";
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
  /** Called once at the end with where the time went (benchmarks, tokens/s logging). */
  onStats?: (stats: GenerationStats) => void;
  /**
   * Continue rows of a cache kept from earlier calls (multi-turn play, prompt-cache.ts): `keys[p]`
   * names the row prompts[p] continues. Needs numReturnSequences 1; finished rows then stay in
   * the batch until the end (no compaction), so the cache keeps every row.
   */
  promptCache?: { cache: PromptCache; keys: readonly number[] };
}

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
  /** tokenIds.length */
  length: number;
  /** Hit maxNewTokens without an EOS token or a stop string. */
  truncated: boolean;
  stopReason: StopReason;
  /** The stop string that ended it, or null. */
  stopString: string | null;
}

/** Checks the prompts and returns the ids as a flat copy per prompt. */
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

function pickEos(
  options: GenerateOptions,
  tokenizer: GenerationTokenizer | null,
  config: ModelConfig,
): number[] {
  return [...(options.eosTokenIds ?? tokenizer?.eosTokenIds ?? config.eosTokenIds)];
}

function pickPad(
  options: GenerateOptions,
  tokenizer: GenerationTokenizer | null,
  config: ModelConfig,
  eos: readonly number[],
): number {
  const pad = options.padTokenId ?? tokenizer?.padTokenId ?? config.padTokenId ?? eos[0] ?? 0;
  if (!(Number.isInteger(pad) && pad >= 0 && pad < config.vocabSize))
    throw new Error(`generate: padTokenId ${pad} is not an id in [0, ${config.vocabSize})`);
  return pad;
}

/** Per-batch-row state the decode loop keeps in JavaScript. */
interface RowState {
  completion: number;
  /** The token sampled for this row at the latest step. */
  lastId: number;
  /** Position id of the next token (real tokens so far). */
  nextPosition: number;
  done: boolean;
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * One draw per row from softmax(scores) [N, C], by inverting the cumulative distribution: one
 * uniform number per row, where torch.multinomial's exponential race draws one per column (the
 * whole vocabulary). The cumulative sum runs in float64 so rounding cannot shift mass between
 * tokens; zero-probability columns are never picked. `lse` is logsumexp(scores) [N, 1].
 * Returns column positions [N, 1] int64.
 */
export function drawFromScores(scores: Tensor, lse: Tensor): Tensor {
  const [n, columns] = scores.shape as [number, number];
  const cdf = scores.sub(lse).exp().cumsum(-1, "float64");
  const total = cdf.narrow(-1, columns - 1, 1);
  // u in (0, total]: the chosen column is the first whose cumulative mass reaches u.
  const u = rand([n, 1], { dtype: "float64", device: scores.device }).neg().add(1).mul(total);
  return cdf
    .lt(u)
    .sum(-1, true)
    .clamp(null, columns - 1);
}

/**
 * The next token of every row from its logits [N, V] (float32): processors in HF order, then a
 * draw (or the argmax when greedy). With top-k on, the vocabulary is first cut to the top-k
 * candidates, so top-p's sort, min-p and the draw work on k columns. Returns float32 [N, 3]: the
 * id, log softmax(logits / T) at it, and its log-prob under the processed distribution (for
 * greedy: under the penalised logits at T = 1); [N, 1], the ids alone, without `withLogprobs`
 * (no full-vocabulary log-softmax then).
 */
export function pickNextTokens(
  scores: Tensor,
  settings: SamplingSettings,
  seen: Tensor | null,
  greedy: boolean,
  withLogprobs = true,
): Tensor {
  const temperature = settings.temperature ?? 1;
  let scaledScores: Tensor | null = null;
  const scaled = () => {
    scaledScores ??= temperature === 1 ? scores : scores.div(temperature);
    return scaledScores;
  };
  const penalty = settings.repetitionPenalty ?? 1;
  const penalised = penalty === 1 ? scores : applyRepetitionPenalty(scores, seen as Tensor, penalty);
  const topK = settings.topK ?? 0;
  const rest = { ...settings, topK: 0, repetitionPenalty: 1 };
  let dist: Tensor; // the processed scores of the candidates, [N, C]
  let candidateIds: Tensor | null = null; // their vocabulary ids, [N, C]; null: C is the vocabulary
  if (greedy) {
    dist = penalised;
  } else if (topK > 0 && topK < scores.size(-1)) {
    const top = topKCandidates(penalised, topK);
    dist = processLogits(top.values, rest);
    candidateIds = top.indices;
  } else {
    const warps = (settings.topP ?? 1) < 1 || (settings.minP ?? 0) > 0;
    dist = penalty === 1 && !warps ? scaled() : processLogits(penalised, rest);
  }
  const lse = greedy && !withLogprobs ? null : dist.logsumexp(-1, true);
  const position = greedy ? dist.argmax(-1, true) : drawFromScores(dist, lse as Tensor); // [N, 1]
  const ids = candidateIds ? candidateIds.gather(1, position) : position;
  // Ids are exact in float32 (vocabularies are far below 2^24).
  if (!withLogprobs) return ids.float();
  const atT = scaled();
  const scaledLse = dist === atT ? (lse as Tensor) : atT.logsumexp(-1, true);
  const logp = atT.gather(1, ids).sub(scaledLse);
  const sampledLogp = dist === atT ? logp : dist.gather(1, position).sub(lse as Tensor);
  return cat([ids.float(), logp, sampledLogp], 1);
}

export function generate(
  model: GenerationModel,
  tokenizer: GenerationTokenizer | null,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
): Completion[] {
  const { config, device } = model;
  const settings: SamplingSettings = {
    temperature: options.temperature,
    topK: options.topK,
    topP: options.topP,
    minP: options.minP,
    repetitionPenalty: options.repetitionPenalty,
  };
  validateSamplingSettings(settings);
  const greedy = options.greedy ?? false;
  const penalty = options.repetitionPenalty ?? 1;
  const group = options.numReturnSequences ?? 1;
  if (!(Number.isInteger(group) && group >= 1))
    throw new Error(`generate: numReturnSequences must be an integer >= 1 (got ${group})`);
  const session = options.promptCache ?? null;
  if (session !== null && (group !== 1 || session.keys.length !== prompts.length))
    throw new Error("generate: promptCache needs numReturnSequences 1 and one key per prompt");
  const compactFraction = session !== null ? 1 : (options.compactFraction ?? 0.25);
  if (!(compactFraction > 0 && compactFraction <= 1))
    throw new Error(`generate: compactFraction must be in (0, 1] (got ${compactFraction})`);
  checkPrompts(prompts, config.vocabSize);
  const eos = pickEos(options, tokenizer, config);
  const pad = pickPad(options, tokenizer, config, eos);
  const stop = new StopCriteria(
    { eosTokenIds: eos, stopStrings: options.stopStrings, maxNewTokens: options.maxNewTokens },
    tokenizer ?? undefined,
  );
  if (options.seed !== undefined) manualSeed(options.seed);
  if (options.rngState !== undefined) setRngState(options.rngState, device);

  const withLogprobs = options.logprobs ?? false;
  const numPrompts = prompts.length;
  const numRows = numPrompts * group;
  const generated: number[][] = Array.from({ length: numRows }, () => []);
  const logprobs: number[][] = Array.from({ length: numRows }, () => []);
  const sampledLogprobs: number[][] = Array.from({ length: numRows }, () => []);
  const reasons: (StopReason | null)[] = new Array(numRows).fill(null);

  // Without a prompt cache, the prefill makes a cache for this call, freed at its end.
  let ownCache: KVCache | null = null;
  // Tensors that live across steps (owned here, replaced and disposed as they change).
  let mask: Tensor | null = null; // [rows, past + 1] int64: 1 = real token
  let seen: Tensor | null = null; // [rows, V] bool: tokens in prompt + completion (penalty only)
  let logits: Tensor | null = null; // [rows, V]: next-token logits of every batch row
  const replace = (old: Tensor | null, next: Tensor): Tensor => {
    old?.dispose();
    return keep(next);
  };

  let started = process.hrtime.bigint();
  let prefillSeconds = 0;
  let decodeSeconds = 0;
  let steps = 0;
  let prefilledPrompts = 0;
  try {
    noGrad(() => {
      // ---- prefill (each distinct prompt once), or the new tokens of rows in a prompt cache.
      started = process.hrtime.bigint();
      const start = scope(() =>
        session === null
          ? prefill(model, prompts, pad, Math.max(...prompts.map((p) => p.length)) + options.maxNewTokens)
          : session.cache.begin(model, prompts, session.keys, pad),
      );
      const cache = start.cache;
      if (session === null) ownCache = cache;
      mask = replace(mask, start.mask);
      logits = replace(logits, start.logits);
      prefilledPrompts = start.prompts;
      if (penalty !== 1) {
        seen = replace(
          seen,
          scope(() => {
            // Each row's real tokens; padded up to the longest by repeating the row's first token,
            // so the scatter writes `true` only at tokens the prompt really contains.
            const width = Math.max(...prompts.map((p) => p.length));
            const shape = [numPrompts, width];
            const index = prompts.flatMap((p) => [...p, ...new Array(width - p.length).fill(p[0])]);
            const indexT = tensor(index, { dtype: "int64", device, shape });
            const ones = tensor(new Array(index.length).fill(true), { dtype: "bool", device, shape });
            return zeros([numPrompts, config.vocabSize], { dtype: "bool", device }).scatter(1, indexT, ones);
          }),
        );
      }

      if (options.onStats) synchronize(device);
      prefillSeconds = secondsSince(started);
      const decodeStarted = process.hrtime.bigint();

      // ---- share the prefill: row p -> rows p * G .. p * G + G - 1.
      if (group > 1) {
        cache.expandRows(group);
        mask = replace(mask, (mask as Tensor).repeatInterleave(group, 0));
        logits = replace(logits, (logits as Tensor).repeatInterleave(group, 0));
        if (seen) seen = replace(seen, (seen as Tensor).repeatInterleave(group, 0));
      }
      let rows: RowState[] = Array.from({ length: numRows }, (_, r) => ({
        completion: r,
        lastId: pad,
        nextPosition: prompts[Math.floor(r / group)].length,
        done: false,
      }));

      // ---- decode.
      for (;;) {
        // One copy to JS per step: [N, 3] = id, log-prob at T, sampled log-prob ([N, 1] without).
        const picked = scope(() =>
          pickNextTokens(logits as Tensor, settings, seen, greedy, withLogprobs).toFloat32Array(),
        );
        const stride = withLogprobs ? 3 : 1;

        let running = 0;
        rows.forEach((row, r) => {
          if (row.done) return;
          const c = row.completion;
          row.lastId = picked[stride * r];
          generated[c].push(row.lastId);
          if (withLogprobs) {
            logprobs[c].push(picked[stride * r + 1]);
            sampledLogprobs[c].push(picked[stride * r + 2]);
          }
          const reason = stop.check(generated[c]);
          if (reason !== null) {
            reasons[c] = reason;
            row.done = true;
          } else {
            running++;
          }
        });
        steps++;
        if (running === 0) break;

        // Drop finished rows once they are a large enough share of the batch.
        if (rows.length - running >= compactFraction * rows.length) {
          const keepRows = rows.flatMap((row, r) => (row.done ? [] : [r]));
          cache.selectRows(keepRows);
          const select = (t: Tensor) =>
            scope(() => t.indexSelect(0, tensor(keepRows, { dtype: "int64", device })));
          mask = replace(mask, select(mask as Tensor));
          if (seen) seen = replace(seen, select(seen as Tensor));
          rows = keepRows.map((r) => rows[r]);
        }

        // Feed the new tokens; rows that finished but are still in the batch get the pad token,
        // masked out (their outputs are ignored).
        const n = rows.length;
        const column = (values: number[], dtype: "int64" | "bool") =>
          tensor(values, { dtype, device, shape: [n, 1] });
        const feedIds = rows.map((row) => (row.done ? pad : row.lastId));
        const feedMask = rows.map((row) => (row.done ? 0 : 1));
        const feedPositions = rows.map((row) => (row.done ? 0 : row.nextPosition++));
        mask = replace(
          mask,
          scope(() => cat([mask as Tensor, column(feedMask, "int64")], 1)),
        );
        logits = replace(
          logits,
          scope(() => {
            const idsT = column(feedIds, "int64");
            // Finished rows mark the pad token as seen: harmless, their outputs are ignored.
            if (seen) seen = replace(seen, seen.scatter(1, idsT, column(new Array(n).fill(1), "bool")));
            return model
              .forward(idsT, {
                attentionMask: mask as Tensor,
                positionIds: column(feedPositions, "int64"),
                cache,
              })
              .squeeze(1)
              .float();
          }),
        );
      }
      // A prompt cache keeps the rows for the next call.
      session?.cache.commit(generated, mask as Tensor);
      decodeSeconds = secondsSince(decodeStarted);
    });
  } finally {
    (ownCache as KVCache | null)?.dispose();
    (mask as Tensor | null)?.dispose();
    (seen as Tensor | null)?.dispose();
    (logits as Tensor | null)?.dispose();
  }

  options.onStats?.({
    prompts: prefilledPrompts,
    completions: numRows,
    prefillSeconds,
    decodeSeconds,
    steps,
    generatedTokens: generated.reduce((n, ids) => n + ids.length, 0),
  });
  const skipSpecialTokens = options.skipSpecialTokens ?? true;
  return generated.map((ids, c) => {
    const reason = reasons[c] as StopReason;
    const decoded = tokenizer ? tokenizer.decode(ids, { skipSpecialTokens }) : "";
    const stopString = reason === "stop_string" ? stop.matchTail(ids) : null;
    const text = stopString === null ? decoded : stop.cutAfter(decoded, stopString);
    return {
      promptIndex: Math.floor(c / group),
      tokenIds: ids,
      text,
      ...(withLogprobs ? { logprobs: logprobs[c], sampledLogprobs: sampledLogprobs[c] } : {}),
      length: ids.length,
      truncated: reason === "max_new_tokens",
      stopReason: reason,
      stopString,
    };
  });
}
