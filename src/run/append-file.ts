import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { fileError } from "../util/file-errors.js";

/**
 * A file a run appends to (the JSONL logs, the trackers' files): every append is written before
 * it returns (a crash of the process loses nothing), and flush() fsyncs when something is unsynced,
 * which RunLogs.flush does before each checkpoint.
 */
export class AppendFile {
  private fd: number | undefined;
  private unsynced = false;

  /** `flags`: "a" to append to the file or create it, "wx" to create it and fail if it exists. */
  constructor(
    readonly path: string,
    flags: "a" | "wx" = "a",
  ) {
    try {
      this.fd = openSync(path, flags);
    } catch (err) {
      // "wx" callers look for EEXIST to pick another name.
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw err;
      throw fileError(err, path, flags === "wx" ? "create" : "open");
    }
  }

  append(data: Uint8Array | string): void {
    if (this.fd === undefined) throw new Error(`${this.path}: already closed`);
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let offset = 0;
    try {
      while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      throw fileError(err, this.path, "append to");
    }
    this.unsynced = true;
  }

  flush(): void {
    if (this.fd === undefined || !this.unsynced) return;
    try {
      fsyncSync(this.fd);
    } catch (err) {
      throw fileError(err, this.path, "flush");
    }
    this.unsynced = false;
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
