/**
 * Pure helpers for the charts and panels (no DOM: the unit tests import them under Node).
 */

/** The smallest number of decimals (up to `max`) with which `format` gives back every value within `tol`. */
function fewestDecimals(
  values: readonly number[],
  tol: number,
  format: (v: number, d: number) => string,
  max: number,
): number {
  for (let d = 0; d < max; d++) {
    if (values.every((v) => Math.abs(Number(format(v, d)) - v) <= tol)) return d;
  }
  return max;
}

/**
 * Axis tick labels with as many decimals as the tick spacing needs, no more: ticks 7, 7.2, 7.4
 * read "7.0", "7.2", "7.4" (not "7" three times), 0.25-spaced ticks get two decimals, 1000-spaced
 * ticks none (with thousands separators), and tiny or huge ranges an exponent with enough digits.
 * All labels of one axis share the decimals. `increment` is the tick spacing when known (uPlot
 * passes it); otherwise the smallest gap between neighbouring ticks is used.
 */
export function formatTicks(ticks: readonly number[], increment?: number): string[] {
  const finite = ticks.filter((t) => Number.isFinite(t));
  if (finite.length === 0) return ticks.map(() => "");
  let step =
    increment !== undefined && Number.isFinite(increment) && increment > 0
      ? increment
      : Number.POSITIVE_INFINITY;
  if (!Number.isFinite(step)) {
    for (let i = 1; i < finite.length; i++) {
      const gap = Math.abs(finite[i] - finite[i - 1]);
      if (gap > 0) step = Math.min(step, gap);
    }
  }
  const maxAbs = Math.max(...finite.map(Math.abs));
  if (!Number.isFinite(step)) step = maxAbs === 0 ? 1 : maxAbs;
  // Within a thousandth of the spacing is "the same tick" (uPlot's ticks carry float noise).
  const tol = step * 1e-3;
  const exponent = maxAbs !== 0 && (maxAbs < 1e-3 || maxAbs >= 1e7);
  if (exponent) {
    const d = fewestDecimals(finite, tol, (v, k) => v.toExponential(k), 8);
    return ticks.map((t) =>
      !Number.isFinite(t) ? "" : t === 0 || Math.abs(t) < tol ? "0" : t.toExponential(d).replace("e+", "e"),
    );
  }
  const d = fewestDecimals(finite, tol, (v, k) => v.toFixed(k), 12);
  return ticks.map((t) => {
    if (!Number.isFinite(t)) return "";
    // -0.0 after rounding reads as 0.
    const v = Math.abs(t) < tol ? 0 : t;
    return maxAbs >= 1000
      ? v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d })
      : v.toFixed(d);
  });
}

/** Percent labels for a fraction axis (0.25 -> "25%"), with the decimals the spacing needs. */
export function formatPercentTicks(ticks: readonly number[], increment?: number): string[] {
  const labels = formatTicks(
    ticks.map((t) => t * 100),
    increment === undefined ? undefined : increment * 100,
  );
  return labels.map((l) => (l === "" ? "" : `${l}%`));
}

/**
 * Why a run's Evaluation panel is still empty, from its config.json (`eval_steps`, `max_steps`)
 * and its newest step: evaluations every N steps (and when the next one comes), or only at the
 * end of the run. Null when the run already has evaluation rows.
 */
export function evalHint(
  config: Record<string, unknown> | null | undefined,
  step: number,
  hasEvalRows: boolean,
): string | null {
  if (hasEvalRows) return null;
  const every = config?.eval_steps;
  const maxValue = config?.max_steps;
  const max = typeof maxValue === "number" && maxValue > 0 ? maxValue : null;
  if (config === null || config === undefined)
    return "no evaluation yet (the run's config.json is not readable)";
  if (typeof every !== "number" || !(every > 0)) {
    return `no evaluation yet: evaluations run only at the end of the run${max === null ? "" : ` (step ${max.toLocaleString("en-US")})`} (eval_steps not set)`;
  }
  const next = (Math.floor(Math.max(0, step) / every) + 1) * every;
  if (max !== null && next > max) {
    return every > max
      ? `no evaluation in this run: eval_steps (${every.toLocaleString("en-US")}) is past max_steps (${max.toLocaleString("en-US")})`
      : `no evaluation yet: evaluations run every ${every.toLocaleString("en-US")} steps (eval_steps), none left before max_steps ${max.toLocaleString("en-US")}`;
  }
  return `no evaluation yet: evaluations run every ${every.toLocaleString("en-US")} steps (eval_steps) — next at step ${next.toLocaleString("en-US")}`;
}
