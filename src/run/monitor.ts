import {
  conjuncts,
  type Expr,
  evaluate,
  formatExpression,
  leftValue,
  type MetricSource,
  parseExpression,
} from "./expression.js";
import { metricAliases } from "./metric-names.js";
import type { MilestoneConfig, PlateauConfig } from "./monitor-config.js";
import { RollingWindow } from "./rolling-window.js";
import type { CriterionStatus, MilestoneState, MilestoneStatus } from "./row-types.js";

/**
 * The training monitor: at every logged step it answers "is this run working?" and writes the
 * answer into the metrics row (docs/run-files.md, "Monitor fields"):
 *
 * - `running/<key>`: trailing mean of every numeric metric over the last running_mean_window rows;
 * - success criteria (each top-level AND part tracked on its own), whether all hold now, the first
 *   step they all held, and the first checkpoint saved while they held (the plan's "earliest
 *   useful checkpoint");
 * - milestones, each decided once at the first logged step at or after its step;
 * - plateau: the running total gained no more than plateau.min_gain over plateau.window steps;
 * - ETA from the running step time, and warnings (zero-variance groups, plateau, non-finite loss).
 *
 * Everything is a pure function of the rows seen, in order, so `replay(rows)` of a truncated
 * metrics.jsonl restores the exact state on resume.
 */

export type { CriterionStatus, MilestoneState, MilestoneStatus } from "./row-types.js";

export interface MonitorFields {
  [running: `running/${string}`]: number;
  criteria_met: boolean;
  criteria_first_step: number | null;
  /** First checkpoint step saved while every criterion held (null until there is one). */
  criteria_checkpoint_step: number | null;
  criteria: CriterionStatus[];
  milestones: MilestoneStatus[];
  plateau: boolean;
  plateau_gain: number | null;
  /** plateau and plateau.early_stop: the trainer should save and stop. */
  plateau_stop: boolean;
  eta_seconds: number | null;
  warnings: string[];
}

/** Keys the monitor writes; never averaged or treated as metrics when rows are replayed. */
export const MONITOR_KEYS: ReadonlySet<string> = new Set([
  "criteria_met",
  "criteria_first_step",
  "criteria_checkpoint_step",
  "criteria",
  "milestones",
  "plateau",
  "plateau_gain",
  "plateau_stop",
  "eta_seconds",
  "warnings",
]);
/** Counters, not measurements: no running mean. */
const NOT_AVERAGED = new Set(["step", "epoch"]);

export interface MonitorOptions {
  successCriteria: readonly string[];
  milestones: readonly MilestoneConfig[];
  runningMeanWindow: number;
  plateau: PlateauConfig;
  /** Names of the reward functions (for aliases such as `feedback`). */
  rewardFunctions: readonly string[];
  /** Steps the run will take (for the ETA and the status line). */
  totalSteps: number;
  /** Checkpoints are saved at multiples of this. */
  saveSteps: number;
  /** Warn when at least this fraction of groups have zero reward std (default 0.5). */
  zeroStdWarnFraction?: number;
}

interface Criterion {
  text: string;
  expr: Expr;
  firstStep: number | null;
}

interface Milestone {
  config: MilestoneConfig;
  expr: Expr;
  status: MilestoneState;
  value: number | null;
}

