import type { MemoryEstimate } from "./memory-estimate.js";

/** Bytes as KiB / MiB / GiB / TiB (binary units: what `free -h` and the OOM killer count). */
export function formatMemory(bytes: number): string {
  if (bytes >= 2 ** 40) return `${(bytes / 2 ** 40).toFixed(1)} TiB`;
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(bytes >= 100 * 2 ** 30 ? 0 : 1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** The estimate as `plan` prints it: the peak, then one line per part, largest first. */
export function formatMemoryEstimate(estimate: MemoryEstimate, indent = "  "): string[] {
  const where =
    estimate.deviceBytes > 0
      ? `${formatMemory(estimate.deviceBytes)} on ${estimate.device} + ${formatMemory(estimate.hostBytes)} host`
      : `${estimate.device}, host memory`;
  const width = Math.max(...estimate.parts.map((p) => p.name.length));
  return [
    `${indent}memory, peak       ${formatMemory(estimate.total)} per process (${where}, ${estimate.dtype}; at ${estimate.peakPhase})`,
    ...estimate.parts.map(
      (p) =>
        `${indent}  ${p.name.padEnd(width)}  ${formatMemory(p.bytes).padStart(9)}  ${p.detail}` +
        (p.phase === null || p.phase === estimate.peakPhase ? "" : ` (${p.phase}, not at the peak)`) +
        (p.fix === null ? "" : `; ${p.fix}`),
    ),
    `${indent}  sequence lengths: prompt ${estimate.lengths.prompt}, completion ${estimate.lengths.completion}, game ${estimate.lengths.game} tokens (${estimate.lengths.source})`,
  ];
}
