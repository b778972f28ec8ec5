import "uplot/dist/uPlot.min.css";
import "./style.css";
import type {
  EvalGame,
  MetricsAppend,
  MetricsRow,
  ProblemMessage,
  RowsAppend,
  RunInfo,
  RunInit,
  SampleRow,
} from "../shared/protocol.js";
import { EVENTS } from "../shared/protocol.js";
import { RunData } from "../shared/run-data.js";
import { renderBoards, renderSamples } from "./boards.js";
import { Chart, type ChartSpec } from "./charts.js";
import { formatNumber, h, runColour } from "./format.js";
import {
  renderCriteria,
  renderEvalHint,
  renderMilestones,
  renderRunSummary,
  renderWarnings,
} from "./panels.js";

/**
 * The dashboard page: follows /api/events (server-sent events), keeps each run's data, and
 * redraws panels and charts at most a few times per second.
 */

const KEEP_SAMPLES = 64;
const SHOWN_SAMPLES = 8;
const KEEP_GAME_STEPS = 4;
/** Redraw at most every 250 ms, and leave the page at least 3/4 of its time for input when redraws are slow. */
const MIN_RENDER_INTERVAL_MS = 250;
const RENDER_BUSY_FRACTION = 0.25;

const BEHAVIOUR_CHARTS: ChartSpec[] = [
  { id: "format-rate", title: "Format rate", key: "behaviour/format_rate", smooth: true, rate: true },
  {
    id: "invalid-word-rate",
    title: "Invalid-word rate",
    key: "behaviour/invalid_word_rate",
    smooth: true,
    rate: true,
  },
  {
    id: "feedback-consistent-rate",
    title: "Feedback-consistent rate",
    key: "behaviour/feedback_consistent_rate",
    smooth: true,
    rate: true,
  },
  {
    id: "dead-letter-reuse",
    title: "Dead-letter reuse",
    key: "behaviour/dead_letter_reuse_rate",
    smooth: true,
    rate: true,
  },
  {
    id: "win-rate",
    title: "Guesses that won (training rollouts)",
    description:
      "behaviour/win_rate: the share of this step's training guesses that were the secret word. A guess is " +
      "one sampled completion with a 5-letter guess (one per prompt; in multi-turn runs, one per turn of " +
      "each game). Per guess, not per game: a game won on its 4th guess counts 1 win in 4 guesses. " +
      "Games won in multi-turn rollouts are games/win_rate (the console's `won`); held-out games are the " +
      "Evaluation panel's eval win rate.",
    key: "behaviour/win_rate",
    smooth: true,
    rate: true,
  },
];
const EVAL_CHARTS: ChartSpec[] = [
  {
    id: "eval-win-rate",
    title: "Eval win rate",
    description: "eval/win_rate: the share of the evaluation games (held-out secrets) won.",
    key: "eval/win_rate",
    eval: true,
    rate: true,
  },
  { id: "eval-mean-guesses", title: "Eval mean guesses (wins)", key: "eval/mean_guesses", eval: true },
  {
    id: "eval-invalid-rate",
    title: "Eval invalid-guess rate",
    key: "eval/invalid_rate",
    eval: true,
    rate: true,
  },
  { id: "eval-reward", title: "Eval reward", key: "eval/reward", eval: true },
];
const TRAINING_CHARTS: ChartSpec[] = [
  { id: "loss", title: "Loss", key: "loss" },
  { id: "kl", title: "KL to reference", key: "kl" },
  { id: "grad-norm", title: "Grad norm", key: "grad_norm" },
  { id: "entropy", title: "Entropy", key: "entropy" },
  { id: "step-time", title: "Step time (s)", key: "step_time" },
  { id: "zero-std", title: "Groups with zero reward std", key: "frac_reward_zero_std", rate: true },
  { id: "learning-rate", title: "Learning rate", key: "learning_rate" },
  { id: "completion-length", title: "Completion length (tokens)", key: "completions/mean_length" },
];

