/**
 * The one line to the model. Generation is synchronous on the JS thread, so requests must wait
 * their turn anyway; waiting is put to use: after a short collection window, every waiting request
 * whose sampling settings equal the first one's goes into the same batch (one generate call, one
 * prefill, one decode loop), which serves N clients in about the time of one.
 */
import { ApiError } from "./api-error.js";
import { batchKey, type SamplingParams } from "./sampling-params.js";

/** One completion of a prompt, in OpenAI's terms. */
export interface GeneratedChoice {
  /** The text, without a stop string that ended it (OpenAI leaves it out). */
  text: string;
  tokenIds: number[];
  finishReason: "stop" | "length";
  /** The stop string that ended it (vLLM's stop_reason), or null (end-of-sequence or length). */
  stopReason: string | null;
}

/** Runs one batch: for each prompt, params.n choices. */
export type BatchRunner = (
  prompts: readonly (readonly number[])[],
  params: SamplingParams,
) => GeneratedChoice[][];

interface Pending {
  promptIds: readonly number[];
  params: SamplingParams;
  key: string;
  resolve(choices: GeneratedChoice[]): void;
  reject(error: Error): void;
}

export interface QueueOptions {
  /** How long the first waiting request waits for others to join its batch. */
  windowMs: number;
  /** Waiting requests beyond this are refused with 429. */
  maxWaiting: number;
  /** Most prompts in one generate call (bounds the batch's memory). */
  maxBatchPrompts: number;
  /** Called after each batch with its number of prompts (tests, logs). */
  onBatch?: (prompts: number) => void;
}

export class GenerationQueue {
  private readonly waiting: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly runBatch: BatchRunner,
    private readonly options: QueueOptions,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  submit(promptIds: readonly number[], params: SamplingParams): Promise<GeneratedChoice[]> {
    if (this.closed) return Promise.reject(new ApiError(503, "the server is shutting down", "server_error"));
    if (this.waiting.length >= this.options.maxWaiting)
      return Promise.reject(
        new ApiError(429, `${this.waiting.length} requests are waiting; retry later`, "rate_limit_error"),
      );
    return new Promise((resolve, reject) => {
      this.waiting.push({ promptIds, params, key: batchKey(params), resolve, reject });
      this.schedule();
    });
  }

  /** Refuse what is still waiting (the batch being generated, if any, finishes first: it is synchronous). */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const p of this.waiting.splice(0))
      p.reject(new ApiError(503, "the server is shutting down", "server_error"));
  }

  private schedule(): void {
    // A timer rather than a direct call: requests that arrived during the last generate call are
    // still unread sockets, and the event loop reads them before the timer fires.
    this.timer ??= setTimeout(() => this.runNext(), this.options.windowMs);
  }

  private runNext(): void {
    this.timer = null;
    const first = this.waiting[0];
    if (first === undefined) return;
    const batch: Pending[] = [];
    for (let i = 0; i < this.waiting.length && batch.length < this.options.maxBatchPrompts; ) {
      const p = this.waiting[i] as Pending;
      if (p.key === first.key) {
        batch.push(p);
        this.waiting.splice(i, 1);
      } else i++;
    }
    try {
      const results = this.runBatch(
        batch.map((p) => p.promptIds),
        first.params,
      );
      batch.forEach((p, i) => {
        p.resolve(results[i] as GeneratedChoice[]);
      });
    } catch (error) {
      const failure = new ApiError(500, `generation failed: ${(error as Error).message}`, "server_error");
      for (const p of batch) p.reject(failure);
    }
    this.options.onBatch?.(batch.length);
    if (this.waiting.length > 0) this.schedule();
  }
}
