import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileError } from "./file-errors.js";

/**
 * Crash-safe writes. A reader (or a resumed run) must see either the old file or the complete new
 * one, never half of it, whatever happens: Ctrl-C, SIGKILL, power loss. The recipe is the usual one:
 * write to a temporary name in the same directory, fsync the data, rename over the target (atomic
 * on POSIX file systems), then fsync the directory so the rename itself is durable.
 */

/** Temporary names end in `.tmp` (files) or `.tmp/` (directories), so a cleanup can find leftovers. */
export const TEMP_SUFFIX = ".tmp";
/** A directory being replaced is parked under this suffix until its successor is in place. */
const OLD_SUFFIX = `.old${TEMP_SUFFIX}`;

/** fsync a directory so that renames and new entries in it survive a power cut. */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A file being written atomically. Everything goes to `tempPath`; the target is untouched until
 * `commit()` renames the temp file over it. `abort()` (or a crash) leaves the target as it was.
 */
export class AtomicFile {
  readonly tempPath: string;
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.tempPath = join(dirname(path), `.${basename(path)}.${process.pid}${TEMP_SUFFIX}`);
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(this.tempPath, "w");
    } catch (err) {
      throw fileError(err, path, "write");
    }
  }

  write(data: string | Uint8Array): void {
    if (this.fd === undefined) throw new Error(`AtomicFile ${this.path}: already committed or aborted`);
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let offset = 0;
    try {
      while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      throw fileError(err, this.path, "write");
    }
  }

  commit(): void {
    if (this.fd === undefined) throw new Error(`AtomicFile ${this.path}: already committed or aborted`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tempPath, this.path);
    fsyncDirectory(dirname(this.path));
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tempPath, { force: true });
  }
}

/** Write a whole file atomically (temp file, fsync, rename, fsync directory). */
export function atomicWriteFile(path: string, data: string | Uint8Array): void {
  const file = new AtomicFile(path);
  try {
    file.write(data);
    file.commit();
  } catch (err) {
    file.abort();
    throw err;
  }
}

/** fsync every file under a directory, and the directories themselves (deepest first). */
function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else if (entry.isFile()) {
      const fd = openSync(path, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
  fsyncDirectory(dir);
}

/**
 * Create a directory atomically: `fill` writes into `<target>.tmp/`, which is then fsynced and
 * renamed to `<target>`. A crash during `fill` leaves only the `.tmp` folder (removed by
 * `removeStaleTemps`), never a half-written `<target>`. An existing `<target>` is replaced: it is
 * moved aside first and deleted only after the new one is in place.
 */
export function writeDirectoryAtomically(target: string, fill: (dir: string) => void): void {
  const temp = `${target}${TEMP_SUFFIX}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  try {
    fill(temp);
    fsyncTree(temp);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  }
  const parent = dirname(target);
  if (existsSync(target)) {
    const old = `${target}${OLD_SUFFIX}`;
    rmSync(old, { recursive: true, force: true });
    renameSync(target, old);
    renameSync(temp, target);
    fsyncDirectory(parent);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(temp, target);
    fsyncDirectory(parent);
  }
}

/**
 * Clean up after interrupted atomic writes in a directory: `*.tmp` files and folders are removed,
 * except a `<target>.old.tmp` whose `<target>` is missing (the crash hit between the two renames of
 * a replacement), which is renamed back so that the previous version is not lost.
 */
export function removeStaleTemps(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (!entry.endsWith(TEMP_SUFFIX)) continue;
    const path = join(dir, entry);
    if (entry.endsWith(OLD_SUFFIX)) {
      const target = path.slice(0, -OLD_SUFFIX.length);
      if (!existsSync(target)) {
        renameSync(path, target);
        fsyncDirectory(dir);
        continue;
      }
    }
    rmSync(path, { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
