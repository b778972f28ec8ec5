import { Rng, type RngState } from "../util/rng.js";

/**
 * The order in which training prompts are visited, with TRL's RepeatSampler semantics for one
 * process: every epoch shuffles the N prompts and cuts them into chunks of `promptsPerChunk`
 * (one chunk = one generation batch); an incomplete last chunk is dropped, and the next epoch
 * reshuffles. The shuffle draws from one seeded Rng that runs on across epochs, so the whole
 * order is a pure function of the seed.
 *
 * The position (epoch, chunk within the epoch, the Rng state and the current permutation) is plain
 * data: a checkpoint saves it and a resumed run continues with the very next chunk.
 */

export interface DataOrderState {
  /** Epochs started so far (the current one is epoch - 1, 0-based); 0 before the first chunk. */
  epoch: number;
  /** Chunks of the current epoch already handed out. */
  chunk: number;
  /** The current epoch's permutation of prompt indices. */
  permutation: number[];
  rng: RngState;
}

export class DataOrder {
  private rng: Rng;
  private epochCount = 0;
  private chunkIndex = 0;
  private permutation: number[] = [];
  readonly chunksPerEpoch: number;

  constructor(
    readonly size: number,
    readonly promptsPerChunk: number,
    seed: number,
  ) {
    if (!Number.isInteger(promptsPerChunk) || promptsPerChunk < 1)
      throw new Error(
        `DataOrder: prompts per generation batch must be a positive integer, got ${promptsPerChunk}`,
      );
    this.chunksPerEpoch = Math.floor(size / promptsPerChunk);
    if (this.chunksPerEpoch === 0)
      throw new Error(
        `DataOrder: ${size} training prompts cannot fill one generation batch of ${promptsPerChunk} prompts ` +
          "(lower per_device_train_batch_size x gradient_accumulation_steps / num_generations)",
      );
    this.rng = new Rng(seed);
  }

  /** The prompt indices of the next generation batch, and the epoch (0-based) it belongs to. */
  next(): { indices: number[]; epoch: number; chunk: number } {
    if (this.epochCount === 0 || this.chunkIndex >= this.chunksPerEpoch) {
      this.permutation = this.rng.shuffle(Array.from({ length: this.size }, (_, i) => i));
      this.epochCount++;
      this.chunkIndex = 0;
    }
    const start = this.chunkIndex * this.promptsPerChunk;
    const indices = this.permutation.slice(start, start + this.promptsPerChunk);
    return { indices, epoch: this.epochCount - 1, chunk: this.chunkIndex++ };
  }

  state(): DataOrderState {
    return {
      epoch: this.epochCount,
      chunk: this.chunkIndex,
      permutation: [...this.permutation],
      rng: this.rng.state(),
    };
  }

  restore(state: DataOrderState): void {
    if (state.permutation.length !== (state.epoch === 0 ? 0 : this.size))
      throw new Error(
        `data order: the checkpoint's permutation has ${state.permutation.length} prompts, the dataset ${this.size} ` +
          "(was the dataset or the seed changed?)",
      );
    this.rng = new Rng(state.rng);
    this.epochCount = state.epoch;
    this.chunkIndex = state.chunk;
    this.permutation = [...state.permutation];
  }
}
