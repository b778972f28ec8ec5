import type { FileHandle } from "node:fs/promises";
import { MAX_BYTES_PER_POLL, MAX_LINE_BYTES, READ_CHUNK_BYTES } from "./limits.js";
import { notRegularReason, openRegularFile } from "./regular-file.js";

/**
 * One parsed line of a JSONL file. `where` locates it for error messages: "line 12", or
 * "byte 123456" when reading started near the end of the file (line numbers unknown).
 */
export interface JsonlLine {
  where: string;
  value: unknown;
}

/**
 * Something wrong with the file: a line that is not valid JSON or is too long (skipped), or the
 * whole file (`where` empty), e.g. a FIFO in its place. Reported, never fatal.
 */
export interface JsonlProblem {
  file: string;
  where: string;
  message: string;
}

/** "FILE line 3: message", or "FILE: message" for a problem with the whole file. */
export function describeJsonlProblem(p: JsonlProblem): string {
  return p.where === "" ? `${p.file}: ${p.message}` : `${p.file} ${p.where}: ${p.message}`;
}

export interface JsonlReadResult {
  lines: JsonlLine[];
  problems: JsonlProblem[];
  /** True when the file shrank since the last read: the reader restarted from byte 0. */
  restarted: boolean;
  /** True when the file holds more than this read took (its byte budget ran out). */
  more: boolean;
}

/**
 * Receives lines as they are parsed, chunk by chunk, so a 100,000-row file never sits in memory
 * as 100,000 parsed objects at once.
 */
export interface JsonlVisitor {
  /** The file shrank (truncated or replaced): forget earlier rows; lines that follow start at byte 0. */
  restart(): void;
  line(line: JsonlLine): void;
  problem(problem: JsonlProblem): void;
}

export interface JsonlTailOptions {
  /**
   * When set, the first read skips all but about this many bytes at the end of the file (for
   * files where only the newest rows matter, such as samples.jsonl).
   */
  startNearEnd?: number;
  /** Bytes one `visit()` reads at most; the rest waits for the next call. */
  maxBytesPerVisit?: number;
  /** A line longer than this is skipped (and reported) instead of being buffered. */
  maxLineBytes?: number;
}

/**
 * Follows an append-only JSONL file by byte offset. Each `read()` returns the complete lines
 * appended since the previous call, up to a byte budget. A trailing line without `\n` is kept
 * back until its newline arrives, because the writer may be half-way through it. A missing file
 * reads as empty, so a reader can start before the trainer creates the file. Anything that is
 * not a regular file (a FIFO, socket, device or directory) is never opened blocking and never
 * read: it is reported once, and followed again once a regular file takes its place.
 */
export class JsonlTail {
  private offset = 0;
  private lineNumber = 0;
  /** False after starting mid-file: line numbers are then unknown and byte offsets are reported. */
  private lineNumbersKnown = true;
  private first = true;
  /** Modification time of the file at the last read (ms since 1970), null before it exists. */
  lastModifiedMs: number | null = null;
  /** Inode of the file last read: a new inode at the same path is a replaced file. */
  private inode = -1;
  /** Bytes of an incomplete last line, waiting for the rest. */
  private pending: Buffer = Buffer.alloc(0);
  /** True while dropping the rest of a line that passed `maxLineBytes`, up to its newline. */
  private skippingLongLine = false;
  /** What the path was when last refused ("FIFO", ...), so the refusal is reported once. */
  private refusedAs: string | null = null;
  /** Lines skipped for being longer than `maxLineBytes`, since the tail was created. */
  linesTooLong = 0;
  private readonly startNearEnd?: number;
  private readonly maxBytesPerVisit: number;
  private readonly maxLineBytes: number;

  constructor(
    readonly path: string,
    options: JsonlTailOptions = {},
  ) {
    this.startNearEnd = options.startNearEnd;
    this.maxBytesPerVisit = options.maxBytesPerVisit ?? MAX_BYTES_PER_POLL;
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  }

  /** Reads what was appended since the last call (up to the byte budget) and returns it in one result. */
  async read(): Promise<JsonlReadResult> {
    const result: JsonlReadResult = { lines: [], problems: [], restarted: false, more: false };
    result.more = await this.visit({
      restart: () => {
        result.restarted = true;
      },
      line: (line) => result.lines.push(line),
      problem: (problem) => result.problems.push(problem),
    });
    return result;
  }

