import { rmSync } from "node:fs";
import { atomicWriteFile } from "../../util/atomic.js";
import { AppendFile } from "../append-file.js";
import type { JsonRow } from "../jsonl.js";
import type { Tracker } from "./tracker.js";

/**
 * `report_to: csv`: RUN/metrics.csv, metrics.jsonl flattened for spreadsheets and pandas. One line
 * per training or eval row; the header is every key seen so far that holds a number, string,
 * boolean or null (`step` first, then the order keys first appeared); the monitor's objects
 * (criteria, milestones) and inline arrays are left out. A row's missing keys are empty cells, as
 * are null, NaN and infinities.
 *
 * Rows are appended. A row with a key the header lacks (the first eval row, say) rewrites the file
 * with the wider header, atomically, so a reader sees the old file or the new one, never half.
 * When the tracker opens, the file is rebuilt from metrics.jsonl, so it always matches it: after
 * a resume (which cut metrics.jsonl back to its checkpoint) and after a restarted run.
 */

type Cells = Record<string, string>;

function cellText(value: unknown): string | undefined {
  if (value === null) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string")
    return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
  return undefined;
}

function cellsOf(row: JsonRow): Cells {
  const cells: Cells = {};
  for (const [key, value] of Object.entries(row)) {
    const text = cellText(value);
    if (text !== undefined) cells[key] = text;
  }
  return cells;
}

export class CsvTracker implements Tracker {
  readonly name = "csv";
  private readonly columns: string[] = ["step"];
  private readonly known = new Set(this.columns);
  private readonly rows: Cells[] = [];
  private file: AppendFile | undefined;

  /** `history`: the rows metrics.jsonl holds now, which the file starts from. */
  constructor(
    readonly path: string,
    history: readonly JsonRow[],
  ) {
    for (const row of history) this.add(cellsOf(row));
    if (this.rows.length > 0) this.rewrite();
    else rmSync(path, { force: true });
  }

  logMetrics(row: JsonRow): void {
    const cells = cellsOf(row);
    if (this.add(cells)) this.rewrite();
    else {
      this.file ??= new AppendFile(this.path);
      this.file.append(this.line(cells));
    }
  }

  flush(): void {
    this.file?.flush();
  }

  close(): void {
    this.file?.close();
    this.file = undefined;
  }

  /** Keep the row; true when it widened the header. */
  private add(cells: Cells): boolean {
    this.rows.push(cells);
    const before = this.columns.length;
    for (const key of Object.keys(cells))
      if (!this.known.has(key)) {
        this.known.add(key);
        this.columns.push(key);
      }
    return this.columns.length > before;
  }

  private line(cells: Cells): string {
    return `${this.columns.map((c) => cells[c] ?? "").join(",")}\n`;
  }

  private rewrite(): void {
    // The appending handle points at the file the rename replaces: close it, reopen after.
    this.close();
    const header = `${this.columns.map((c) => cellText(c)).join(",")}\n`;
    atomicWriteFile(this.path, header + this.rows.map((cells) => this.line(cells)).join(""));
  }
}