/** Keys some chart draws (directly or as a running mean): the only columns fetched in bulk. */
function isDrawnKey(key: string): boolean {
  const base = key.startsWith("running/") ? key.slice("running/".length) : key;
  return (
    base === "step" ||
    base === "reward" ||
    /^rewards\/.+\/mean$/.test(base) ||
    BEHAVIOUR_CHARTS.some((c) => c.key === base) ||
    TRAINING_CHARTS.some((c) => c.key === base)
  );
}

/** The total and per-function rewards and their running means: what the top charts draw. */
function isRewardKey(key: string): boolean {
  const base = key.startsWith("running/") ? key.slice("running/".length) : key;
  return base === "step" || base === "reward" || /^rewards\/.+\/mean$/.test(base);
}

/** Thresholds of the default criteria, drawn on the matching reward charts. */
function thresholdFor(key: string, runs: RunData[]): number | undefined {
  const alias = key === "reward" ? "total" : key.replace(/^rewards\/(.+)\/mean$/, "$1");
  for (const run of runs) {
    const criteria = run.latest?.criteria;
    if (!Array.isArray(criteria)) continue;
    for (const c of criteria as { expr?: string; threshold?: number }[]) {
      if (typeof c.expr === "string" && typeof c.threshold === "number" && c.expr.includes(`(${alias})`)) {
        return c.threshold;
      }
    }
  }
  return undefined;
}

class Dashboard {
  private runs: (RunData | null)[] = [];
  /** Events that arrived while a run's columns were still loading, replayed afterwards. */
  private queued = new Map<number, { event: string; data: unknown }[]>();
  /** Training rows the server had sent for each run (init count + appends): dedupes overlapping appends. */
  private serverRows = new Map<number, number>();
  private loadGeneration = new Map<number, number>();
  private charts = new Map<string, Chart>();
  private zoom: [number, number] | null = null;
  private selectedRun = 0;
  private boardStep: number | null = null;
  private renderPending = false;
  private lastRender = 0;
  private lastRenderMs = 0;
  private firstPaintDone = false;
  private connection: "connecting" | "live" | "reconnecting" = "connecting";

  private readonly host = {
    runs: () => this.readyRuns(),
    xRange: () => this.zoom,
    setXRange: (range: [number, number] | null) => {
      this.zoom = range;
      this.scheduleRender();
    },
    drawn: (chart: Chart) => {
      // First paint = the total-reward chart drawn with every run's data.
      if (this.firstPaintDone || chart.spec.id !== "reward") return;
      if (this.runs.length === 0 || this.runs.some((r) => r === null)) return;
      this.firstPaintDone = true;
      // Read by the end-to-end test: milliseconds from navigation start to data on screen.
      document.body.dataset.firstPaintMs = String(Math.round(performance.now()));
      const marks = performance.getEntriesByType("mark").map((m) => `${m.name} ${Math.round(m.startTime)}`);
      document.body.dataset.loadMarks = marks.join(", ");
    },
  };

  resetZoom(): void {
    this.host.setXRange(null);
  }

  start(): void {
    const source = new EventSource("api/events");
    source.onopen = () => {
      this.connection = "live";
      this.scheduleRender();
    };
    source.onerror = () => {
      this.connection = "reconnecting";
      this.scheduleRender();
    };
    const on = (event: string): void =>
      source.addEventListener(event, (e) => this.receive(event, JSON.parse((e as MessageEvent).data)));
    for (const event of Object.values(EVENTS)) on(event);
    new ResizeObserver(() => {
      for (const chart of this.charts.values()) chart.resize();
    }).observe(document.querySelector("main") as HTMLElement);
  }

  private readyRuns(): RunData[] {
    return this.runs.filter((r): r is RunData => r !== null);
  }

  private receive(event: string, data: unknown): void {
    if (event === EVENTS.init || event === EVENTS.reset) {
      void this.loadRun(data as RunInit);
      return;
    }
    const runId = (data as { runId: number }).runId;
    if (!this.runs[runId]) {
      const queue = this.queued.get(runId) ?? [];
      queue.push({ event, data });
      this.queued.set(runId, queue);
      return;
    }
    this.apply(event, data);
    this.scheduleRender();
  }

