import type { JsonRow } from "../jsonl.js";

/**
 * The values of a metrics row that plot as a curve: every finite number except `step` (the x
 * axis). Nulls, strings, booleans and the monitor's objects (criteria, milestones) are not
 * metrics; NaN and infinities are left out as metrics.jsonl writes them as null.
 */
export function numericMetrics(row: JsonRow): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [key, value] of Object.entries(row)) {
    if (key !== "step" && typeof value === "number" && Number.isFinite(value)) out.push([key, value]);
  }
  return out;
}

/** The row's step, or null when it has none a tracker can place on an axis. */
export function rowStep(row: JsonRow): number | null {
  const step = row.step;
  return typeof step === "number" && Number.isSafeInteger(step) && step >= 0 ? step : null;
}
