/**
 * One process per run directory. `RUN/.lock` holds the owner's PID and its start time (from
 * /proc, so a recycled PID is not mistaken for the owner); it is created exclusively (O_EXCL), so
 * of two processes starting together only one gets it. A lock whose owner is gone (killed, the
 * machine restarted) is stale and taken over; a live owner makes the second process fail with a
 * message naming it. The lock is removed when its holder releases it or exits.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

interface LockOwner {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), or null off Linux. */
  started: number | null;
  command: string;
}

/** /proc/PID/stat's state letter and start time (field 3 and 22), or null off Linux / no process. */
function procStat(pid: number): { state: string; started: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], started: Number(fields[19]) };
  } catch {
    return null;
  }
}

function startTime(pid: number): number | null {
  return procStat(pid)?.started ?? null;
}

function alive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const stat = procStat(owner.pid);
  // A killed process stays a zombie ("Z") until its parent reaps it: it holds nothing any more.
  if (stat?.state === "Z" || stat?.state === "X") return false;
  return owner.started === null || stat?.started === owner.started;
}

export interface RunLock {
  release(): void;
}

/** Directories this process holds (two runs in one process must not share one either). */
const held = new Set<string>();

export function acquireRunLock(root: string, command: string): RunLock {
  return acquireLock(join(root, ".lock"), root, command, "--output");
}

/**
 * The same lock for one output file (`eval --games FILE`): FILE.lock, so two commands writing the
 * same file cannot interleave or overwrite each other's result.
 */
export function acquireFileLock(file: string, command: string, flag: string): RunLock {
  return acquireLock(`${file}.lock`, file, command, flag);
}

function acquireLock(path: string, what: string, command: string, flag: string): RunLock {
  if (held.has(path))
    throw new Error(
      `${what} is in use by this process (it has not finished with it); choose another ${flag}`,
    );
  const me: LockOwner = { pid: process.pid, started: startTime(process.pid), command };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      let owner: LockOwner | null = null;
      try {
        owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
      } catch {
        // Unreadable (a process died between creating and writing it): stale.
      }
      // Our own PID without an entry in `held` is a lock this process failed to remove: stale.
      if (owner !== null && owner.pid !== process.pid && alive(owner))
        throw new Error(
          `${what} is in use by process ${owner.pid} (${owner.command}); wait for it to finish or stop it, ` +
            `or choose another ${flag}`,
        );
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    held.add(path);
    const release = () => {
      held.delete(path);
      try {
        const owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
        if (owner.pid === process.pid) rmSync(path, { force: true });
      } catch {
        // Already gone.
      }
      process.removeListener("exit", release);
    };
    process.on("exit", release);
    return { release };
  }
  throw new Error(`${what}: could not take ${path} (another process keeps recreating it)`);
}
