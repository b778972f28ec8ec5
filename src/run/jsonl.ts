import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { atomicWriteFile } from "../util/atomic.js";
import { fileError } from "../util/file-errors.js";
import { AppendFile } from "./append-file.js";

/**
 * Append-only JSON Lines logs (metrics.jsonl, samples.jsonl, eval-games.jsonl).
 *
 * Rows are never lost to a crash of the process: each append is one `write` of whole lines, which
 * reaches the operating system before `append` returns, so SIGKILL or an exception afterwards
 * cannot drop it. Surviving a power cut needs fsync, which is slow, so it happens on a cadence
 * (every `fsyncEveryRows` rows or `fsyncEveryMs` milliseconds) and on `flush()`/`close()`; the
 * trainer flushes before each checkpoint, so a checkpoint never refers to rows that are not durable.
 * Non-finite numbers become `null` (JSON has no NaN), as docs/run-files.md specifies.
 */

export interface JsonlWriterOptions {
  fsyncEveryRows?: number;
  fsyncEveryMs?: number;
}

export type JsonRow = Record<string, unknown>;

/** JSON.stringify with NaN/Infinity as null (JSON.stringify already does this; stated for readers). */
export const toJsonLine = (row: JsonRow): string =>
  `${JSON.stringify(row, (_key, value) => (typeof value === "number" && !Number.isFinite(value) ? null : value))}\n`;

export class JsonlWriter {
  private readonly file: AppendFile;
  private unsyncedRows = 0;
  private lastSync = Date.now();
  private readonly everyRows: number;
  private readonly everyMs: number;

  constructor(
    readonly path: string,
    options: JsonlWriterOptions = {},
  ) {
    this.everyRows = options.fsyncEveryRows ?? 50;
    this.everyMs = options.fsyncEveryMs ?? 5_000;
    try {
      mkdirSync(dirname(path), { recursive: true });
      repairPartialLastLine(path);
    } catch (err) {
      throw fileError(err, path, "open");
    }
    this.file = new AppendFile(path);
  }

  /** Append rows as whole lines in a single write (a partial last line is repaired on the next open). */
  append(...rows: JsonRow[]): void {
    if (rows.length === 0) return;
    this.file.append(rows.map(toJsonLine).join(""));
    this.unsyncedRows += rows.length;
    if (this.unsyncedRows >= this.everyRows || Date.now() - this.lastSync >= this.everyMs) this.flush();
  }

  /** Make every appended row durable (fsync). */
  flush(): void {
    this.file.flush();
    this.unsyncedRows = 0;
    this.lastSync = Date.now();
  }

  close(): void {
    this.file.close();
  }
}

export interface JsonlContents {
  rows: JsonRow[];
  /** Lines that were not JSON objects: 1-based line number and the reason. */
  bad: Array<{ line: number; reason: string }>;
  /** The file ended in a line without `\n` (a writer mid-append, or a crash): not returned as a row. */
  partialTail: boolean;
}

/** Read a JSONL file; a missing file is empty, a partial last line is reported, not parsed. */
export function readJsonl(path: string): JsonlContents {
  if (!existsSync(path)) return { rows: [], bad: [], partialTail: false };
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const tail = lines.pop() ?? "";
  const rows: JsonRow[] = [];
  const bad: JsonlContents["bad"] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const value = JSON.parse(line);
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        bad.push({ line: i + 1, reason: "not a JSON object" });
      } else rows.push(value as JsonRow);
    } catch (err) {
      bad.push({ line: i + 1, reason: (err as Error).message });
    }
  });
  return { rows, bad, partialTail: tail.length > 0 };
}

/**
 * A crash can leave a last line without its `\n`; appending after it would glue two rows together.
 * Cut such a tail off (it was never a complete row) before a writer reopens the file.
 */
function repairPartialLastLine(path: string): void {
  if (!existsSync(path)) return;
  const text = readFileSync(path, "utf8");
  if (text.length === 0 || text.endsWith("\n")) return;
  atomicWriteFile(path, text.slice(0, text.lastIndexOf("\n") + 1));
}

/**
 * For resume: keep only rows with `step <= step` (rows logged after the checkpoint will be logged
 * again by the resumed run) and drop a partial tail. Rewrites the file atomically.
 * Returns the number of rows removed.
 */
export function truncateJsonlAfterStep(path: string, step: number): number {
  if (!existsSync(path)) return 0;
  const { rows, bad, partialTail } = readJsonl(path);
  if (bad.length > 0) {
    throw new Error(
      `${path}: line ${bad[0]!.line} is not valid (${bad[0]!.reason}); refusing to rewrite a log I cannot read`,
    );
  }
  const kept = rows.filter((row) => typeof row.step !== "number" || row.step <= step);
  if (kept.length === rows.length && !partialTail) return 0;
  atomicWriteFile(path, kept.map(toJsonLine).join(""));
  return rows.length - kept.length;
}