const isEvalRow = (row: Record<string, unknown>) =>
  Object.keys(row).some((k) => k.startsWith("eval/")) &&
  Object.keys(row).every((k) => k === "step" || k.startsWith("eval/"));

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export class Monitor {
  private readonly names: Map<string, string>;
  private readonly criteria: Criterion[];
  private readonly milestones: Milestone[];
  private readonly plateauKey: string;
  private readonly train: RollingWindow;
  private readonly evals: RollingWindow;
  private readonly latestValues = new Map<string, number>();
  /** (step, running plateau metric) pairs, oldest first, pruned to what the window needs. */
  private plateauHistory: Array<{ step: number; value: number }> = [];
  private lastStep: number | null = null;
  private lastAllMet = false;
  private allMetFirstStep: number | null = null;
  private criteriaCheckpoint: number | null = null;

  constructor(private readonly options: MonitorOptions) {
    this.names = metricAliases(options.rewardFunctions);
    this.criteria = options.successCriteria.flatMap((source, i) => {
      const parts = conjuncts(parseExpression(source, this.names, { label: `success_criteria[${i}]` }));
      return parts.map((expr) => ({
        text: parts.length === 1 ? source : formatExpression(expr),
        expr,
        firstStep: null,
      }));
    });
    this.milestones = options.milestones.map((config, i) => ({
      config,
      expr: parseExpression(config.expect, this.names, { label: `milestones[${i}].expect` }),
      status: "pending" as MilestoneState,
      value: null,
    }));
    const plateauKey = this.names.get(options.plateau.metric);
    if (plateauKey === undefined)
      throw new Error(`plateau.metric: unknown metric \`${options.plateau.metric}\``);
    this.plateauKey = plateauKey;
    this.train = new RollingWindow(options.runningMeanWindow);
    this.evals = new RollingWindow(options.runningMeanWindow);
  }

  /** The metric reader expressions use: latest values and running means (eval keys over eval rows). */
  private readonly source: MetricSource = {
    latest: (key) => this.latestValues.get(key),
    runningMean: (key) => (key.startsWith("eval/") ? this.evals.mean(key) : this.train.mean(key)),
  };

  /** Record an eval row (all keys `eval/...`): it feeds criteria that read eval metrics. */
  observeEval(row: Record<string, unknown>): void {
    const values = this.numericMetrics(row);
    for (const [key, value] of Object.entries(values)) this.latestValues.set(key, value);
    this.evals.push(values);
  }

  /** Record a training row and return the fields to add to it before it is written. */
  observe(row: Record<string, unknown>): MonitorFields {
    const step = row.step;
    if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
      throw new Error(`monitor: a metrics row needs an integer step >= 0, got ${JSON.stringify(step)}`);
    }
    if (this.lastStep !== null && step <= this.lastStep) {
      throw new Error(`monitor: steps must increase (got ${step} after ${this.lastStep})`);
    }
    const values = this.numericMetrics(row);
    for (const [key, value] of Object.entries(values)) this.latestValues.set(key, value);
    this.train.push(values);

    const running: Record<`running/${string}`, number> = {};
    for (const key of this.train.keys()) {
      const mean = this.train.mean(key);
      if (mean !== undefined) running[`running/${key}`] = mean;
    }

    // Success criteria, each part on its own, then all together.
    const criteria = this.criteria.map((c) => {
      const met = evaluate(c.expr, this.source) === true;
      if (met && c.firstStep === null) c.firstStep = step;
      return this.criterionStatus(c, met);
    });
    const allMet = criteria.length > 0 && criteria.every((c) => c.met);
    if (allMet && this.allMetFirstStep === null) this.allMetFirstStep = step;
    // Checkpoints saved since the previous row: each holds the state of the latest row at or before it.
    if (this.criteriaCheckpoint === null) {
      const save = this.options.saveSteps;
      const from = this.lastStep === null ? 1 : this.lastStep + 1;
      for (let c = Math.ceil(from / save) * save; c <= step; c += save) {
        const metAtC = c === step ? allMet : this.lastAllMet;
        if (metAtC) {
          this.criteriaCheckpoint = c;
          break;
        }
      }
    }

    // Milestones: decided once, at the first logged step at or after their step.
    const warnings: string[] = [];
    for (const m of this.milestones) {
      if (m.status !== "pending" || step < m.config.step) continue;
      m.status = evaluate(m.expr, this.source) === true ? "pass" : "fail";
      m.value = leftValue(m.expr, this.source) ?? null;
      if (m.status === "fail") {
        warnings.push(`milestone "${this.milestoneLabel(m)}" (step ${m.config.step}) failed at step ${step}`);
      }
    }

    // Plateau: gain of the running metric over the last plateau.window steps.
    const { window, min_gain, early_stop } = this.options.plateau;
    const now = this.source.runningMean(this.plateauKey);
    let gain: number | null = null;
    if (now !== undefined) {
      const before = this.plateauHistory.filter((h) => h.step <= step - window).at(-1);
      if (before !== undefined) gain = now - before.value;
      this.plateauHistory.push({ step, value: now });
      // Keep one entry at or before the oldest step a future window can reach back to.
      const keepFrom = this.plateauHistory.findLastIndex((h) => h.step <= step - window);
      if (keepFrom > 0) this.plateauHistory = this.plateauHistory.slice(keepFrom);
    }
    const plateau = gain !== null && gain <= min_gain;
    if (plateau) {
      warnings.push(
        `plateau: ${this.options.plateau.metric} (running mean) gained ${gain!.toFixed(3)} over the last ${window} steps ` +
          `(needs > ${min_gain})${early_stop ? "; stopping early" : ""}`,
      );
    }

    const zeroStd = values.frac_reward_zero_std;
    const zeroStdLimit = this.options.zeroStdWarnFraction ?? 0.5;
    if (zeroStd !== undefined && zeroStd >= zeroStdLimit) {
      warnings.push(
        `${Math.round(zeroStd * 100)}% of groups have zero reward std (no learning signal): ` +
          `raise num_generations or make the reward finer-grained`,
      );
    }
    if ("loss" in row && !finite(row.loss))
      warnings.push(`loss is ${row.loss === null ? "null/NaN" : String(row.loss)}`);

    const stepTime = this.train.mean("step_time");
    const eta = stepTime === undefined ? null : Math.max(0, this.options.totalSteps - step) * stepTime;

    this.lastStep = step;
    this.lastAllMet = allMet;
    return {
      ...running,
      criteria_met: allMet,
      criteria_first_step: this.allMetFirstStep,
      criteria_checkpoint_step: this.criteriaCheckpoint,
      criteria,
      milestones: this.milestones.map((m) => ({
        step: m.config.step,
        label: this.milestoneLabel(m),
        expect: m.config.expect,
        status: m.status,
        value: m.value,
      })),
      plateau,
      plateau_gain: gain,
      plateau_stop: plateau && early_stop,
      eta_seconds: eta,
      warnings,
    };
  }

  /** Feed rows of an existing metrics.jsonl (e.g. on resume) to rebuild the state exactly. */
  replay(rows: Iterable<Record<string, unknown>>): void {
    for (const row of rows) {
      if (isEvalRow(row)) this.observeEval(row);
      else this.observe(row);
    }
  }

  /** One console line: progress, speed, ETA, running rewards, criteria, warnings. */
  statusLine(row: Record<string, unknown>, fields: MonitorFields): string {
    const step = Number(row.step);
    const total = this.options.totalSteps;
    const parts = [`step ${step}/${total}`];
    const stepTime = fields["running/step_time"];
    if (stepTime !== undefined) parts.push(`${stepTime.toFixed(2)} s/step`);
    if (fields.eta_seconds !== null) parts.push(`ETA ${formatEta(fields.eta_seconds)}`);
    const r = (key: string) => fields[`running/${key}`];
    const rewards = [`total ${fmt(r("reward"))}`];
    if (r("games/win_rate") !== undefined) {
      // multi_turn: the sampled games themselves say more than the return's parts (and, for the
      // branch rollout, the greedy games: what evaluation will measure).
      const greedy = r("games/greedy_win_rate");
      rewards.push(
        `${greedy === undefined ? "" : `greedy won ${fmt(greedy)} `}won ${fmt(r("games/win_rate"))} invalid ${fmt(r("games/invalid_rate"))} consistent ${fmt(r("rewards/consistent/mean"))}`,
      );
    } else {
      for (const fn of this.options.rewardFunctions) rewards.push(`${fn} ${fmt(r(`rewards/${fn}/mean`))}`);
    }
    parts.push(rewards.join(" "));
    if (fields.criteria.length > 0) {
      const met = fields.criteria.filter((c) => c.met).length;
      parts.push(
        `criteria ${met}/${fields.criteria.length}${fields.criteria_met ? " MET" : ""}` +
          (fields.criteria_first_step !== null ? ` (first at ${fields.criteria_first_step})` : ""),
      );
    }
    const decided = fields.milestones.filter((m) => m.status !== "pending");
    if (decided.length > 0) {
      parts.push(`milestones ${decided.filter((m) => m.status === "pass").length}/${decided.length} passed`);
    }
    if (fields.plateau) parts.push("PLATEAU");
    if (fields.warnings.some((w) => w.includes("zero reward std"))) parts.push("ZERO-STD");
    return parts.join(" | ");
  }

  private criterionStatus(c: Criterion, met: boolean): CriterionStatus {
    const isCompare = c.expr.kind === "compare";
    const threshold = isCompare ? evaluate((c.expr as { right: Expr }).right, this.source) : undefined;
    return {
      expr: c.text,
      value: leftValue(c.expr, this.source) ?? null,
      op: isCompare ? (c.expr as { op: string }).op : null,
      threshold: typeof threshold === "number" ? threshold : null,
      met,
      first_step: c.firstStep,
    };
  }

  private milestoneLabel(m: Milestone): string {
    return m.config.label ?? m.config.expect;
  }

  /** Numeric measurements of a row: finite numbers, not step/epoch, not the monitor's own fields. */
  private numericMetrics(row: Record<string, unknown>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(row)) {
      if (NOT_AVERAGED.has(key) || MONITOR_KEYS.has(key) || key.startsWith("running/")) continue;
      if (finite(value)) out[key] = value;
    }
    return out;
  }
}

const fmt = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2));

function formatEta(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}