  /**
   * Like `read()`, but hands each line to `visitor` as soon as it is parsed. Stops early, between
   * chunks, once `signal` is aborted. Returns true when the file holds bytes this call did not
   * read (the budget ran out or it was stopped): call again to go on.
   */
  async visit(visitor: JsonlVisitor, signal?: AbortSignal): Promise<boolean> {
    const opened = await openRegularFile(this.path);
    if (opened.kind === "missing") {
      this.refusedAs = null;
      return false;
    }
    if (opened.kind === "not-regular") {
      // Polls repeat several times a second: say it once, again only if it changes.
      if (this.refusedAs !== opened.what) {
        this.refusedAs = opened.what;
        visitor.problem({ file: this.path, where: "", message: notRegularReason(opened.what) });
      }
      return false;
    }
    this.refusedAs = null;
    const { handle, stats } = opened;
    try {
      const { size, ino, mtimeMs } = stats;
      this.lastModifiedMs = mtimeMs;
      const replaced = this.inode !== -1 && ino !== this.inode;
      this.inode = ino;
      if (size < this.offset || replaced) {
        // Truncated or replaced (e.g. a fresh run in the same directory): start over.
        this.offset = 0;
        this.lineNumber = 0;
        this.lineNumbersKnown = true;
        this.pending = Buffer.alloc(0);
        this.skippingLongLine = false;
        visitor.restart();
      }
      if (this.first && this.startNearEnd !== undefined && size > this.startNearEnd) {
        // Start inside the file: the first (partial) line is dropped by seeking to the next newline.
        this.offset = size - this.startNearEnd;
        this.lineNumbersKnown = false;
        await this.skipPartialLine(handle, size);
      }
      this.first = false;
      const stopAt = Math.min(size, this.offset + this.maxBytesPerVisit);
      if (this.offset >= stopAt) return this.offset < size;
      // One buffer per call, reused for each chunk: `consume` keeps copies of what it holds on to.
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, stopAt - this.offset));
      while (this.offset < stopAt && !signal?.aborted) {
        const length = Math.min(chunk.length, stopAt - this.offset);
        const { bytesRead } = await handle.read(chunk, 0, length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.consume(chunk.subarray(0, bytesRead), visitor);
      }
      return this.offset < size;
    } finally {
      await handle.close();
    }
  }

  private async skipPartialLine(handle: FileHandle, size: number): Promise<void> {
    const probe = Buffer.allocUnsafe(64 * 1024);
    while (this.offset < size) {
      const { bytesRead } = await handle.read(probe, 0, probe.length, this.offset);
      if (bytesRead === 0) return;
      const newline = probe.subarray(0, bytesRead).indexOf(10);
      if (newline >= 0) {
        this.offset += newline + 1;
        return;
      }
      this.offset += bytesRead;
    }
  }

  /** Where the line starting at file byte `bytePosition` is, for messages. */
  private locate(bytePosition: number): string {
    return this.lineNumbersKnown ? `line ${this.lineNumber}` : `byte ${bytePosition}`;
  }

  private reportTooLong(bytePosition: number, visitor: JsonlVisitor): void {
    this.linesTooLong += 1;
    visitor.problem({
      file: this.path,
      where: this.locate(bytePosition),
      message: `line longer than ${this.maxLineBytes} bytes; skipped`,
    });
  }

  /** Parses the complete lines in `chunk` (the bytes just before `this.offset`), keeping the rest. */
  private consume(chunk: Buffer, visitor: JsonlVisitor): void {
    let fresh = chunk;
    if (this.skippingLongLine) {
      // The rest of an overlong line, already counted and reported: drop it up to its newline.
      const newline = fresh.indexOf(10);
      if (newline < 0) return;
      this.skippingLongLine = false;
      fresh = fresh.subarray(newline + 1);
    }
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, fresh]) : fresh;
    // Byte offset of `data` in the file, for locating lines when line numbers are unknown.
    let bytePosition = this.offset - data.length;
    // Decode up to the last newline in one go: byte 0x0A never occurs inside a multi-byte UTF-8
    // character, so this never cuts one, and one big decode is much faster than one per line.
    const end = data.lastIndexOf(10);
    if (end >= 0) {
      const text = data.toString("utf8", 0, end + 1);
      let start = 0;
      while (start < text.length) {
        const newline = text.indexOf("\n", start);
        this.lineNumber += 1;
        const line = text.slice(start, newline);
        start = newline + 1;
        // A UTF-16 unit is at most 3 UTF-8 bytes: count bytes only when it could matter.
        const needBytes = !this.lineNumbersKnown || line.length * 3 > this.maxLineBytes;
        const bytes = needBytes ? Buffer.byteLength(line) : 0;
        const lineStart = bytePosition;
        bytePosition += bytes + 1;
        if (bytes > this.maxLineBytes) {
          this.reportTooLong(lineStart, visitor);
          continue;
        }
        if (line.trim() === "") continue;
        const where = this.locate(lineStart);
        try {
          visitor.line({ where, value: JSON.parse(line) });
        } catch (err) {
          visitor.problem({ file: this.path, where, message: `not valid JSON (${(err as Error).message})` });
        }
      }
    }
    const rest = data.subarray(end + 1);
    if (rest.length > this.maxLineBytes) {
      // No newline within the limit: count the line now and skip it, whenever it ends.
      this.lineNumber += 1;
      this.reportTooLong(this.offset - rest.length, visitor);
      this.skippingLongLine = true;
      this.pending = Buffer.alloc(0);
      return;
    }
    // Copy: `data` may be the reused read buffer; keep only the incomplete tail.
    this.pending = Buffer.from(rest);
  }
}
