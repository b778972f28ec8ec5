/**
 * What one `generate` call carries from decode step to decode step, and the steps themselves:
 * prefill (or continue rows of a prompt cache), share the prefill across a group, then repeat
 * pick -> compact -> feed until every row has stopped (sampler.ts's header has the whole story).
 *
 * The tensors that live across steps (attention mask, seen-token set, next-token logits) are owned
 * here: each step replaces them and disposes the old ones, and `dispose()` frees what is left, so
 * an exception at any step leaks nothing.
 */
import { cat, type Device, keep, scope, synchronize, type Tensor, tensor, zeros } from "../engine/index.js";
import { keyedUniform } from "../util/rng.js";
import type { KVCache } from "./kv-cache.js";
import type { SamplingSettings } from "./logits-processors.js";
import { pickNextTokens } from "./next-token.js";
import { prefill } from "./prefill.js";
import type { PromptCache } from "./prompt-cache.js";
import type {
  Completion,
  GenerationModel,
  GenerationStats,
  GenerationTokenizer,
  TokenConstraint,
  TokenFilter,
} from "./sampler.js";
import type { StopCriteria, StopReason } from "./stop-criteria.js";
import { blockedMask } from "./token-filter.js";

/** The call's options, checked and resolved (sampler.ts does that once). */
export interface DecodeSettings {
  sampling: SamplingSettings;
  greedy: boolean;
  /** Completions per prompt (G). */
  group: number;
  maxNewTokens: number;
  pad: number;
  stop: StopCriteria;
  withLogprobs: boolean;
  compactFraction: number;
  session: { cache: PromptCache; keys: readonly number[] } | null;
  /** Keyed random streams per completion row (GenerateOptions.streams), or the device's generator. */
  streams: { seed: number; rowKeys: readonly number[] } | null;
  /** Constrained decoding (GenerateOptions.constrain), or null. */
  constrain: TokenConstraint | null;
  timed: boolean;
}

