import { evalGameLines, evalMetrics } from "../eval/format.js";
import { feedbackString } from "../eval/game-record.js";
import { playGames } from "../eval/play-games.js";
import { heldOutSecrets } from "../eval/secrets.js";
import { type GrpoConfig, resolveConfig, rewardFunctionNames } from "../grpo/config/config.js";
import { writeRunConfig } from "../grpo/config/run-config.js";
import { stepsPerEpoch } from "../grpo/run-length.js";
import { monitorFromConfig } from "../grpo/run-monitor.js";
import { learningRateAt } from "../grpo/schedule.js";
import { type EvalGameRow, RunLogs, type SampleRow } from "../run/logs.js";
import type { Monitor } from "../run/monitor.js";
import { openRunDirectory, runPaths } from "../run/run-dir.js";
import { loadSeedDataset, type SeedRow } from "../task/seed-dataset.js";
import { splitTrainValidation } from "../task/split.js";
import { Rng } from "../util/rng.js";
import { DemoCurves } from "./demo-curves.js";
import { DemoPlayer } from "./demo-player.js";

/**
 * A synthetic run for `wordle-grpo dashboard --demo` and the dashboard's tests: the config of the
 * `seed` preset (the training plan, with its success criteria and milestones), made-up metrics
 * (demo-curves.ts) and a made-up player (demo-player.ts), written through the trainer's own
 * pieces: config.json by writeRunConfig, every row by RunLogs, whose Monitor adds the running
 * means, criteria, milestones, plateau and ETA; evaluations played and summarised by src/eval.
 * So what the dashboard shows about a demo run is what it would show about a real one.
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

const DEFAULTS: Required<DemoRunOptions> = {
  runName: "demo",
  maxSteps: 2100,
  loggingSteps: 10,
  evalSteps: 100,
  gamesPerEval: 12,
  seed: 1,
  learningSpeed: 1,
  stepSeconds: 8.5,
};

export class DemoRun {
  readonly options: Required<DemoRunOptions>;
  readonly config: GrpoConfig;
  /** The last step written (0 before any). */
  step = 0;
  private readonly rewardNames: string[];
  private readonly prompts: SeedRow[];
  private readonly secrets: string[];
  private readonly curves: DemoCurves;
  private readonly player: DemoPlayer;
  private readonly rng: Rng;
  private readonly monitor: Monitor;
  private logs: RunLogs | null = null;

  constructor(
    readonly dir: string,
    options: DemoRunOptions = {},
  ) {
    const o = { ...DEFAULTS, ...options };
    this.options = o;
    this.config = resolveConfig({
      preset: "seed",
      overrides: {
        run_name: o.runName,
        max_steps: o.maxSteps,
        logging_steps: o.loggingSteps,
        eval_steps: o.evalSteps,
        save_steps: o.evalSteps,
        seed: o.seed,
        "eval.games": o.gamesPerEval,
      },
    }).config;
    this.monitor = monitorFromConfig(this.config, o.maxSteps);
    this.rewardNames = rewardFunctionNames(this.config.reward.preset);
    // The trainer's training prompts and evaluation secrets (grpo/trainer-setup.ts, trainer-eval.ts).
    this.prompts = splitTrainValidation(loadSeedDataset().rows, this.config.seed).train;
    const { games, held_out_secrets, include_frost } = this.config.eval;
    this.secrets = heldOutSecrets({ count: held_out_secrets, includeFrost: include_frost }).slice(0, games);
    this.rng = new Rng(o.seed);
    this.curves = new DemoCurves(this.rng, o.maxSteps, o.learningSpeed, o.stepSeconds);
    this.player = new DemoPlayer(this.rng);
  }

  /** Creates the run directory and writes config.json, as the trainer does before its first step. */
  writeConfig(): void {
    writeRunConfig(openRunDirectory(this.dir), this.config, this.options.maxSteps);
  }

  /** Runs the next `count` logged steps, with the evaluations due among them, and writes their rows. */
  async appendSteps(count: number): Promise<void> {
    // Never fsync: a demo's rows need no durability, and a 100,000-row load test would wait on the disk.
    this.logs ??= new RunLogs(runPaths(this.dir), this.monitor, {
      fsyncEveryRows: Number.POSITIVE_INFINITY,
      fsyncEveryMs: Number.POSITIVE_INFINITY,
    });
    const { maxSteps, loggingSteps, evalSteps } = this.options;
    for (let logged = 0; logged < count && this.step < maxSteps; ) {
      this.step++;
      // The trainer's loop: a row every logging_steps (and at the end), an evaluation every eval_steps.
      if (this.step % loggingSteps === 0 || this.step === maxSteps) {
        this.logTraining(this.logs);
        logged++;
      }
      if (this.step % evalSteps === 0) await this.evaluate(this.logs);
    }
    if (this.step === maxSteps) this.close();
  }

  /** Makes the rows durable and closes the files; later appends reopen them. */
  close(): void {
    this.logs?.close();
    this.logs = null;
  }

  private logTraining(logs: RunLogs): void {
    const step = this.step;
    logs.logTrain({
      step,
      epoch: step / stepsPerEpoch(this.config, this.prompts.length),
      learning_rate: learningRateAt(this.config, step - 1, this.options.maxSteps),
      ...this.curves.trainingValues(step, this.rewardNames),
    });
    // One prompt per step with its group of completions, as the seed preset's batch holds.
    const prompt = this.rng.pick(this.prompts);
    const history = prompt.history.map((h) => ({ word: h.guess, feedback: feedbackString(h.feedback) }));
    const samples = Array.from({ length: this.config.num_generations }, (): SampleRow => {
      const { completion, guess } = this.player.move(prompt.history, this.curves.skill(step));
      const rewards = Object.fromEntries(this.rewardNames.map((fn) => [fn, this.curves.reward(fn, step)]));
      const reward = Object.values(rewards).reduce((a, b) => a + b, 0);
      return {
        step,
        prompt_id: prompt.id,
        secret: prompt.secret,
        history,
        completion,
        guess,
        reward,
        rewards,
      };
    });
    logs.logSamples(samples);
  }

  private async evaluate(logs: RunLogs): Promise<void> {
    const step = this.step;
    const { games, summary } = await playGames(this.player.policy(this.curves.skill(step)), this.secrets);
    logs.logEval({ step, "eval/reward": this.curves.evalReward(step), ...evalMetrics(summary) });
    logs.logGames(evalGameLines(step, games) as unknown as EvalGameRow[]);
  }
}

/** Writes a whole demo run of `loggedSteps` logged steps at once (e.g. 100,000 rows for a load test). */
export async function writeDemoRun(
  dir: string,
  options: DemoRunOptions & { loggedSteps: number },
): Promise<DemoRun> {
  const run = new DemoRun(dir, options);
  run.writeConfig();
  await run.appendSteps(options.loggedSteps);
  run.close();
  return run;
}
