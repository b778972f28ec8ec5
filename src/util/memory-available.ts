/**
 * How much memory this process could still take: the host's available memory, capped by the
 * cgroup this process runs in (a container's limit is what the kernel's OOM killer enforces,
 * whatever /proc/meminfo says about the machine).
 *
 * The GPU's free memory is not read: the engine exposes only the caching allocator's own counters
 * (cuda.memoryStats: allocated / reserved by this process), not cudaMemGetInfo, so there is no
 * honest "free on the device" figure to compare with. A CUDA run's device parts are reported, not
 * checked (memory-check.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { freemem } from "node:os";

export interface AvailableMemory {
  /** Bytes this process may still allocate before something gives. */
  bytes: number;
  /** Where the figure came from, for messages: "MemAvailable", "cgroup limit 8.0 GiB". */
  source: string;
}

function readNumber(path: string): number | null {
  try {
    const text = readFileSync(path, "utf8").trim();
    if (text === "max") return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** /proc/meminfo's MemAvailable (free + reclaimable cache), else os.freemem(). */
function hostAvailable(): { bytes: number; source: string } {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    if (match) return { bytes: Number(match[1]) * 1024, source: "MemAvailable" };
  } catch {
    // Not Linux: fall through.
  }
  return { bytes: freemem(), source: "free memory" };
}

/**
 * The room left under this process's cgroup limit (v2: memory.max - memory.current; v1:
 * memory.limit_in_bytes - memory.usage_in_bytes), or null without a limit. A v1 "no limit" is a
 * huge number, larger than any machine: treated as none.
 */
function cgroupRoom(): { bytes: number; limit: number } | null {
  const v2 = "/sys/fs/cgroup/memory.max";
  const [limit, usage] = existsSync(v2)
    ? [readNumber(v2), readNumber("/sys/fs/cgroup/memory.current")]
    : [
        readNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        readNumber("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
      ];
  if (limit === null || limit >= 2 ** 60) return null;
  return { bytes: Math.max(0, limit - (usage ?? 0)), limit };
}

export function availableHostMemory(): AvailableMemory {
  const host = hostAvailable();
  const cgroup = cgroupRoom();
  if (cgroup !== null && cgroup.bytes < host.bytes)
    return {
      bytes: cgroup.bytes,
      source: `cgroup limit ${(cgroup.limit / 2 ** 30).toFixed(1)} GiB`,
    };
  return host;
}

/** This process's resident set now (bytes), which the estimate's total already includes. */
export function currentRss(): number {
  return process.memoryUsage.rss();
}
