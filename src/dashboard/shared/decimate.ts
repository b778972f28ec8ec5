/**
 * Turns several (x, y) series with different x values (e.g. runs logged at different steps) into
 * one shared x array plus one y array per series, the layout uPlot draws, with at most about
 * two points per pixel column.
 *
 * When the series are short enough, every point is kept (exact union of x values). Otherwise the
 * visible x range is cut into `buckets` equal slices (one per pixel column) and each series keeps,
 * per slice, its minimum and its maximum, in the order they occurred. That is "min/max
 * decimation": a spike of one step survives at any zoom, which averaging or striding would hide,
 * and the cost is one pass over the visible points.
 */

export interface XYSeries {
  /** Ascending x values (steps). */
  x: ArrayLike<number>;
  /** y values; NaN marks a missing value. */
  y: ArrayLike<number>;
}

export interface AlignedData {
  x: number[];
  ys: (number | null)[][];
  /** True when points were merged per bucket (the plot shows a decimated view). */
  decimated: boolean;
}

/** First index with x[i] >= value (x ascending). */
export function lowerBound(x: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index with x[i] > value (x ascending). */
export function upperBound(x: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The smallest and largest x over all series, or null when all are empty. */
export function xExtent(series: readonly XYSeries[]): [number, number] | null {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    if (s.x.length === 0) continue;
    min = Math.min(min, s.x[0]);
    max = Math.max(max, s.x[s.x.length - 1]);
  }
  return min <= max ? [min, max] : null;
}

/**
 * Aligns `series` over `range` (default: their full extent) for a plot `buckets` pixels wide.
 */
export function alignForDisplay(
  series: readonly XYSeries[],
  buckets: number,
  range: [number, number] | null = null,
): AlignedData {
  const extent = range ?? xExtent(series);
  if (!extent) return { x: [], ys: series.map(() => []), decimated: false };
  const [x0, x1] = extent;
  const spans = series.map((s) => [lowerBound(s.x, x0), upperBound(s.x, x1)] as const);
  const longest = Math.max(0, ...spans.map(([a, b]) => b - a));
  buckets = Math.max(1, Math.floor(buckets));
  if (longest <= 2 * buckets || x1 === x0) return exactUnion(series, spans);
  return minMaxBuckets(series, spans, x0, x1, buckets);
}

function exactUnion(series: readonly XYSeries[], spans: readonly (readonly [number, number])[]): AlignedData {
  const all: number[] = [];
  series.forEach((s, k) => {
    for (let i = spans[k][0]; i < spans[k][1]; i++) all.push(s.x[i]);
  });
  all.sort((a, b) => a - b);
  const x: number[] = [];
  for (const v of all) if (x.length === 0 || x[x.length - 1] !== v) x.push(v);
  const ys = series.map((s, k) => {
    const y: (number | null)[] = new Array(x.length).fill(null);
    let j = 0;
    for (let i = spans[k][0]; i < spans[k][1]; i++) {
      while (x[j] < s.x[i]) j++;
      const v = s.y[i];
      y[j] = Number.isNaN(v) ? null : v;
    }
    return y;
  });
  return { x, ys, decimated: false };
}

function minMaxBuckets(
  series: readonly XYSeries[],
  spans: readonly (readonly [number, number])[],
  x0: number,
  x1: number,
  buckets: number,
): AlignedData {
  const width = (x1 - x0) / buckets;
  // Two display points per bucket, at its first and third quarter.
  const x: number[] = new Array(2 * buckets);
  for (let b = 0; b < buckets; b++) {
    x[2 * b] = x0 + (b + 0.25) * width;
    x[2 * b + 1] = x0 + (b + 0.75) * width;
  }
  const ys = series.map((s, k) => {
    const y: (number | null)[] = new Array(2 * buckets).fill(null);
    let i = spans[k][0];
    const end = spans[k][1];
    const bucketOf = (v: number): number => Math.min(buckets - 1, Math.floor((v - x0) / width));
    while (i < end) {
      const b = bucketOf(s.x[i]);
      let minV = Number.POSITIVE_INFINITY;
      let maxV = Number.NEGATIVE_INFINITY;
      let minAt = -1;
      let maxAt = -1;
      // Same formula for entering and leaving a bucket, so rounding can never stall the scan;
      // the last bucket is closed on the right so x1 itself lands in it.
      do {
        const v = s.y[i];
        if (!Number.isNaN(v)) {
          if (v < minV) {
            minV = v;
            minAt = i;
          }
          if (v > maxV) {
            maxV = v;
            maxAt = i;
          }
        }
        i++;
      } while (i < end && bucketOf(s.x[i]) === b);
      if (minAt < 0) continue;
      if (minAt === maxAt) y[2 * b] = minV;
      else if (minAt < maxAt) {
        y[2 * b] = minV;
        y[2 * b + 1] = maxV;
      } else {
        y[2 * b] = maxV;
        y[2 * b + 1] = minV;
      }
    }
    return y;
  });
  return { x, ys, decimated: true };
}

/** Trailing mean over `window` values (NaN values skipped), for runs written without `running/<key>`. */
export function trailingMean(y: ArrayLike<number>, window: number): Float32Array {
  const out = new Float32Array(y.length);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isNaN(v)) {
      sum += v;
      count++;
    }
    const old = i - window;
    if (old >= 0 && !Number.isNaN(y[old])) {
      sum -= y[old];
      count--;
    }
    out[i] = count > 0 ? sum / count : Number.NaN;
  }
  return out;
}