  /** Fetches a run's columns (binary float32) and replays whatever arrived meanwhile. */
  private async loadRun(init: RunInit): Promise<void> {
    const id = init.run.id;
    performance.mark(`init-${id}`);
    const generation = (this.loadGeneration.get(id) ?? 0) + 1;
    this.loadGeneration.set(id, generation);
    this.runs[id] = null;
    this.queued.set(id, []);
    // Two requests: the reward curves first (the first paint needs only those), then the rest.
    const drawn = init.keys.filter(isDrawnKey);
    const first = drawn.filter(isRewardKey);
    const rest = drawn.filter((key) => !isRewardKey(key));
    const fetchColumns = async (keys: string[]): Promise<ArrayBuffer> => {
      const indices = keys.map((key) => init.keys.indexOf(key)).join(",");
      const url = `api/runs/${id}/columns?rows=${init.rowCount}&keys=${indices}`;
      let response = await fetch(url);
      // The server sends a few column responses at a time and answers 503 beyond that (with many
      // runs overlaid, say): wait as it asks and try again.
      for (let retry = 0; response.status === 503 && retry < 20; retry++) {
        const waitS = Number(response.headers.get("retry-after")) || 1;
        await new Promise((done) => setTimeout(done, 1000 * waitS));
        response = await fetch(url);
      }
      if (!response.ok)
        throw new Error(`loading ${init.run.label}: HTTP ${response.status} ${await response.text()}`);
      return response.arrayBuffer();
    };
    const firstBinary = await fetchColumns(first);
    performance.mark(`columns-${id}`);
    if (this.loadGeneration.get(id) !== generation) return;
    const run = new RunData(init, first, firstBinary);
    this.runs[id] = run;
    this.serverRows.set(id, init.rowCount);
    for (const { event, data } of this.queued.get(id) ?? []) this.apply(event, data);
    this.queued.delete(id);
    this.scheduleRender();
    if (rest.length === 0) return;
    const restBinary = await fetchColumns(rest);
    if (this.loadGeneration.get(id) !== generation) return;
    run.addColumns(rest, restBinary, init.rowCount);
    performance.mark(`all-columns-${id}`);
    this.scheduleRender();
  }

  private apply(event: string, data: unknown): void {
    const runId = (data as { runId: number }).runId;
    const run = this.runs[runId];
    if (!run) return;
    switch (event) {
      case EVENTS.metrics: {
        const m = data as MetricsAppend;
        const seen = this.serverRows.get(runId) ?? 0;
        const fresh = m.rows.slice(Math.max(0, seen - m.start));
        run.append(fresh);
        this.serverRows.set(runId, Math.max(seen, m.start + m.rows.length));
        break;
      }
      case EVENTS.evalRows:
        run.addEvalRows((data as RowsAppend<MetricsRow>).rows);
        break;
      case EVENTS.samples:
        run.addSamples((data as RowsAppend<SampleRow>).rows, KEEP_SAMPLES);
        break;
      case EVENTS.games:
        run.addGames((data as RowsAppend<EvalGame>).rows, KEEP_GAME_STEPS);
        break;
      case EVENTS.config: {
        const c = data as { config: Record<string, unknown>; run: RunInfo };
        run.config = c.config;
        run.info = c.run;
        break;
      }
      case EVENTS.problem:
        run.problems = [...run.problems, (data as ProblemMessage).message].slice(-50);
        break;
    }
  }

  private scheduleRender(): void {
    if (this.renderPending) return;
    this.renderPending = true;
    const interval = Math.max(MIN_RENDER_INTERVAL_MS, this.lastRenderMs / RENDER_BUSY_FRACTION);
    // Until the data is first on screen, draw as soon as possible.
    const wait = this.firstPaintDone ? Math.max(0, this.lastRender + interval - performance.now()) : 0;
    setTimeout(
      () =>
        requestAnimationFrame(() => {
          this.renderPending = false;
          this.lastRender = performance.now();
          this.render();
        }),
      wait,
    );
  }

