import { MAX_COLUMNS } from "./limits.js";

/**
 * Numeric training metrics stored column by column (one Float32Array per key), so 100,000 rows
 * cost a few megabytes and can be sent to the page as one binary blob instead of 100,000 JSON
 * objects. A row that lacks a key holds NaN there. float32 is plenty for plotting; exact values
 * (criteria, latest row) travel as JSON.
 */
export class MetricColumns {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();
  private columns: Float32Array[] = [];
  private capacity = 1024;
  rowCount = 0;
  /**
   * The first key turned away because the run already had `maxColumns` columns, or null. Every
   * column costs 4 bytes per row, so a file inventing keys row after row must not add columns
   * without end.
   */
  firstRefusedKey: string | null = null;

  constructor(readonly maxColumns = MAX_COLUMNS) {}

  /** Appends one row; keys seen for the first time become new columns (NaN for earlier rows). */
  push(row: Record<string, unknown>): void {
    if (this.rowCount === this.capacity) this.grow();
    const r = this.rowCount;
    for (const key in row) {
      const value = row[key];
      if (typeof value !== "number") continue;
      let c = this.index.get(key);
      if (c === undefined) {
        if (this.keys.length >= this.maxColumns) {
          this.firstRefusedKey ??= key;
          continue;
        }
        c = this.addColumn(key);
      }
      this.columns[c][r] = value;
    }
    this.rowCount += 1;
  }

  column(key: string): Float32Array | undefined {
    const c = this.index.get(key);
    return c === undefined ? undefined : this.columns[c].subarray(0, this.rowCount);
  }

  /**
   * The first `rows` rows of the columns numbered `columns` (indices into `keys`), one buffer per
   * column in that order, as little-endian float32 (the layout of a Float32Array on every
   * platform a browser runs on). The buffers are views of the stored columns, not copies, so any
   * number of responses in flight cost no memory beyond the store itself; the rows they cover are
   * never written again (rows are only appended, and growing copies into new arrays).
   * Unknown indices are an error, so a confused client gets a 400 rather than wrong data.
   */
  columnBuffers(rows: number, columns: readonly number[]): Buffer[] {
    const n = Math.max(0, Math.min(rows, this.rowCount));
    for (const c of columns) {
      if (!Number.isInteger(c) || c < 0 || c >= this.keys.length) throw new RangeError(`no column ${c}`);
    }
    return columns.map((c) => {
      const column = this.columns[c];
      return Buffer.from(column.buffer, column.byteOffset, 4 * n);
    });
  }

  private addColumn(key: string): number {
    const c = this.keys.length;
    this.keys.push(key);
    this.index.set(key, c);
    const column = new Float32Array(this.capacity);
    column.fill(Number.NaN);
    this.columns.push(column);
    return c;
  }

  private grow(): void {
    this.capacity *= 2;
    this.columns = this.columns.map((old) => {
      const column = new Float32Array(this.capacity);
      column.fill(Number.NaN);
      column.set(old);
      return column;
    });
  }
}
