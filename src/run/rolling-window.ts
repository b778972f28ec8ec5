/**
 * The last N rows of metrics, for trailing means. A row may lack a key (a metric logged only
 * sometimes); a key's mean is over the rows in the window that have it. Means are recomputed in
 * row order each time (N is small), so the same rows always give bit-identical means: a resumed
 * run's monitor, rebuilt from metrics.jsonl, matches the uninterrupted one exactly.
 */
export class RollingWindow {
  private rows: Array<Record<string, number>> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`running window must be a positive integer, got ${size}`);
  }

  push(row: Record<string, number>): void {
    this.rows.push(row);
    if (this.rows.length > this.size) this.rows.shift();
  }

  /** Keys present in the window, in order of first appearance. */
  keys(): string[] {
    const seen = new Set<string>();
    for (const row of this.rows) for (const key of Object.keys(row)) seen.add(key);
    return [...seen];
  }

  /** Mean of `key` over the rows that have it, or undefined when none does. */
  mean(key: string): number | undefined {
    let sum = 0;
    let count = 0;
    for (const row of this.rows) {
      const v = row[key];
      if (v !== undefined) {
        sum += v;
        count++;
      }
    }
    return count === 0 ? undefined : sum / count;
  }

  get length(): number {
    return this.rows.length;
  }
}
