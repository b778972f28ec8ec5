import uPlot from "uplot";
import { alignForDisplay, trailingMean, type XYSeries } from "../shared/decimate.js";
import type { RunData } from "../shared/run-data.js";
import { formatNumber, formatPercent, h, runColour, withAlpha } from "./format.js";
import { formatPercentTicks, formatTicks } from "./labels.js";

/** What one chart plots, for every run. */
export interface ChartSpec {
  id: string;
  title: string;
  /** Metric key in training rows, or in eval rows when `eval` is set. */
  key: string;
  /** Also draw the running mean (`running/<key>` when logged, else a trailing mean computed here). */
  smooth?: boolean;
  /** Values are fractions in [0, 1]: fixed axis, shown as percentages. */
  rate?: boolean;
  eval?: boolean;
  /** Draw a dashed horizontal line, e.g. a success-criterion threshold. */
  threshold?: number;
  /** What the chart measures, in a sentence: the title's tooltip (and a "?" mark after it). */
  description?: string;
}

/** Trailing window for runs that were written without the monitor's `running/<key>` fields. */
const FALLBACK_WINDOW = 50;
const HEIGHT = 170;

/**
 * The y range: the data with 10% padding, widened to include a criterion's threshold (so "above
 * the dashed line" can be read at once), and a unit-wide band around a constant series (uPlot
 * would otherwise show 0..100 for a run whose reward is still all zeros).
 */
function yRange(min: number | null, max: number | null, threshold: number | undefined): uPlot.Range.MinMax {
  let lo = min ?? threshold ?? 0;
  let hi = max ?? threshold ?? 1;
  if (threshold !== undefined) {
    lo = Math.min(lo, threshold);
    hi = Math.max(hi, threshold);
  }
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  return uPlot.rangeNum(lo, hi, 0.1, true);
}

export interface ChartHost {
  runs(): RunData[];
  /** Called after every draw (the page uses it to time its first paint). */
  drawn(chart: Chart): void;
  xRange(): [number, number] | null;
  setXRange(range: [number, number] | null): void;
}

/**
 * One uPlot chart that overlays all runs (one colour per run; the raw series faint, the running
 * mean solid) and redraws from the run columns, decimated to the pixels it has.
 */
export class Chart {
  readonly element: HTMLElement;
  private plot: uPlot | null = null;
  /** Which runs (ids and labels) the plot's series were made for; a change rebuilds the plot. */
  private plotRuns = "";
  private readonly body: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly meanCache = new Map<string, { version: number; mean: Float32Array }>();

  constructor(
    readonly spec: ChartSpec,
    private readonly host: ChartHost,
  ) {
    this.element = document.createElement("section");
    this.element.className = "chart";
    this.element.id = `chart-${spec.id}`;
    const title = document.createElement("h3");
    title.textContent = spec.title;
    if (spec.description) {
      title.title = spec.description;
      const mark = document.createElement("span");
      mark.className = "chart-help";
      mark.textContent = "?";
      mark.setAttribute("aria-label", spec.description);
      title.append(mark);
    }
    // Values under the cursor (the uPlot legend would repeat every series under every chart).
    this.readout = document.createElement("span");
    this.readout.className = "readout";
    title.append(this.readout);
    this.body = document.createElement("div");
    this.body.className = "chart-body";
    this.element.append(title, this.body);
  }

  /**
   * Charts scrolled out of view skip their redraws and catch up when they come back into view, so
   * a page of twenty charts over 100,000 rows costs only what is on screen.
   */
  private onScreen = false;
  private stale = true;
  private static readonly observer =
    typeof IntersectionObserver === "undefined"
      ? null
      : new IntersectionObserver(
          (entries) => {
            for (const entry of entries) {
              const chart = Chart.byElement.get(entry.target);
              if (!chart) continue;
              chart.onScreen = entry.isIntersecting;
              if (chart.onScreen && chart.stale) chart.render();
            }
          },
          { rootMargin: "200px 0px" },
        );
  private static readonly byElement = new WeakMap<Element, Chart>();

  /** Starts drawing when the chart is (nearly) on screen; call once it is in the document. */
  observe(): void {
    if (!Chart.observer) {
      this.onScreen = true;
      return;
    }
    Chart.byElement.set(this.element, this);
    Chart.observer.observe(this.element);
    // Decide now rather than a frame later, so the first paint does not wait for the observer.
    const box = this.element.getBoundingClientRect();
    this.onScreen = box.bottom > -200 && box.top < window.innerHeight + 200;
  }

  /** Rebuilds the plotted data (cheap: one pass over the visible points of each series). */
  render(): void {
    if (!this.onScreen) {
      this.stale = true;
      return;
    }
    this.stale = false;
    const runs = this.host.runs();
    const width = Math.max(200, this.body.clientWidth);
    const runKey = runs.map((r) => `${r.info.id}:${r.label}`).join("|");
    if (!this.plot || this.plotRuns !== runKey) this.createPlot(runs, width, runKey);
    const plot = this.plot as uPlot;
    const series = this.collectSeries(runs);
    // One bucket per plot pixel; the axes take about 60 px.
    const aligned = alignForDisplay(series, width - 60, this.host.xRange());
    plot.setData([aligned.x, ...aligned.ys] as uPlot.AlignedData);
    this.element.dataset.points = String(aligned.x.length);
    this.element.dataset.decimated = String(aligned.decimated);
    const last = runs.map((r) => (this.spec.eval ? (r.evalRows.at(-1)?.step ?? 0) : r.lastStep));
    this.element.dataset.lastStep = String(Math.max(0, ...last));
    this.host.drawn(this);
  }