  private chartsFor(groupId: string, specs: ChartSpec[]): void {
    const grid = document.getElementById(groupId) as HTMLElement;
    const wanted = specs.map((spec) => {
      let chart = this.charts.get(spec.id);
      if (!chart || JSON.stringify(chart.spec) !== JSON.stringify(spec)) {
        chart?.element.remove();
        chart = new Chart(spec, this.host);
        this.charts.set(spec.id, chart);
      }
      return chart;
    });
    // Keep DOM order equal to spec order without re-attaching charts that are already in place.
    wanted.forEach((chart, i) => {
      if (grid.children[i] !== chart.element) {
        grid.insertBefore(chart.element, grid.children[i] ?? null);
        chart.observe();
      }
    });
    for (const chart of wanted) chart.render();
  }

  private rewardCharts(runs: RunData[]): ChartSpec[] {
    const names = new Set<string>();
    for (const run of runs) {
      for (const key of run.keyNames()) {
        const m = /^rewards\/(.+)\/mean$/.exec(key);
        if (m) names.add(m[1]);
      }
    }
    return [
      {
        id: "reward",
        title: "Total reward",
        key: "reward",
        smooth: true,
        threshold: thresholdFor("reward", runs),
      },
      ...[...names].map((name) => ({
        id: `reward-${name}`,
        title: `Reward: ${name}`,
        key: `rewards/${name}/mean`,
        smooth: true,
        threshold: thresholdFor(`rewards/${name}/mean`, runs),
      })),
    ];
  }

  private render(): void {
    const started = performance.now();
    this.renderInner();
    this.lastRenderMs = performance.now() - started;
    // Exposed for the end-to-end test's report: how long one full redraw takes.
    document.body.dataset.lastRenderMs = String(Math.round(this.lastRenderMs));
  }

  private renderInner(): void {
    const runs = this.readyRuns();
    const set = (id: string, content: Node | null): void => {
      const el = document.getElementById(id) as HTMLElement;
      el.replaceChildren(...(content ? [content] : []));
    };
    const status = document.getElementById("connection") as HTMLElement;
    status.textContent = this.connection;
    status.className = `connection ${this.connection}`;
    if (runs.length === 0) return;
    set("summary", renderRunSummary(runs));
    set("criteria", renderCriteria(runs));
    set("milestones", renderMilestones(runs));
    set("warnings", renderWarnings(runs));
    set("eval-hint", renderEvalHint(runs));
    const zoomNote = document.getElementById("zoom") as HTMLElement;
    zoomNote.hidden = this.zoom === null;
    if (this.zoom) {
      (zoomNote.querySelector(".range") as HTMLElement).textContent =
        `steps ${formatNumber(this.zoom[0])} – ${formatNumber(this.zoom[1])}`;
    }
    this.chartsFor("charts-rewards", this.rewardCharts(runs));
    this.chartsFor("charts-behaviour", BEHAVIOUR_CHARTS);
    this.chartsFor("charts-eval", EVAL_CHARTS);
    this.chartsFor("charts-training", TRAINING_CHARTS);
    this.selectedRun = Math.min(this.selectedRun, runs.length - 1);
    const tabs = runs.length < 2 ? null : this.runTabs(runs);
    set("boards-tabs", tabs);
    set("samples-tabs", tabs ? this.runTabs(runs) : null);
    set(
      "boards",
      renderBoards(runs[this.selectedRun], this.boardStep, (step) => {
        this.boardStep = step;
        this.scheduleRender();
      }),
    );
    set("samples", renderSamples(runs[this.selectedRun], SHOWN_SAMPLES));
  }

  private runTabs(runs: RunData[]): HTMLElement {
    return h(
      "div",
      { class: "run-tabs" },
      ...runs.map((run, r) => {
        const button = h(
          "button",
          { type: "button", class: r === this.selectedRun ? "active" : "" },
          h("span", { class: "swatch", style: `background:${runColour(run.info.id)}` }),
          run.label,
        );
        button.addEventListener("click", () => {
          this.selectedRun = r;
          this.boardStep = null;
          this.scheduleRender();
        });
        return button;
      }),
    );
  }
}

const dashboard = new Dashboard();
(document.getElementById("zoom-reset") as HTMLElement).addEventListener("click", () => dashboard.resetZoom());
dashboard.start();
