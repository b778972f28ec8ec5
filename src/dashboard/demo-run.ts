import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BEHAVIOUR_METRIC_KEYS } from "../run/metric-names.js";
import { patternCode } from "../wordle/score.js";
import { loadWordLists } from "../wordle/words.js";
import type { Criterion, EvalGame, GuessRecord, Milestone, SampleRow } from "./shared/protocol.js";

/**
 * Writes a realistic, synthetic run directory (config.json, metrics.jsonl with the DESIGN.md keys
 * and the monitor's fields, samples.jsonl, eval rows and eval-games.jsonl) in the format of
 * docs/run-files.md. The dashboard is developed and tested against it, and `wordle-grpo dashboard
 * --demo` shows it live. The curves follow the shape of a GRPO Wordle run (format learned first,
 * feedback use later) with seeded noise; the eval games are real Wordle games scored exactly.
 */

export interface DemoRunOptions {
  runName?: string;
  maxSteps?: number;
  loggingSteps?: number;
  evalSteps?: number;
  gamesPerEval?: number;
  seed?: number;
  /** >1 learns faster, <1 slower; lets two demo runs differ visibly when overlaid. */
  learningSpeed?: number;
  /** Mean seconds per step written as `step_time`. */
  stepSeconds?: number;
}

const REWARD_NAMES = ["format", "feedback", "info_gain"] as const;
const OPENERS = ["crane", "slate", "raise", "adieu", "stare", "roate"];

/** mulberry32: a tiny seeded generator, so the same options always write the same files. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/** "c"/"p"/"a" per position from a base-3 pattern code (digit i = position i). */
export function feedbackString(code: number): string {
  let out = "";
  for (let i = 0; i < 5; i++) {
    out += "apc"[code % 3];
    code = Math.floor(code / 3);
  }
  return out;
}

/** Trailing mean over the last `window` values pushed, in O(1) per push. */
class TrailingMean {
  private values: number[] = [];
  private sum = 0;
  constructor(private readonly window: number) {}
  push(x: number): number {
    this.values.push(x);
    this.sum += x;
    if (this.values.length > this.window) this.sum -= this.values.shift() as number;
    return this.sum / this.values.length;
  }
}

interface CriterionSpec {
  expr: string;
  key: string;
  op: ">" | ">=";
  threshold: number;
}

interface MilestoneSpec {
  step: number;
  label: string;
  expect: string;
  key: string;
  threshold: number;
}

export class DemoRun {
  readonly dir: string;
  readonly options: Required<DemoRunOptions>;
  /** The last step written (0 before any). */
  step = 0;
  private readonly random: () => number;
  private readonly answers: string[];
  private readonly running = new Map<string, TrailingMean>();
  private readonly criteria: CriterionSpec[];
  private readonly milestones: MilestoneSpec[];
  private readonly criterionFirst = new Map<string, number>();
  private readonly milestoneResult = new Map<number, { status: "pass" | "fail"; value: number }>();
  private allCriteriaFirst: number | null = null;
  private readonly runningTotals: { step: number; value: number }[] = [];
  private readonly stepTimes = new TrailingMean(20);
  private lastEvalWinRate: number | null = null;

  constructor(dir: string, options: DemoRunOptions = {}) {
    this.dir = dir;
    this.options = {
      runName: options.runName ?? "demo",
      maxSteps: options.maxSteps ?? 2100,
      loggingSteps: options.loggingSteps ?? 10,
      evalSteps: options.evalSteps ?? 100,
      gamesPerEval: options.gamesPerEval ?? 12,
      seed: options.seed ?? 1,
      learningSpeed: options.learningSpeed ?? 1,
      stepSeconds: options.stepSeconds ?? 8.5,
    };
    this.random = rng(this.options.seed);
    this.answers = loadWordLists().answers;
    this.criteria = [
      { expr: "running_mean(total) > 1.5", key: "running/reward", op: ">", threshold: 1.5 },
      { expr: "running_mean(feedback) > 0", key: "running/rewards/feedback/mean", op: ">", threshold: 0 },
    ];
    // The training plan's milestones (500/1000/1500/2100 of 2100 steps), scaled to max_steps.
    const at = (s: number): number => Math.max(1, Math.round((s / 2100) * this.options.maxSteps));
    this.milestones = [
      {
        step: at(500),
        label: "format rate >= 90%",
        expect: "behaviour/format_rate >= 0.9",
        key: "behaviour/format_rate",
        threshold: 0.9,
      },
      {
        step: at(1000),
        label: "feedback reward > 0",
        expect: "running_mean(feedback) > 0",
        key: "running/rewards/feedback/mean",
        threshold: 0,
      },
      {
        step: at(1500),
        label: "total reward > 1.5",
        expect: "running_mean(total) > 1.5",
        key: "running/reward",
        threshold: 1.5,
      },
      {
        step: at(2100),
        label: "eval win rate >= 50%",
        expect: "eval/win_rate >= 0.5",
        key: "eval",
        threshold: 0.5,
      },
    ];
  }