  resize(): void {
    if (this.plot) this.plot.setSize({ width: Math.max(200, this.body.clientWidth), height: HEIGHT });
  }

  /** "step 1,230 · run-a 1.52 · run-b 1.17": the running mean when drawn, else the raw value. */
  private showReadout(u: uPlot, runs: RunData[]): void {
    const i = u.cursor.idx;
    if (i == null || u.data[0].length === 0) {
      this.readout.replaceChildren();
      return;
    }
    const format = this.spec.rate ? formatPercent : formatNumber;
    const perRun = this.spec.smooth ? 2 : 1;
    const parts: HTMLElement[] = [h("span", {}, `step ${formatNumber(u.data[0][i])}`)];
    runs.forEach((run, r) => {
      const column = u.data[1 + r * perRun + perRun - 1];
      const value = column?.[i];
      parts.push(
        h("span", { style: `color:${runColour(run.info.id)}` }, `${run.label} ${format(value ?? null)}`),
      );
    });
    this.readout.replaceChildren(...parts);
  }

  private collectSeries(runs: RunData[]): XYSeries[] {
    const out: XYSeries[] = [];
    for (const run of runs) {
      if (this.spec.eval) {
        const rows = run.evalRows.filter((r) => typeof r[this.spec.key] === "number");
        out.push({ x: rows.map((r) => r.step), y: rows.map((r) => r[this.spec.key] as number) });
        continue;
      }
      const x = run.steps;
      const y = run.column(this.spec.key) ?? new Float32Array(x.length).fill(Number.NaN);
      out.push({ x, y });
      if (this.spec.smooth) out.push({ x, y: this.runningMean(run, y) });
    }
    return out;
  }

  private runningMean(run: RunData, raw: Float32Array): Float32Array {
    const logged = run.column(`running/${this.spec.key}`);
    if (logged) return logged;
    const cacheKey = String(run.info.id);
    const cached = this.meanCache.get(cacheKey);
    if (cached && cached.version === run.version) return cached.mean;
    const mean = trailingMean(raw, FALLBACK_WINDOW);
    this.meanCache.set(cacheKey, { version: run.version, mean });
    return mean;
  }

  private createPlot(runs: RunData[], width: number, runKey: string): void {
    this.plot?.destroy();
    const spec = this.spec;
    const format = spec.rate ? formatPercent : formatNumber;
    const threshold = spec.threshold;
    const series: uPlot.Series[] = [{ label: "step", value: (_u, v) => (v == null ? "–" : formatNumber(v)) }];
    runs.forEach((run) => {
      const colour = runColour(run.info.id);
      const value = (_u: uPlot, v: number | null): string => (v == null ? "–" : format(v));
      if (spec.smooth) {
        series.push({
          label: `${run.label} raw`,
          stroke: withAlpha(colour, 0.3),
          width: 1,
          spanGaps: true,
          value,
        });
        series.push({ label: `${run.label} mean`, stroke: colour, width: 2, spanGaps: true, value });
      } else {
        series.push({
          label: run.label,
          stroke: colour,
          width: spec.eval ? 2 : 1.25,
          spanGaps: true,
          value,
          points: { show: spec.eval === true, size: 5, fill: colour },
        });
      }
    });
    const options: uPlot.Options = {
      width,
      height: HEIGHT,
      series,
      legend: { show: false },
      scales: {
        x: { time: false },
        y: spec.rate ? { range: [0, 1] } : { range: (_u, min, max) => yRange(min, max, threshold) },
      },
      axes: [
        { stroke: "#5b6270", grid: { stroke: "#eceef2" }, ticks: { stroke: "#d5d9e0" }, size: 30 },
        {
          stroke: "#5b6270",
          grid: { stroke: "#eceef2" },
          ticks: { stroke: "#d5d9e0" },
          size: 58,
          // Enough decimals for the tick spacing (a 6.9-7.5 range must not read "7" on every tick).
          values: (_u, ticks, _axis, _space, increment) =>
            spec.rate ? formatPercentTicks(ticks, increment) : formatTicks(ticks, increment),
        },
      ],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setCursor: [(u) => this.showReadout(u, runs)],
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.host.setXRange([a, b]);
          },
        ],
        draw:
          threshold === undefined
            ? []
            : [
                (u) => {
                  // Dashed line at the criterion's threshold, so "above the line" reads as "met".
                  const y = u.valToPos(threshold, "y", true);
                  if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
                  const ctx = u.ctx;
                  ctx.save();
                  ctx.strokeStyle = "#b23b3b";
                  ctx.setLineDash([6, 4]);
                  ctx.lineWidth = 1;
                  ctx.beginPath();
                  ctx.moveTo(u.bbox.left, y);
                  ctx.lineTo(u.bbox.left + u.bbox.width, y);
                  ctx.stroke();
                  ctx.restore();
                },
              ],
      },
    };
    this.plot = new uPlot(options, [[]], this.body);
    this.plotRuns = runKey;
    // Double-click anywhere on a chart resets the zoom of all charts.
    this.plot.over.addEventListener("dblclick", () => this.host.setXRange(null));
  }
}
