/**
 * A small seedable PRNG: xoshiro128** (Blackman & Vigna), 128 bits of state, seeded through
 * splitmix32 so that nearby seeds (0, 1, 2, ...) give unrelated streams. Math.random cannot be
 * seeded, and reproducible games, datasets and training runs need the same numbers every time.
 * The state is four uint32s, so it can be saved in a checkpoint and restored exactly.
 */

export type RngState = [number, number, number, number];

/** splitmix32 step: a well-mixed 32-bit value from a counter (used only for seeding). */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A uniform number in (0, 1] that depends only on (seed, key, position): a counter-based stream,
 * so a row's draws do not depend on which other rows share its batch or on the order of calls.
 * Data-parallel sampling uses it: a game samples the same tokens on any number of ranks.
 */
export function keyedUniform(seed: number, key: number, position: number): number {
  const hi = splitmix32(splitmix32(splitmix32(seed >>> 0) ^ (key >>> 0)) ^ (position >>> 0));
  const lo = splitmix32(hi ^ 0x2545f491);
  // 53 bits: 32 from `hi`, 21 from `lo`; +1 so the value is never 0 (a draw inverts the CDF at u).
  return (hi * 0x200000 + (lo >>> 11) + 1) / 2 ** 53;
}

/** Folds several integers into one 32-bit seed (a stream per step, per round, ...). */
export function mixSeeds(...parts: number[]): number {
  let x = 0x6a09e667;
  for (const p of parts) x = splitmix32(x ^ (p >>> 0) ^ Math.floor(p / 0x100000000));
  return x;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s: Uint32Array;

  /** Seed with any integer (taken modulo 2^32) or restore from a saved state. */
  constructor(seed: number | RngState = 0) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      if (seed.length !== 4 || seed.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
        throw new Error(`Rng: a state must be four uint32 values, got ${JSON.stringify(seed)}`);
      }
      if (seed.every((v) => v === 0)) throw new Error("Rng: the all-zero state is invalid for xoshiro128**");
      this.s.set(seed);
      return;
    }
    if (!Number.isInteger(seed)) throw new Error(`Rng: seed must be an integer, got ${seed}`);
    // Fold in the high bits too so seeds above 2^32 still differ.
    let x = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x);
      this.s[i] = x;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** Next uniform uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new Error(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A uniformly chosen element. */
  pick<T>(items: ArrayLike<T>): T {
    if (items.length === 0) throw new Error("Rng.pick: cannot pick from an empty list");
    return items[this.int(items.length)];
  }

  /** Shuffle in place (Fisher-Yates) and return the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** An independent generator derived from this one (advances this one by four draws). */
  fork(): Rng {
    return new Rng([this.nextUint32(), this.nextUint32(), this.nextUint32(), (this.nextUint32() | 1) >>> 0]);
  }

  /** The state, to save; `new Rng(state)` continues the exact same stream. */
  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }
}
