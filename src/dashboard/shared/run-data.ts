import type { EvalGame, MetricsRow, RunInfo, RunInit, SampleRow } from "./protocol.js";

/**
 * One run as the page holds it: training metrics in growable float32 columns (so 100,000 rows
 * stay small and fast to scan), the newest full row for the monitor panels, eval rows, samples
 * and eval games.
 */
export class RunData {
  info: RunInfo;
  config: Record<string, unknown> | null;
  latest: MetricsRow | null;
  evalRows: MetricsRow[];
  samples: SampleRow[];
  games: EvalGame[];
  problems: string[];
  /** Wall-clock time (ms since 1970) metrics.jsonl last grew, for the "live" / "idle" hint. */
  lastWriteMs: number;
  private keys = new Map<string, Float32Array>();
  private capacity = 0;
  rowCount = 0;
  /** Bumped whenever column data changes, so derived series (trailing means) know to recompute. */
  version = 0;

  /**
   * @param columnKeys the keys of the columns in `binary`, in order (the page fetches only the
   *   columns it draws; others start filling from live rows)
   */
  constructor(init: RunInit, columnKeys: string[], binary: ArrayBuffer) {
    this.info = init.run;
    this.config = init.config;
    this.latest = init.latest;
    this.evalRows = init.evalRows;
    this.samples = init.samples;
    this.games = init.games;
    this.problems = init.problems;
    this.lastWriteMs = init.lastWriteMs ?? 0;
    const n = init.rowCount;
    const all = new Float32Array(binary);
    this.capacity = Math.max(1024, n * 2);
    columnKeys.forEach((key, c) => {
      const column = this.newColumn();
      if (n > 0) column.set(all.subarray(c * n, (c + 1) * n));
      this.keys.set(key, column);
    });
    this.allKeys = new Set(init.keys);
    this.rowCount = n;
    this.keepStepsIncreasing();
    this.intactRows = this.rowCount;
  }

  /**
   * Rows [0, intactRows) still hold the rows fetched at start, at the positions `rowMap` gives
   * (null: unchanged positions). Columns fetched later (`addColumns`) fill exactly these rows.
   */
  private intactRows = 0;
  private rowMap: number[] | null = null;

  /**
   * Adds columns fetched after the first paint: `binary` holds `rows` values per key (the first
   * rows of the server's history, as at start). Rows appended live since then already have their
   * values; only the start-up rows are filled in.
   */
  addColumns(columnKeys: string[], binary: ArrayBuffer, rows: number): void {
    const all = new Float32Array(binary);
    columnKeys.forEach((key, c) => {
      let column = this.keys.get(key);
      if (!column) {
        column = this.newColumn();
        this.keys.set(key, column);
      }
      const values = all.subarray(c * rows, (c + 1) * rows);
      for (let j = 0; j < this.intactRows; j++) column[j] = values[this.rowMap ? this.rowMap[j] : j];
    });
    this.version++;
  }

  get label(): string {
    return this.info.label;
  }

  /** Every numeric key the run has logged (fetched or not). */
  private allKeys: Set<string>;

  keyNames(): string[] {
    for (const key of this.keys.keys()) this.allKeys.add(key);
    return [...this.allKeys];
  }

  /** The first `rowCount` values of `key`, or null if the run never logged it. */
  column(key: string): Float32Array | null {
    const c = this.keys.get(key);
    return c ? c.subarray(0, this.rowCount) : null;
  }

  get steps(): Float32Array {
    return this.column("step") ?? new Float32Array(0);
  }

  get lastStep(): number {
    return this.rowCount > 0 ? this.steps[this.rowCount - 1] : 0;
  }

  /**
   * Appends training rows. A row whose step is not after the last one means the run was resumed
   * from an earlier checkpoint: rows from that step on are dropped, since the resumed run
   * replaces them (and uPlot needs ascending x).
   */
  append(rows: MetricsRow[]): void {
    for (const row of rows) {
      if (this.rowCount > 0 && row.step <= this.lastStep) this.truncateFromStep(row.step);
      if (this.rowCount === this.capacity) this.grow();
      const r = this.rowCount;
      for (const key in row) {
        const value = row[key];
        if (typeof value !== "number") continue;
        let column = this.keys.get(key);
        if (!column) {
          column = this.newColumn();
          this.keys.set(key, column);
        }
        column[r] = value;
      }
      this.rowCount += 1;
      this.latest = row;
    }
    if (rows.length > 0) {
      this.lastWriteMs = Date.now();
      this.version++;
    }
  }

  private truncateFromStep(step: number): void {
    const steps = this.steps;
    let keep = this.rowCount;
    while (keep > 0 && steps[keep - 1] >= step) keep--;
    for (const column of this.keys.values()) column.fill(Number.NaN, keep, this.rowCount);
    this.rowCount = keep;
    this.intactRows = Math.min(this.intactRows, keep);
  }

  /** The stored history may contain a resume's repeated steps; keep the newest copy of each. */
  private keepStepsIncreasing(): void {
    const steps = this.column("step");
    if (!steps) return;
    let sorted = true;
    for (let i = 1; i < steps.length && sorted; i++) sorted = steps[i] > steps[i - 1];
    if (sorted) return;
    const keep: number[] = [];
    for (let i = 0; i < steps.length; i++) {
      while (keep.length > 0 && steps[keep[keep.length - 1]] >= steps[i]) keep.pop();
      keep.push(i);
    }
    for (const column of this.keys.values()) {
      keep.forEach((from, to) => {
        column[to] = column[from];
      });
      column.fill(Number.NaN, keep.length, this.rowCount);
    }
    this.rowCount = keep.length;
    this.rowMap = keep;
  }

  private newColumn(): Float32Array {
    const column = new Float32Array(this.capacity);
    column.fill(Number.NaN);
    return column;
  }

  private grow(): void {
    this.capacity *= 2;
    for (const [key, old] of this.keys) {
      const column = this.newColumn();
      column.set(old.subarray(0, this.rowCount));
      this.keys.set(key, column);
    }
  }

  addEvalRows(rows: MetricsRow[]): void {
    for (const row of rows) {
      // A resumed run re-evaluates a step: the newer row replaces the older one.
      this.evalRows = this.evalRows.filter((r) => r.step < row.step);
      this.evalRows.push(row);
    }
  }

  addSamples(rows: SampleRow[], keep: number): void {
    this.samples = [...this.samples, ...rows].slice(-keep);
  }

  addGames(rows: EvalGame[], keepSteps: number): void {
    this.games = [...this.games, ...rows];
    const steps = [...new Set(this.games.map((g) => g.step))].sort((a, b) => a - b);
    if (steps.length > keepSteps) {
      const oldest = steps[steps.length - keepSteps];
      this.games = this.games.filter((g) => g.step >= oldest);
    }
  }
}
