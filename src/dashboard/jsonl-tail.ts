import { type FileHandle, open } from "node:fs/promises";

/**
 * One parsed line of a JSONL file. `where` locates it for error messages: "line 12", or
 * "byte 123456" when reading started near the end of the file (line numbers unknown).
 */
export interface JsonlLine {
  where: string;
  value: unknown;
}

/** A line that is not valid JSON: reported, skipped, never fatal. */
export interface JsonlProblem {
  file: string;
  where: string;
  message: string;
}

export interface JsonlReadResult {
  lines: JsonlLine[];
  problems: JsonlProblem[];
  /** True when the file shrank since the last read: the reader restarted from byte 0. */
  restarted: boolean;
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

const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Follows an append-only JSONL file by byte offset. Each `read()` returns the complete lines
 * appended since the previous call. A trailing line without `\n` is kept back until its newline
 * arrives, because the writer may be half-way through it. A missing file reads as empty, so a
 * reader can start before the trainer creates the file.
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

  /**
   * @param startNearEnd when set, the first read skips all but about this many bytes at the end
   *   of the file (for files where only the newest rows matter, such as samples.jsonl).
   */
  constructor(
    readonly path: string,
    private readonly startNearEnd?: number,
  ) {}

  /** Reads everything appended since the last call and returns it in one result. */
  async read(): Promise<JsonlReadResult> {
    const result: JsonlReadResult = { lines: [], problems: [], restarted: false };
    await this.visit({
      restart: () => {
        result.restarted = true;
      },
      line: (line) => result.lines.push(line),
      problem: (problem) => result.problems.push(problem),
    });
    return result;
  }

  /** Like `read()`, but hands each line to `visitor` as soon as it is parsed. */
  async visit(visitor: JsonlVisitor): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    try {
      const { size, ino, mtimeMs } = await handle.stat();
      this.lastModifiedMs = mtimeMs;
      const replaced = this.inode !== -1 && ino !== this.inode;
      this.inode = ino;
      if (size < this.offset || replaced) {
        // Truncated or replaced (e.g. a fresh run in the same directory): start over.
        this.offset = 0;
        this.lineNumber = 0;
        this.lineNumbersKnown = true;
        this.pending = Buffer.alloc(0);
        visitor.restart();
      }
      if (this.first && this.startNearEnd !== undefined && size > this.startNearEnd) {
        // Start inside the file: the first (partial) line is dropped by seeking to the next newline.
        this.offset = size - this.startNearEnd;
        this.lineNumbersKnown = false;
        await this.skipPartialLine(handle, size);
      }
      this.first = false;
      while (this.offset < size) {
        const length = Math.min(CHUNK_BYTES, size - this.offset);
        const chunk = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(chunk, 0, length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.consume(chunk.subarray(0, bytesRead), visitor);
      }
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

  private consume(chunk: Buffer, visitor: JsonlVisitor): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    // Decode up to the last newline in one go: byte 0x0A never occurs inside a multi-byte UTF-8
    // character, so this never cuts one, and one big decode is much faster than one per line.
    const end = data.lastIndexOf(10);
    if (end >= 0) {
      const text = data.toString("utf8", 0, end + 1);
      // Byte offset of `text` in the file, for locating lines when line numbers are unknown.
      let bytePosition = this.offset - data.length;
      let start = 0;
      while (start < text.length) {
        const newline = text.indexOf("\n", start);
        this.lineNumber += 1;
        const line = text.slice(start, newline);
        let where: string;
        if (this.lineNumbersKnown) where = `line ${this.lineNumber}`;
        else {
          where = `byte ${bytePosition}`;
          bytePosition += Buffer.byteLength(line) + 1;
        }
        start = newline + 1;
        if (line.trim() === "") continue;
        try {
          visitor.line({ where, value: JSON.parse(line) });
        } catch (err) {
          visitor.problem({ file: this.path, where, message: `not valid JSON (${(err as Error).message})` });
        }
      }
    }
    // Copy: `data` may be a large chunk buffer; keep only the incomplete tail.
    this.pending = Buffer.from(data.subarray(end + 1));
  }
}