/** One batch row, as the loop sees it in JavaScript. */
interface Row {
  completion: number;
  /** The token picked for this row at the latest step. */
  lastId: number;
  /** Position id of the next token (real tokens so far). */
  nextPosition: number;
  done: boolean;
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export class DecodeState {
  private readonly device: Device;
  private cache: KVCache | null = null;
  private ownsCache = false;
  private mask: Tensor | null = null; // [rows, past + 1] int64: 1 = real token
  private seen: Tensor | null = null; // [rows, V] bool: tokens so far (repetition penalty only)
  private logits: Tensor | null = null; // [rows, V]: next-token logits of every batch row
  private rows: Row[] = [];
  private readonly generated: number[][];
  private readonly logprobs: number[][];
  private readonly sampledLogprobs: number[][];
  private readonly reasons: (StopReason | null)[];
  /** With a constraint: the filter each picked token was drawn under (null: none applied). */
  private readonly filters: (TokenFilter | null)[][];
  private readonly stats: GenerationStats;
  private decodeStarted = 0n;

  constructor(
    private readonly model: GenerationModel,
    private readonly prompts: readonly (readonly number[])[],
    private readonly settings: DecodeSettings,
  ) {
    this.device = model.device;
    const numRows = prompts.length * settings.group;
    const perRow = () => Array.from({ length: numRows }, (): number[] => []);
    this.generated = perRow();
    this.logprobs = perRow();
    this.sampledLogprobs = perRow();
    this.filters = Array.from({ length: settings.constrain === null ? 0 : numRows }, () => []);
    this.reasons = new Array(numRows).fill(null);
    this.stats = {
      prompts: 0,
      completions: numRows,
      prefillSeconds: 0,
      decodeSeconds: 0,
      steps: 0,
      generatedTokens: 0,
    };
  }

  private replace(old: Tensor | null, next: Tensor): Tensor {
    old?.dispose();
    return keep(next);
  }

  /** Prefill each distinct prompt once (or the new tokens of prompt-cache rows), then share it G ways. */
  start(): void {
    const { prompts, settings, model } = this;
    const started = process.hrtime.bigint();
    const longest = Math.max(...prompts.map((p) => p.length));
    const begun = scope(() =>
      settings.session === null
        ? prefill(model, prompts, settings.pad, longest + settings.maxNewTokens)
        : settings.session.cache.begin(model, prompts, settings.session.keys, settings.pad),
    );
    this.cache = begun.cache;
    this.ownsCache = settings.session === null;
    this.mask = this.replace(this.mask, begun.mask);
    this.logits = this.replace(this.logits, begun.logits);
    this.stats.prompts = begun.prompts;
    if ((settings.sampling.repetitionPenalty ?? 1) !== 1) this.seen = keep(this.promptTokenSet(longest));
    if (settings.timed) synchronize(this.device);
    this.stats.prefillSeconds = secondsSince(started);
    this.decodeStarted = process.hrtime.bigint();

    // Row p -> rows p * G .. p * G + G - 1, all continuing from the one prefill.
    const G = settings.group;
    if (G > 1) {
      this.cache.expandRows(G);
      this.mask = this.replace(this.mask, this.mask.repeatInterleave(G, 0));
      this.logits = this.replace(this.logits, this.logits.repeatInterleave(G, 0));
      if (this.seen) this.seen = this.replace(this.seen, this.seen.repeatInterleave(G, 0));
    }
    this.rows = this.generated.map((_, r) => ({
      completion: r,
      lastId: settings.pad,
      nextPosition: prompts[Math.floor(r / G)].length,
      done: false,
    }));
  }

  /** [prompts, V] bool: the tokens each prompt contains (the repetition penalty's starting set). */
  private promptTokenSet(width: number): Tensor {
    return scope(() => {
      // Rows padded to the longest by repeating their first token, so the scatter marks only
      // tokens the prompt really contains.
      const shape = [this.prompts.length, width];
      const index = this.prompts.flatMap((p) => [...p, ...new Array(width - p.length).fill(p[0])]);
      const indexT = tensor(index, { dtype: "int64", device: this.device, shape });
      const ones = tensor(new Array(index.length).fill(true), { dtype: "bool", device: this.device, shape });
      return zeros([this.prompts.length, this.model.config.vocabSize], {
        dtype: "bool",
        device: this.device,
      }).scatter(1, indexT, ones);
    });
  }

  /** Pick every running row's next token (one copy to JS); false once every row has stopped. */
  pick(): boolean {
    const { sampling, greedy, withLogprobs, stop } = this.settings;
    const picked = scope(() =>
      pickNextTokens(
        this.constrained(this.logits as Tensor),
        sampling,
        this.seen,
        greedy,
        withLogprobs,
        greedy ? undefined : this.keyedUniforms(),
      ).toFloat32Array(),
    );
    const stride = withLogprobs ? 3 : 1;
    let running = 0;
    this.rows.forEach((row, r) => {
      if (row.done) return;
      const c = row.completion;
      row.lastId = picked[stride * r];
      this.generated[c].push(row.lastId);
      if (withLogprobs) {
        this.logprobs[c].push(picked[stride * r + 1]);
        this.sampledLogprobs[c].push(picked[stride * r + 2]);
      }
      this.reasons[c] = stop.check(this.generated[c]);
      if (this.reasons[c] !== null) row.done = true;
      else running++;
    });
    this.stats.steps++;
    return running > 0;
  }

  /**
   * The logits with every token a row may not pick next at -inf (GenerateOptions.constrain); the
   * logits themselves when nothing is constrained at this step.
   */
  private constrained(logits: Tensor): Tensor {
    const constrain = this.settings.constrain;
    if (constrain === null) return logits;
    const filters = this.rows.map((row) => {
      if (row.done) return null;
      const filter = constrain(row.completion, this.generated[row.completion]);
      const free = filter === null || ("allow" in filter ? filter.allow : filter.block).length === 0;
      this.filters[row.completion].push(free ? null : filter);
      return free ? null : filter;
    });
    const vocab = logits.size(-1);
    const blocked = blockedMask(filters, vocab);
    if (blocked === null) return logits;
    const mask = tensor(blocked, { dtype: "bool", device: this.device, shape: [this.rows.length, vocab] });
    return logits.maskedFill(mask, Number.NEGATIVE_INFINITY);
  }

  /** [rows, 1] float64: each batch row's next number of its keyed stream; undefined without streams. */
  private keyedUniforms(): Tensor | undefined {
    const streams = this.settings.streams;
    if (streams === null) return undefined;
    const values = this.rows.map((row) =>
      keyedUniform(streams.seed, streams.rowKeys[row.completion], this.generated[row.completion].length),
    );
    return tensor(values, { dtype: "float64", device: this.device, shape: [values.length, 1] });
  }

  /** Drop finished rows (KV cache included) once they are a large enough share of the batch. */
  compact(): void {
    const finished = this.rows.filter((row) => row.done).length;
    if (finished === 0 || finished < this.settings.compactFraction * this.rows.length) return;
    const keepRows = this.rows.flatMap((row, r) => (row.done ? [] : [r]));
    (this.cache as KVCache).selectRows(keepRows);
    const select = (t: Tensor) =>
      scope(() => t.indexSelect(0, tensor(keepRows, { dtype: "int64", device: this.device })));
    this.mask = this.replace(this.mask, select(this.mask as Tensor));
    if (this.seen) this.seen = this.replace(this.seen, select(this.seen));
    this.rows = keepRows.map((r) => this.rows[r]);
  }

  /**
   * Run the model on the tokens just picked. Rows that finished but are still in the batch get
   * the pad token, masked out (their outputs are ignored).
   */
  feed(): void {
    const n = this.rows.length;
    const device = this.device;
    const column = (values: number[], dtype: "int64" | "bool") =>
      tensor(values, { dtype, device, shape: [n, 1] });
    const ids = this.rows.map((row) => (row.done ? this.settings.pad : row.lastId));
    const mask = this.rows.map((row) => (row.done ? 0 : 1));
    const positions = this.rows.map((row) => (row.done ? 0 : row.nextPosition++));
    this.mask = this.replace(
      this.mask,
      scope(() => cat([this.mask as Tensor, column(mask, "int64")], 1)),
    );
    this.logits = this.replace(
      this.logits,
      scope(() => {
        const idsT = column(ids, "int64");
        // Finished rows mark the pad token as seen: harmless, their outputs are ignored.
        if (this.seen)
          this.seen = this.replace(
            this.seen,
            this.seen.scatter(1, idsT, column(new Array(n).fill(1), "bool")),
          );
        return this.model
          .forward(idsT, {
            attentionMask: this.mask as Tensor,
            positionIds: column(positions, "int64"),
            cache: this.cache as KVCache,
          })
          .squeeze(1)
          .float();
      }),
    );
  }

  /** After the last step: a prompt cache keeps the rows for the next call. */
  finish(): void {
    this.settings.session?.cache.commit(this.generated, this.mask as Tensor);
    this.stats.decodeSeconds = secondsSince(this.decodeStarted);
    this.stats.generatedTokens = this.generated.reduce((n, ids) => n + ids.length, 0);
  }

  dispose(): void {
    if (this.ownsCache) this.cache?.dispose();
    this.mask?.dispose();
    this.seen?.dispose();
    this.logits?.dispose();
  }

  timings(): GenerationStats {
    return { ...this.stats };
  }

  completions(tokenizer: GenerationTokenizer | null, skipSpecialTokens: boolean): Completion[] {
    const { stop, group, withLogprobs } = this.settings;
    return this.generated.map((ids, c) => {
      const reason = this.reasons[c] as StopReason;
      const decoded = tokenizer ? tokenizer.decode(ids, { skipSpecialTokens }) : "";
      const stopString = reason === "stop_string" ? stop.matchTail(ids) : null;
      const text = stopString === null ? decoded : stop.cutAfter(decoded, stopString);
      return {
        promptIndex: Math.floor(c / group),
        tokenIds: ids,
        text,
        ...(withLogprobs ? { logprobs: this.logprobs[c], sampledLogprobs: this.sampledLogprobs[c] } : {}),
        ...(this.filters.length > 0 ? { tokenFilters: this.filters[c] } : {}),
        length: ids.length,
        truncated: reason === "max_new_tokens",
        stopReason: reason,
        stopString,
      };
    });
  }
}
