/**
 * A Map that forgets its oldest entries past a size limit. Reward caches are keyed by history
 * (and guess); generated states make the key space unbounded, so an unbounded Map would grow for
 * the whole run.
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`BoundedCache: limit must be a positive integer, got ${limit}`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The cached value, computing and storing it on a miss. */
  getOrCompute(key: K, compute: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined || this.map.has(key)) return hit as V;
    const value = compute();
    if (this.map.size >= this.limit) {
      // Maps iterate in insertion order, so the first key is the oldest.
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
    this.map.set(key, value);
    return value;
  }
}