  /** Creates the directory and writes config.json (empty metrics files are not created: readers must cope). */
  writeConfig(): void {
    mkdirSync(this.dir, { recursive: true });
    const o = this.options;
    const config = {
      run_name: o.runName,
      model: "models/wordle-tiny",
      reward_preset: "seed",
      max_steps: o.maxSteps,
      logging_steps: o.loggingSteps,
      eval_steps: o.evalSteps,
      save_steps: o.evalSteps,
      save_total_limit: 10,
      per_device_train_batch_size: 2,
      num_generations: 2,
      max_completion_length: 128,
      learning_rate: 1e-5,
      beta: 0.1,
      epsilon: 0.2,
      loss_type: "dapo",
      scale_rewards: "none",
      running_mean_window: 50,
      plateau_window: 300,
      seed: o.seed,
      success_criteria: this.criteria.map((c) => c.expr),
      milestones: this.milestones.map((m) => ({ step: m.step, label: m.label, expect: m.expect })),
    };
    writeFileSync(join(this.dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Appends the next `count` logged steps (with evals and samples when due) to the run files. */
  appendSteps(count: number): void {
    let metrics = "";
    let samples = "";
    let games = "";
    for (let i = 0; i < count && this.step < this.options.maxSteps; i++) {
      this.step = Math.min(this.options.maxSteps, this.step + this.options.loggingSteps);
      // Evaluate first so an eval milestone due at this step is decided in this step's row.
      let evalRow: Record<string, unknown> | null = null;
      if (this.step % this.options.evalSteps === 0 || this.step === this.options.maxSteps) {
        const evalGames = this.evalGames(this.step);
        evalRow = this.evalRow(this.step, evalGames);
        this.lastEvalWinRate = evalRow["eval/win_rate"] as number;
        for (const g of evalGames) games += `${JSON.stringify(g)}\n`;
      }
      const row = this.trainingRow(this.step);
      metrics += `${JSON.stringify(row)}\n`;
      if (evalRow) metrics += `${JSON.stringify(evalRow)}\n`;
      for (const s of this.samples(this.step, row)) samples += `${JSON.stringify(s)}\n`;
    }
    // One write per file per call: a reader never sees half a batch except a half last line.
    if (games) appendFileSync(join(this.dir, "eval-games.jsonl"), games);
    if (samples) appendFileSync(join(this.dir, "samples.jsonl"), samples);
    if (metrics) appendFileSync(join(this.dir, "metrics.jsonl"), metrics);
  }

  private noise(scale: number): number {
    // Sum of uniforms: roughly Gaussian, bounded.
    return (this.random() + this.random() + this.random() - 1.5) * scale;
  }

  /** Training progress in [0, 1], sped up or slowed down by `learningSpeed`. */
  private progress(step: number): number {
    return clamp((step / this.options.maxSteps) * this.options.learningSpeed, 0, 1.5);
  }

  private trainingRow(step: number): Record<string, unknown> {
    const o = this.options;
    const p = this.progress(step);
    const format = clamp(0.8 - 0.75 * Math.exp(-p / 0.1) + this.noise(0.25), -1.5, 0.8);
    const feedback = clamp(-0.5 + 1.0 * sigmoid((p - 0.42) / 0.1) + this.noise(0.6), -1.2, 1.2);
    const infoGain = clamp(0.15 + 0.45 * (1 - Math.exp(-p / 0.35)) + this.noise(0.2), 0, 1);
    const rewards: Record<string, number> = { format, feedback, info_gain: infoGain };
    const total = format + feedback + infoGain;
    const warm = Math.min(1, step / (0.1 * o.maxSteps));
    const stepTime = o.stepSeconds * (1 + this.noise(0.3));
    const row: Record<string, unknown> = {
      step,
      epoch: round(step / 60),
      loss: round(this.noise(0.08) + 0.01),
      grad_norm: round(Math.max(0.01, 0.45 * Math.exp(-p) + Math.abs(this.noise(0.3)))),
      learning_rate: Number((1e-5 * warm * (1 - step / (o.maxSteps + 1))).toPrecision(6)),
      reward: round(total),
      reward_std: round(Math.abs(0.5 - 0.2 * p + this.noise(0.2))),
    };
    for (const name of REWARD_NAMES) {
      row[`rewards/${name}/mean`] = round(rewards[name]);
      row[`rewards/${name}/std`] = round(Math.abs(0.3 + this.noise(0.2)));
    }
    Object.assign(row, {
      frac_reward_zero_std: round(clamp(0.6 - 0.35 * p + this.noise(0.3), 0, 1)),
      "completions/mean_length": round(95 - 35 * p + this.noise(12), 2),
      "completions/clipped_ratio": round(clamp(0.2 - 0.18 * p + this.noise(0.05), 0, 1)),
      kl: round(Math.max(0, 0.02 * p + this.noise(0.006)), 5),
      entropy: round(1.3 - 0.6 * p + this.noise(0.1)),
      "clip_ratio/region_mean": round(clamp(0.01 + this.noise(0.01), 0, 1), 5),
      step_time: round(stepTime, 3),
      tokens_per_second: round(512 / stepTime, 2),
      "behaviour/format_rate": round(clamp(1 - 0.9 * Math.exp(-p / 0.08) + this.noise(0.08), 0, 1)),
      "behaviour/invalid_word_rate": round(clamp(0.5 * Math.exp(-p / 0.2) + this.noise(0.08), 0, 1)),
      "behaviour/feedback_consistent_rate": round(
        clamp(0.1 + 0.6 * sigmoid((p - 0.45) / 0.12) + this.noise(0.1), 0, 1),
      ),
      "behaviour/dead_letter_reuse_rate": round(
        clamp(0.6 - 0.5 * sigmoid((p - 0.4) / 0.1) + this.noise(0.1), 0, 1),
      ),
      "behaviour/win_rate": round(clamp(0.02 + 0.2 * p * p + this.noise(0.05), 0, 1)),
    });
    this.addMonitorFields(row);
    return row;
  }

  /** What src/run/monitor.ts adds to each row (docs/run-files.md "Monitor fields"). */
  private addMonitorFields(row: Record<string, unknown>): void {
    const step = row.step as number;
    for (const key of ["reward", ...REWARD_NAMES.map((n) => `rewards/${n}/mean`), ...BEHAVIOUR_METRIC_KEYS]) {
      let mean = this.running.get(key);
      if (!mean) {
        mean = new TrailingMean(50);
        this.running.set(key, mean);
      }
      row[`running/${key}`] = round(mean.push(row[key] as number));
    }
    const criteria: Criterion[] = this.criteria.map((c) => {
      const value = row[c.key] as number;
      const met = c.op === ">" ? value > c.threshold : value >= c.threshold;
      if (met && !this.criterionFirst.has(c.expr)) this.criterionFirst.set(c.expr, step);
      return {
        expr: c.expr,
        value,
        op: c.op,
        threshold: c.threshold,
        met,
        first_step: this.criterionFirst.get(c.expr) ?? null,
      };
    });
    const allMet = criteria.every((c) => c.met);
    if (allMet && this.allCriteriaFirst === null) this.allCriteriaFirst = step;
    const milestones: Milestone[] = this.milestones.map((m) => {
      const value = m.key === "eval" ? this.lastEvalWinRate : (row[m.key] as number);
      if (!this.milestoneResult.has(m.step) && step >= m.step && value !== null) {
        const pass = m.expect.includes(">=") ? value >= m.threshold : value > m.threshold;
        this.milestoneResult.set(m.step, { status: pass ? "pass" : "fail", value });
      }
      const result = this.milestoneResult.get(m.step);
      return {
        step: m.step,
        label: m.label,
        expect: m.expect,
        status: result?.status ?? "pending",
        value: result?.value ?? null,
      };
    });
    const runningTotal = row["running/reward"] as number;
    this.runningTotals.push({ step, value: runningTotal });
    const plateauWindow = 300;
    while (this.runningTotals.length > 1 && this.runningTotals[0].step < step - plateauWindow)
      this.runningTotals.shift();
    const past = this.runningTotals[0];
    const covered = step - past.step >= plateauWindow - this.options.loggingSteps;
    const gain = covered ? round(runningTotal - past.value) : null;
    const meanStepTime = this.stepTimes.push(row.step_time as number);
    const warnings: string[] = [];
    const zeroStd = row.frac_reward_zero_std as number;
    if (zeroStd > 0.5) warnings.push(`${Math.round(zeroStd * 100)}% of groups have zero reward std`);
    Object.assign(row, {
      criteria_met: allMet,
      criteria_first_step: this.allCriteriaFirst,
      criteria,
      milestones,
      plateau: gain !== null && gain < 0.02,
      plateau_gain: gain,
      eta_seconds: Math.round((this.options.maxSteps - step) * meanStepTime),
      warnings,
    });
  }

  private evalGames(step: number): EvalGame[] {
    const p = this.progress(step);
    const skill = clamp(0.15 + 0.8 * p, 0, 0.97);
    const games: EvalGame[] = [];
    for (let g = 0; g < this.options.gamesPerEval; g++) {
      // FROST is always played (the plan's example); the others are held-out answers.
      const secret = g === 0 ? "frost" : this.answers[Math.floor(this.random() * this.answers.length)];
      games.push({ step, secret, ...this.playGame(secret, skill) });
    }
    return games;
  }

  /** A noisy player: with probability `skill` it guesses a word consistent with all feedback so far. */
  private playGame(secret: string, skill: number): { won: boolean; guesses: GuessRecord[] } {
    let remaining = this.answers;
    const guesses: GuessRecord[] = [];
    for (let turn = 0; turn < 6; turn++) {
      if (this.random() < 0.15 * (1 - skill)) {
        guesses.push({
          word: "xqzle".slice(0, 3 + Math.floor(this.random() * 3)),
          feedback: null,
          invalid: true,
        });
        continue;
      }
      const pool = turn === 0 ? OPENERS : this.random() < skill ? remaining : this.answers;
      const word = pool[Math.floor(this.random() * pool.length)];
      const code = patternCode(word, secret);
      guesses.push({ word, feedback: feedbackString(code) });
      if (word === secret) return { won: true, guesses };
      remaining = remaining.filter((w) => patternCode(word, w) === code);
    }
    return { won: false, guesses };
  }

  private evalRow(step: number, games: EvalGame[]): Record<string, unknown> {
    const wins = games.filter((g) => g.won);
    const allGuesses = games.flatMap((g) => g.guesses);
    return {
      step,
      "eval/reward": round(1.0 + 0.7 * this.progress(step) + this.noise(0.1)),
      "eval/win_rate": round(wins.length / games.length),
      "eval/mean_guesses": wins.length
        ? round(wins.reduce((s, g) => s + g.guesses.length, 0) / wins.length, 3)
        : null,
      "eval/invalid_rate": round(allGuesses.filter((g) => g.invalid).length / Math.max(1, allGuesses.length)),
      "eval/games": games.length,
    };
  }

  private samples(step: number, row: Record<string, unknown>): SampleRow[] {
    const out: SampleRow[] = [];
    for (let k = 0; k < 2; k++) {
      const secret = this.answers[Math.floor(this.random() * this.answers.length)];
      // Earlier turns shown in the prompt: random words, scored against the secret (cheap on purpose:
      // a 100,000-row demo writes 200,000 samples).
      const history: GuessRecord[] = [];
      for (let turn = Math.floor(this.random() * 3); turn > 0; turn--) {
        const word = this.answers[Math.floor(this.random() * this.answers.length)];
        if (word !== secret) history.push({ word, feedback: feedbackString(patternCode(word, secret)) });
      }
      const guess = this.answers[Math.floor(this.random() * this.answers.length)];
      const rewards: Record<string, number> = {};
      let reward = 0;
      for (const name of REWARD_NAMES) {
        rewards[name] = round((row[`rewards/${name}/mean`] as number) + this.noise(0.3));
        reward += rewards[name];
      }
      const thought = history.length
        ? `${history[history.length - 1].word.toUpperCase()} ruled out some letters; try new ones.`
        : "No feedback yet: start with common letters.";
      out.push({
        step,
        prompt_id: `seed-${String(Math.floor(this.random() * 500)).padStart(4, "0")}`,
        secret,
        history,
        completion: `${thought}</think>\n<guess>${guess.toUpperCase()}</guess>`,
        guess,
        reward: round(reward),
        rewards,
      });
    }
    return out;
  }
}

/** Writes a whole demo run of `steps` logged steps at once (e.g. 100,000 rows for a load test). */
export function writeDemoRun(dir: string, options: DemoRunOptions & { loggedSteps: number }): DemoRun {
  const run = new DemoRun(dir, options);
  run.writeConfig();
  const batch = 2000;
  for (let done = 0; done < options.loggedSteps; done += batch) {
    run.appendSteps(Math.min(batch, options.loggedSteps - done));
  }
  return run;
}
