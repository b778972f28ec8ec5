/**
 * The trainer's view of data parallelism: which share of a step this process works on, and the
 * few collective operations that make every rank hold the same global values.
 *
 * The rule of the trainer: a step's generation work (prompts or secrets, split by whole GRPO
 * groups) and its forward/backward passes (micro-batch m on rank m mod N) are divided; everything
 * else (rewards, advantages, metrics, the gradient, the optimizer step, stop decisions) is global
 * and identical on every rank, so rank 0 can write the run alone.
 */
import { type JsonCodec, scope, type Tensor, zerosLike } from "../engine/index.js";

/** What the trainer needs from a process group (engine/distributed.ts's ProcessGroup has it). */
export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** This process's index on its machine (picks its GPU); the rank when absent. */
  readonly localRank?: number;
  /** Sums these tensors across ranks in place, as one flat bucket. */
  allReduceFlat(tensors: Tensor[]): void;
  /** Every rank's value, in rank order. */
  allGatherJson<T>(value: T, codec?: JsonCodec): T[];
  /** Leaves the group (train() calls it for a group it made from a factory). */
  destroy?(): void;
}

export class Ranks {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;

  constructor(private readonly group: Collective | null = null) {
    this.rank = group?.rank ?? 0;
    this.size = group?.worldSize ?? 1;
    this.localRank = group?.localRank ?? this.rank;
  }

  /** Launched as one rank of a group (even a group of one): the keyed, rank-independent path. */
  get distributed(): boolean {
    return this.group !== null;
  }

  /** Rank 0 writes the run's files and prints; the others only compute. */
  get main(): boolean {
    return this.rank === 0;
  }

  /**
   * This rank's contiguous share of a step's items (prompts or secrets: whole groups), and the
   * index of its first item. Throws when they do not divide evenly (the trainer checks earlier).
   */
  share<T>(items: readonly T[]): { items: T[]; offset: number } {
    if (items.length % this.size !== 0)
      throw new Error(`${items.length} items of a step do not split over ${this.size} ranks`);
    const per = items.length / this.size;
    return { items: items.slice(this.rank * per, (this.rank + 1) * per), offset: this.rank * per };
  }

  /** This rank's part [start, end) of n items that need not divide evenly (per-completion work). */
  portion(n: number): { start: number; end: number } {
    const per = Math.ceil(n / this.size);
    return { start: Math.min(n, this.rank * per), end: Math.min(n, (this.rank + 1) * per) };
  }

  /** f over this rank's portion of the items, every rank's results gathered in item order. */
  mapPortion<T, R>(items: readonly T[], f: (part: readonly T[]) => R[]): R[] {
    const { start, end } = this.portion(items.length);
    return this.gather(f(items.slice(start, end)));
  }

  /** Every rank's list, concatenated in rank order (the global list); the list itself alone. */
  gather<T>(local: T[]): T[] {
    return this.group === null ? local : (this.each(local).flat() as T[]);
  }

  /** Every rank's value, in rank order (NaN and infinities survive the trip, as a loss may hold them). */
  each<T>(value: T): T[] {
    if (this.group === null) return [value];
    return this.group.allGatherJson(value, { replacer: keepNonFinite, reviver: restoreNonFinite });
  }

  /** True on every rank when it is true on any (a stop request seen by one rank stops all). */
  any(flag: boolean): boolean {
    return this.each(flag).some(Boolean);
  }

  /** Micro-batch m of a step runs on rank m mod N. */
  ownsMicroBatch(m: number): boolean {
    return m % this.size === this.rank;
  }

  /**
   * Sums the parameters' gradients across ranks (one bucket), so every rank holds the gradient
   * of the whole step. A rank that ran no micro-batch contributes zeros.
   */
  sumGradients(params: readonly Tensor[]): void {
    const group = this.group;
    if (group === null) return;
    scope(() => {
      const grads = params.map((p) => {
        const grad = p.grad;
        if (grad !== null) return grad;
        const zeros = zerosLike(p);
        p.setGrad(zeros);
        return zeros;
      });
      group.allReduceFlat(grads);
    });
  }
}

const NON_FINITE = "\u0000number:";

function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? `${NON_FINITE}${value}` : value;
}

function restoreNonFinite(_key: string, value: unknown): unknown {
  return typeof value === "string" && value.startsWith(NON_FINITE)
    ? Number(value.slice(NON_FINITE.length))
    : value;
}

/** One process, no group: shares are everything, gathers are the identity. */
export const SOLO = new Ranks(null);
