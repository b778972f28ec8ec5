/**
 * The metrics of the steps since the last logged row, turned into one metrics.jsonl row the way
 * TRL and the HF Trainer log them:
 *
 * - `loss`: mean over the window's steps (the HF Trainer divides its running loss by the steps
 *   since the last log); steps skipped for a non-finite loss are left out of the mean.
 * - `grad_norm`, `learning_rate`, `temperature`, `epoch`: the latest step's value (HF logs the
 *   current value, not a mean).
 * - everything else (`reward`, `rewards/<name>/mean`, `kl`, `entropy`, `clip_ratio/*`,
 *   `completions/*`, `behaviour/*`, `step_time`): mean over the steps that reported it (TRL
 *   appends one value per step and logs the list's mean). Reward metrics are reported by the steps
 *   that generated a batch (with num_iterations > 1 the reuse steps report none, as in TRL).
 * - `tokens_per_second`: tokens processed in the window / seconds the window took.
 * - `skipped_steps`: steps in the window whose loss or gradient was not finite (the optimizer step
 *   was skipped).
 *
 * The window is plain data, so a checkpoint between two logging steps carries it and the resumed
 * run logs the same row the uninterrupted run would.
 */

const LATEST = new Set(["grad_norm", "learning_rate", "temperature", "epoch"]);

export interface MetricsWindowState {
  sums: Record<string, number>;
  counts: Record<string, number>;
  latest: Record<string, number | null>;
  tokens: number;
  seconds: number;
  steps: number;
  skipped: number;
}

export class MetricsWindow {
  private s: MetricsWindowState = emptyState();

  /** Record one optimizer step. Non-finite values are not averaged (a NaN never poisons a row). */
  add(values: Record<string, number | null>, tokens: number, seconds: number, skipped: boolean): void {
    for (const [key, value] of Object.entries(values)) {
      if (LATEST.has(key)) {
        this.s.latest[key] = value !== null && Number.isFinite(value) ? value : null;
        continue;
      }
      if (value === null || !Number.isFinite(value)) continue;
      this.s.sums[key] = (this.s.sums[key] ?? 0) + value;
      this.s.counts[key] = (this.s.counts[key] ?? 0) + 1;
    }
    this.s.tokens += tokens;
    this.s.seconds += seconds;
    this.s.steps += 1;
    if (skipped) this.s.skipped += 1;
  }

  get steps(): number {
    return this.s.steps;
  }

  /** The row's metric values (without `step`), then an empty window. */
  flush(): Record<string, number | null> {
    const row: Record<string, number | null> = {};
    for (const [key, value] of Object.entries(this.s.latest)) row[key] = value;
    // loss first among the means so rows read in a familiar order.
    const keys = Object.keys(this.s.sums).sort((a, b) => (a === "loss" ? -1 : b === "loss" ? 1 : 0));
    for (const key of keys) row[key] = this.s.sums[key] / this.s.counts[key];
    if (!("loss" in row)) row.loss = null;
    row.step_time = this.s.steps > 0 ? this.s.seconds / this.s.steps : null;
    row.tokens_per_second = this.s.seconds > 0 ? this.s.tokens / this.s.seconds : null;
    row.skipped_steps = this.s.skipped;
    this.s = emptyState();
    return row;
  }

  state(): MetricsWindowState {
    return structuredClone(this.s);
  }

  restore(state: MetricsWindowState): void {
    this.s = structuredClone(state);
  }
}

function emptyState(): MetricsWindowState {
  return { sums: {}, counts: {}, latest: {}, tokens: 0, seconds: 0, steps: 0, skipped: 0 };
}
