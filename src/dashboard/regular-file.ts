import { constants, type Stats } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";

/**
 * Opens run files without ever blocking on them. Opening a FIFO for reading waits for a writer
 * (and a read waits for data) inside a libuv worker thread: the poll that asked never finishes,
 * and even `process.exit()` then hangs joining that thread. Devices and sockets are no better.
 * So a path is stat'ed first and opened only when it is a regular file, and opened with
 * O_NONBLOCK, then checked again on the open descriptor, in case it was swapped in between.
 */

export type OpenedFile =
  | { kind: "file"; handle: FileHandle; stats: Stats }
  | { kind: "missing" }
  | { kind: "not-regular"; what: string };

// O_NONBLOCK makes opening a FIFO return at once; it changes nothing for regular files.
// O_NOCTTY keeps a terminal device from becoming the controlling terminal should one slip through.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** What kind of file system object `stats` describes, in words for messages ("FIFO", "directory"). */
export function describeFileKind(stats: Stats): string {
  if (stats.isFile()) return "regular file";
  if (stats.isDirectory()) return "directory";
  if (stats.isFIFO()) return "FIFO";
  if (stats.isSocket()) return "socket";
  if (stats.isCharacterDevice()) return "character device";
  if (stats.isBlockDevice()) return "block device";
  if (stats.isSymbolicLink()) return "symbolic link";
  return "special file";
}

/** Why a run file was refused, for "PATH: <reason>" messages: says what it is instead. */
export function notRegularReason(what: string, action = "not read"): string {
  return `not a regular file (${what}); ${action}`;
}

/**
 * Opens `path` (following symlinks) for reading if it is a regular file. A missing file is
 * `missing`; anything else that is not a regular file is `not-regular` and is never opened
 * blocking. Other errors (permissions, I/O) are thrown. The caller closes the handle.
 */
export async function openRegularFile(path: string): Promise<OpenedFile> {
  let before: Stats;
  try {
    before = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    throw err;
  }
  if (!before.isFile()) return { kind: "not-regular", what: describeFileKind(before) };
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    throw err;
  }
  let stats: Stats;
  try {
    stats = await handle.stat();
  } catch (err) {
    await handle.close();
    throw err;
  }
  if (!stats.isFile()) {
    await handle.close();
    return { kind: "not-regular", what: describeFileKind(stats) };
  }
  return { kind: "file", handle, stats };
}
