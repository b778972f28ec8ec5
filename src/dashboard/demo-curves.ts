import type { Rng } from "../util/rng.js";

/**
 * The made-up numbers of the dashboard's demo: a training row shaped like a GRPO Wordle run with
 * the seed rewards (format learned first, feedback use later), with seeded noise. Only the
 * numbers are invented here; running means, criteria, milestones, plateau and evaluation
 * results are computed from them by the code a real run uses (see demo-run.ts).
 */

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** Mean of each seed-preset reward function over training progress, its noise and its range. */
const REWARD_CURVES: Record<string, { mean: (p: number) => number; noise: number; lo: number; hi: number }> =
  {
    format: { mean: (p) => 0.8 - 0.75 * Math.exp(-p / 0.1), noise: 0.25, lo: -1.5, hi: 0.8 },
    feedback: { mean: (p) => -0.5 + sigmoid((p - 0.42) / 0.1), noise: 0.6, lo: -1.2, hi: 1.2 },
    info_gain: { mean: (p) => 0.15 + 0.45 * (1 - Math.exp(-p / 0.35)), noise: 0.2, lo: 0, hi: 1 },
  };

export class DemoCurves {
  constructor(
    private readonly rng: Rng,
    private readonly maxSteps: number,
    /** >1 learns faster, <1 slower. */
    private readonly learningSpeed: number,
    /** Mean seconds per step. */
    private readonly stepSeconds: number,
  ) {}

  /** Roughly Gaussian, bounded noise: a sum of three uniforms. */
  noise(scale: number): number {
    return (this.rng.next() + this.rng.next() + this.rng.next() - 1.5) * scale;
  }

  /** How far training has got, in [0, 1.5]: past 1 a fast learner has simply learned more. */
  progress(step: number): number {
    return clamp((step / this.maxSteps) * this.learningSpeed, 0, 1.5);
  }

  /** Probability that a demo player's guess respects the feedback so far. */
  skill(step: number): number {
    return clamp(0.15 + 0.8 * this.progress(step), 0, 0.97);
  }

  /** One reward function's value for one completion (or the mean over a batch) at `step`. */
  reward(name: string, step: number): number {
    const curve = REWARD_CURVES[name];
    if (curve === undefined) throw new Error(`demo: no made-up curve for the reward function "${name}"`);
    return clamp(curve.mean(this.progress(step)) + this.noise(curve.noise), curve.lo, curve.hi);
  }

  evalReward(step: number): number {
    return 1.0 + 0.7 * this.progress(step) + this.noise(0.1);
  }

  /** The measurements of a training row (docs/run-files.md), without `step`, `epoch` and `learning_rate`. */
  trainingValues(step: number, rewardNames: readonly string[]): Record<string, number> {
    const p = this.progress(step);
    const rate = (x: number) => clamp(x, 0, 1);
    const values: Record<string, number> = { reward: 0 };
    for (const name of rewardNames) {
      const mean = this.reward(name, step);
      values.reward += mean;
      values[`rewards/${name}/mean`] = mean;
      values[`rewards/${name}/std`] = Math.abs(0.3 + this.noise(0.2));
    }
    const stepTime = this.stepSeconds * (1 + this.noise(0.3));
    return {
      ...values,
      loss: this.noise(0.08) + 0.01,
      grad_norm: Math.max(0.01, 0.45 * Math.exp(-p) + Math.abs(this.noise(0.3))),
      reward_std: Math.abs(0.5 - 0.2 * p + this.noise(0.2)),
      frac_reward_zero_std: rate(0.6 - 0.35 * p + this.noise(0.3)),
      "completions/mean_length": 95 - 35 * p + this.noise(12),
      "completions/clipped_ratio": rate(0.2 - 0.18 * p + this.noise(0.05)),
      kl: Math.max(0, 0.02 * p + this.noise(0.006)),
      entropy: 1.3 - 0.6 * p + this.noise(0.1),
      "clip_ratio/region_mean": rate(0.01 + this.noise(0.01)),
      step_time: stepTime,
      tokens_per_second: 512 / stepTime,
      "behaviour/format_rate": rate(1 - 0.9 * Math.exp(-p / 0.08) + this.noise(0.08)),
      "behaviour/invalid_word_rate": rate(0.5 * Math.exp(-p / 0.2) + this.noise(0.08)),
      "behaviour/feedback_consistent_rate": rate(0.1 + 0.6 * sigmoid((p - 0.45) / 0.12) + this.noise(0.1)),
      "behaviour/dead_letter_reuse_rate": rate(0.6 - 0.5 * sigmoid((p - 0.4) / 0.1) + this.noise(0.1)),
      "behaviour/win_rate": rate(0.02 + 0.2 * p * p + this.noise(0.05)),
    };
  }
}
