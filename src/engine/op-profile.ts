// The engine op counter (native/src/op_profile.cc): ATen operators issued between start and stop,
// by name, with the wall time spent in them. Top-level calls only: an operator that calls others
// counts once. Benchmarks divide the total by the tokens generated to print ops per token.
import { native } from "./native.js";

export interface OpTotals {
  /** Top-level operator calls, all names together. */
  calls: number;
  /** Wall seconds inside those calls. */
  seconds: number;
  /** Per operator name: calls and seconds, most time first. */
  byName: { name: string; calls: number; seconds: number }[];
}

/** Counts the operators `fn` issues (the counter is process-wide: run nothing else meanwhile). */
export function countOps<T>(fn: () => T): { result: T; ops: OpTotals } {
  native.opProfile(true);
  let result: T;
  try {
    result = fn();
  } finally {
    native.opProfile(false);
  }
  return { result, ops: opTotals() };
}

function opTotals(): OpTotals {
  const byName = Object.entries(native.opProfileTotals())
    .map(([name, [calls, seconds]]) => ({ name, calls, seconds }))
    .sort((a, b) => b.seconds - a.seconds);
  return {
    calls: byName.reduce((n, op) => n + op.calls, 0),
    seconds: byName.reduce((n, op) => n + op.seconds, 0),
    byName,
  };
}
