/**
 * The GRPO trainer: the loop of one GRPO step (docs/training.md) with TRL's
 * semantics, checkpoints that resume exactly, and the monitor in every logged row.
 *
 *   const result = await train({ config, events: consoleEvents() });
 *   const again = await train({ config, resume: "latest" });   // continues RUN/checkpoint-<latest>
 *
 * One step (src/grpo/step/optimize.ts for the optimisation part):
 *   1. every num_iterations steps, a new generation batch: the next prompts of the seeded per-epoch
 *      order (data-order.ts; batch × accumulation / G prompts), G completions each at the
 *      scheduled temperature, rewards at progress = step / total, group advantages, π_old when
 *      num_iterations > 1 and π_ref when beta > 0 (rollout.ts). In mode multi_turn the order runs
 *      over the training secrets instead, and each of multi_turn.secrets_per_step secrets is played
 *      G times as whole games (multi-turn-rollout.ts);
 *   2. forward + backward per micro-batch, clip, optimizer step at the scheduled learning rate
 *      (schedule.ts); a non-finite loss or gradient skips the update, is counted and logged, and
 *      `MAX_CONSECUTIVE_NONFINITE` in a row save a checkpoint and stop the run;
 *   3. every logging_steps a metrics row (trainer-metrics.ts, through the monitor) and samples;
 *      every eval_steps an evaluation (trainer-eval.ts) and the best adapter; every save_steps a
 *      checkpoint (resume.ts) with retention by save_total_limit.
 * At the end: a last evaluation when eval_steps is null, a final checkpoint and RUN/final/.
 * A stop request (Ctrl-C in the CLI) is honoured between steps: save, then return.
 *
 * Randomness: the engine generator (sampling, LoRA init and dropout) is seeded with `seed` and
 * saved in every checkpoint, the data order has its own saved Rng, and evaluation restores the
 * generator it used. On the CPU the same thread count gives the same numbers, so a resumed run
 * logs exactly the rows the uninterrupted run logs (wall-clock fields aside).
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { deviceProblem, getNumThreads, manualSeed, setNumThreads } from "../engine/index.js";
import { feedbackString } from "../eval/game-record.js";
import type { AdapterTrainingRecord } from "../eval/load-policy.js";
import { trainingSecrets } from "../eval/secrets.js";
import { saveLoraAdapter } from "../model/lora-peft.js";
import {
  applyRetention,
  BestTracker,
  findCheckpoint,
  listCheckpoints,
  saveCheckpoint,
} from "../run/checkpoints.js";
import { readJsonl } from "../run/jsonl.js";
import { RunLogs, type SampleRow } from "../run/logs.js";
import { openRunDirectory, type RunPaths, runPaths } from "../run/run-dir.js";
import { acquireRunLock } from "../run/run-lock.js";
import { makeTrackers } from "../run/trackers/make-trackers.js";
import { aggregateBehaviour, behaviourMetrics } from "../task/metrics.js";
import { attemptsInPlayOrder } from "../task/prompt.js";
import { type RewardPreset, rewardPreset } from "../task/rewards/presets.js";
import { writeDirectoryAtomically } from "../util/atomic.js";
import { readRunConfig, writeRunConfig } from "./config/run-config.js";
import type { GrpoConfig } from "./config/schema.js";
import { temperatureAt } from "./config/temperature.js";
import { DataOrder } from "./data-order.js";
import { checkTrainingMemory } from "./memory-check.js";
import { preparePrompts } from "./prepared-prompts.js";
import { type Collective, Ranks } from "./ranks.js";
import {
  captureEngineRng,
  loadAdapterValues,
  readCheckpointContents,
  restoreEngineRng,
  type TrainerState,
  writeCheckpointContents,
} from "./resume.js";
import { multiTurnGenerationBatch } from "./rollout/multi-turn-batch.js";
import { type GenerationBatch, rollout } from "./rollout/rollout.js";
import {
  checkSplit,
  itemsPerGenerationBatch,
  stepItemsName,
  stepsPerEpoch,
  totalSteps,
} from "./run-length.js";
import { monitorFromConfig } from "./run-monitor.js";
import { learningRateAt } from "./schedule.js";
import { optimizeOnBatch, type StepContext } from "./step/optimize.js";
import { makeSftMixer } from "./step/sft-mix.js";
import { silentEvents, type TrainerEvents } from "./trainer-console.js";
import { evaluateDuringTraining } from "./trainer-eval.js";
import { MetricsWindow } from "./trainer-metrics.js";
import { attachAdapter, engineFacts, loadPolicy, makeOptimizer, resolveDevice } from "./trainer-setup.js";

/** Non-finite steps in a row after which the run saves and stops: it has diverged. */
export const MAX_CONSECUTIVE_NONFINITE = 3;

export interface TrainOptions {
  /** The resolved config (ignored when resuming: the run's own config.json is used). */
  config: GrpoConfig;
  /** Run directory; default config.output_dir. */
  outputDir?: string;
  /** Resume from a checkpoint of the run directory: "latest" / true, a step, or a checkpoint path. */
  resume?: string | number | true | null;
  /** Resuming from a checkpoint older than the run's newest removes the newer ones (else an error). */
  discardNewer?: boolean;
  /** Intra-op threads of the engine; a resume defaults to the count the run was saved with. */
  threads?: number;
  events?: TrainerEvents;
  /** Checked between steps: once it returns true the trainer saves a checkpoint and returns. */
  shouldStop?: () => boolean;
  /**
   * Reward functions to train with instead of the config's preset (library use: your own rewards).
   * Name them like a preset's functions (format, feedback, ...) for the monitor's aliases to apply.
   */
  rewards?: RewardPreset;
  /** Test hook: replace a micro-batch's loss (e.g. multiply by NaN to test the skip path). */
  lossHook?: StepContext["lossHook"];
  /**
   * Data parallelism: this process is one rank of the group (ranks.ts has the rules). Rank 0 alone
   * writes the run directory; every rank reads it on resume, so it must be on a shared file system.
   */
  group?: Collective | ((config: GrpoConfig) => Collective) | null;
}

export type StopReason = "completed" | "interrupted" | "plateau" | "nonfinite";

export interface TrainResult {
  runDir: string;
  /** Optimizer steps done (global step at exit). */
  steps: number;
  totalSteps: number;
  reason: StopReason;
  /** Steps skipped for a non-finite loss or gradient. */
  nonfiniteSteps: number;
  /** Checkpoint folders present at exit, oldest first. */
  checkpoints: string[];
  bestStep: number | null;
  finalDir: string | null;
}

/** Where `--resume PATH` points: a checkpoint folder's run directory, or the given output dir. */
export function runDirOfCheckpoint(spec: string): string | null {
  return /^checkpoint-\d+$/.test(basename(resolve(spec))) ? dirname(resolve(spec)) : null;
}

/**
 * Throws the reason the config cannot run on this machine, if there is one: its device and dtype,
 * or a memory estimate larger than what is available (memory-check.ts).
 */
function checkRunnable(config: GrpoConfig): void {
  const engine = engineFacts(config);
  const problem = deviceProblem(engine.device, engine.dtype);
  if (problem !== null) throw new Error(problem);
  checkTrainingMemory(config, engine);
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const resuming = options.resume !== undefined && options.resume !== null;
  const outputDir =
    options.outputDir ??
    (resuming && typeof options.resume === "string" ? runDirOfCheckpoint(options.resume) : null) ??
    options.config.output_dir;
  // A resume names an existing run: a mistyped path must not leave an empty directory behind.
  if (resuming && !existsSync(outputDir))
    throw new Error(`--resume: there is no run directory ${resolve(outputDir)} to resume`);
  // A device or dtype this machine cannot run fails before anything is created.
  if (!resuming) checkRunnable(options.config);
  // The group is made from the run's own config (a resume's timeout and backend are the run's).
  const group =
    typeof options.group === "function"
      ? options.group(resuming ? readRunConfig(runPaths(outputDir)) : options.config)
      : (options.group ?? null);
  const ranks = new Ranks(group);
  try {
    // Rank 0 owns the run directory; the other ranks only read it (on resume).
    if (!ranks.main) return await trainLocked(options, runPaths(outputDir), resuming, ranks);
    const paths = openRunDirectory(outputDir);
    const lock = acquireRunLock(paths.root, resuming ? "train --resume" : "train");
    try {
      return await trainLocked(options, paths, resuming, ranks);
    } finally {
      lock.release();
    }
  } finally {
    if (typeof options.group === "function") group?.destroy?.();
  }
}

async function trainLocked(
  options: TrainOptions,
  paths: RunPaths,
  resuming: boolean,
  ranks: Ranks,
): Promise<TrainResult> {
  const events = ranks.main ? (options.events ?? silentEvents) : silentEvents;
  const runConfig = resuming ? readRunConfig(paths) : options.config;
  // What this rank runs on; config.json keeps the run's own setting.
  const config = onRankDevice(runConfig, ranks);
  if (resuming) checkRunnable(config);
  if (!resuming && ranks.main) refuseExistingRun(paths, events);
  if (options.threads !== undefined) setNumThreads(options.threads);

  const policy = await loadPolicy(config);
  const { model, tokenizer } = policy;
  const prompts = preparePrompts(config, tokenizer);
  // Training secrets (never the evaluation's held-out ones): multi_turn's episodes and sft_mix's games.
  const multiTurn = config.mode === "multi_turn";
  const secrets = trainingSecrets();
  const datasetSize = multiTurn ? secrets.length : prompts.train.length;
  const total = totalSteps(config, datasetSize);
  const perEpoch = stepsPerEpoch(config, datasetSize);
  const promptsPerBatch = itemsPerGenerationBatch(config);
  checkSplit(stepItemsName(config), promptsPerBatch, ranks.size);
  const preset = options.rewards ?? rewardPreset(config.reward.preset, { weights: config.reward.weights });

  manualSeed(config.seed);
  const adapter = attachAdapter(model, config);
  const params = adapter.parameters().map((p) => p.tensor);
  const optimizer = makeOptimizer(config, params);
  const order = new DataOrder(datasetSize, promptsPerBatch, config.seed);
  const monitor = monitorFromConfig(config, total);
  const window = new MetricsWindow();
  let best = new BestTracker(config.metric_for_best_model, config.greater_is_better);
  let step = 0;
  let nonfinite = 0;
  let consecutiveNonfinite = 0;
  let batch: GenerationBatch | null = null;

  if (resuming) {
    const ckpt = findCheckpoint(paths, options.resume as string | number | true);
    const saved = readCheckpointContents(ckpt.path);
    loadAdapterValues(adapter, ckpt.path);
    optimizer.loadState(saved.optimizer);
    restoreEngineRng(saved.rng.engine);
    order.restore(saved.rng.data_order);
    window.restore(saved.trainer.window);
    best = new BestTracker(config.metric_for_best_model, config.greater_is_better, saved.trainer.best);
    step = saved.trainer.global_step;
    // Same threads as the run had, for the same numbers (unless the caller chose a count).
    if (options.threads === undefined && saved.trainer.threads !== undefined)
      setNumThreads(saved.trainer.threads);
    nonfinite = saved.trainer.nonfinite_steps;
    consecutiveNonfinite = saved.trainer.consecutive_nonfinite;
    batch = saved.generation;
    // Every rank has read the checkpoint before rank 0 cuts the logs or removes newer checkpoints.
    ranks.each(step);
    // Checkpoints newer than the one resumed from belong to the future this resume abandons:
    // removed only when asked, never by a resume that merely named an older checkpoint.
    const newer = listCheckpoints(paths).filter((c) => c.step > step);
    if (newer.length > 0 && !options.discardNewer)
      throw new Error(
        `${paths.root} has checkpoints newer than step ${step} (${newer.map((c) => basename(c.path)).join(", ")}); ` +
          "resuming from an older one removes them and the metrics after it: pass --resume-from-older to do that, " +
          "or resume the latest",
      );
    if (ranks.main) {
      RunLogs.prepareResume(paths, step, monitor);
      for (const c of newer) {
        rmSync(c.path, { recursive: true, force: true });
        events.message(`removed ${basename(c.path)} (newer than the checkpoint resumed from)`);
      }
    }
    events.message(`resuming ${paths.root} from ${basename(ckpt.path)} (step ${step} of ${total})`);
  } else {
    events.message(
      `training ${policy.modelDir} (${policy.device}, ${policy.dtype}) -> ${paths.root}: ${total} steps, ` +
        `${perEpoch} per epoch (${
          multiTurn
            ? `${promptsPerBatch} secrets x ${config.num_generations} games`
            : `${promptsPerBatch} prompt${promptsPerBatch === 1 ? "" : "s"} x ${config.num_generations} completions`
        } per step), ` +
        `${adapter.parameterCount().toLocaleString("en-US")} LoRA parameters` +
        (ranks.distributed ? `, on ${ranks.size} rank${ranks.size === 1 ? "" : "s"}` : ""),
    );
  }
  if (ranks.main) writeRunConfig(paths, runConfig, total);
  // Experiment trackers (report_to), rank 0 only; made after a resume cut the logs back, since the
  // csv tracker starts from metrics.jsonl as it is now.
  const logs = ranks.main
    ? new RunLogs(paths, monitor, {}, await makeTrackers(runConfig, paths, (m) => events.message(m)))
    : null;
  const rolloutCtx = { model, tokenizer, config, preset };
  const stepCtx: StepContext = {
    model,
    config,
    optimizer,
    params,
    padId: tokenizer.padTokenId,
    sft: makeSftMixer(config, tokenizer, secrets),
    lossHook: options.lossHook,
    ranks,
  };
  let lastSaved = resuming ? step : -1;

  const save = (reason: string): void => {
    lastSaved = step;
    if (logs === null) return;
    logs.flush();
    const trainerState: TrainerState = {
      global_step: step,
      max_steps: total,
      epoch: step / perEpoch,
      logging_steps: config.logging_steps,
      eval_steps: config.eval_steps,
      save_steps: config.save_steps,
      best: best.toJSON(),
      best_model_checkpoint: best.bestStep === null ? null : paths.checkpoint(best.bestStep),
      window: window.state(),
      nonfinite_steps: nonfinite,
      consecutive_nonfinite: consecutiveNonfinite,
      saved_at: new Date().toISOString(),
      reason,
      threads: getNumThreads(),
    };
    const reusable = batch !== null && batch.uses < config.num_iterations ? batch : null;
    saveCheckpoint(paths, step, (dir) =>
      writeCheckpointContents(dir, {
        adapter,
        optimizer: optimizer.state(),
        rng: { engine: captureEngineRng(model.device), data_order: order.state() },
        trainer: trainerState,
        generation: reusable,
      }),
    );
    const protect = best.bestStep === null ? [] : [best.bestStep];
    applyRetention(paths, config.save_total_limit, protect);
    events.message(`saved ${basename(paths.checkpoint(step))} (${reason})`);
  };

  // best/ and final/ are what users load: a diverged (non-finite) adapter never becomes either.
  const adapterIsFinite = (): boolean => params.every((p) => p.allFinite());

  // An adapter folder users point `eval --adapter` at: the PEFT files, and a training.json saying
  // how the adapter was trained to be prompted (load-policy.ts reads it).
  const saveAdapter = (dir: string): void => {
    saveLoraAdapter(adapter, dir);
    const record: AdapterTrainingRecord = {
      made_by: "wordle-grpo train",
      step,
      prompt_template: config.prompt_template,
      show_refused: config.multi_turn.show_refused,
      constrain: config.multi_turn.constrain,
    };
    writeFileSync(join(dir, "training.json"), `${JSON.stringify(record, null, 2)}\n`);
  };

  // Every rank plays its share of the evaluation; rank 0 logs it and keeps the best adapter.
  const runEvaluation = async (): Promise<void> => {
    const progress = step / total;
    const evaluation = await evaluateDuringTraining(
      rolloutCtx,
      prompts.validation,
      step,
      temperatureAt(config, progress),
      progress,
      ranks,
    );
    if (logs === null) return;
    const row = { step, ...evaluation.metrics };
    logs.logEval(row);
    if (evaluation.games.length > 0) logs.logGames(evaluation.games);
    if (best.consider(step, row)) {
      if (adapterIsFinite()) {
        writeDirectoryAtomically(paths.best, saveAdapter);
        events.message(
          `new best ${config.metric_for_best_model} = ${best.bestValue} at step ${step} -> best/`,
        );
      } else events.message(`not writing best/ at step ${step}: the adapter holds NaN or infinite values`);
    }
  };

  let reason: StopReason = "completed";
  try {
    while (step < total) {
      if (ranks.any(options.shouldStop?.() ?? false)) {
        reason = "interrupted";
        break;
      }
      const started = performance.now();
      const progress = step / total;
      const generationValues: Record<string, number | null> = {};
      if (batch === null || batch.uses >= config.num_iterations) {
        const next = order.next();
        const temperature = temperatureAt(config, progress);
        batch = multiTurn
          ? multiTurnGenerationBatch(
              rolloutCtx,
              next.indices.map((i) => secrets[i]),
              temperature,
              progress,
              step,
              ranks,
            )
          : rollout(rolloutCtx, prompts.train, next.indices, temperature, progress, ranks, step);
        Object.assign(generationValues, batch.stats, completionStats(batch));
        Object.assign(
          generationValues,
          behaviourMetrics(aggregateBehaviour(batch.completions.map((c) => c.behaviour))),
        );
      }
      const lr = learningRateAt(config, step, total);
      const outcome = optimizeOnBatch(stepCtx, batch, step + 1, lr);
      batch.uses += 1;
      step += 1;
      if (outcome.skipped) {
        nonfinite += 1;
        consecutiveNonfinite += 1;
        events.message(
          `step ${step}: loss ${outcome.loss}, grad_norm ${outcome.gradNorm}: not finite, update skipped ` +
            `(${consecutiveNonfinite} in a row, ${nonfinite} in all)`,
        );
      } else {
        consecutiveNonfinite = 0;
      }
      const seconds = (performance.now() - started) / 1000;
      window.add(
        { ...outcome.values, ...generationValues, temperature: batch.temperature, epoch: step / perEpoch },
        outcome.tokens,
        seconds,
        outcome.skipped,
      );
      events.step(step, total, seconds);

      if (step % config.logging_steps === 0 || step === total) {
        const values = window.flush();
        const row = { step, ...values, nonfinite_steps: nonfinite };
        let plateau = false;
        if (logs !== null) {
          const fields = logs.logTrain(row);
          logs.logSamples(sampleRows(batch, step));
          events.logged(row, fields, monitor.statusLine(row, fields));
          plateau = fields.plateau_stop === true;
        }
        // Rank 0's monitor decides for all ranks.
        if (ranks.any(plateau)) reason = "plateau";
      }
      if (config.eval_steps !== null && step % config.eval_steps === 0) await runEvaluation();
      else if (config.eval_steps === null && step === total) await runEvaluation();
      if (consecutiveNonfinite >= MAX_CONSECUTIVE_NONFINITE) reason = "nonfinite";
      if (step % config.save_steps === 0 || step === total || reason !== "completed") {
        save(
          reason === "nonfinite"
            ? `${consecutiveNonfinite} non-finite steps in a row`
            : reason === "plateau"
              ? "plateau early stop"
              : step === total
                ? "end of training"
                : "save_steps",
        );
      }
      if (reason !== "completed") break;
      // Let signal handlers (Ctrl-C) and other callbacks run between steps.
      await new Promise((r) => setImmediate(r));
    }
    if (reason === "interrupted" && step > 0 && lastSaved !== step) save("interrupted");
    if (reason === "nonfinite")
      events.message(
        `stopping: ${MAX_CONSECUTIVE_NONFINITE} non-finite steps in a row (see the last checkpoint)`,
      );
    let finalDir: string | null = null;
    // Rank 0 alone writes final/.
    if (ranks.main && step === total && adapterIsFinite()) {
      writeDirectoryAtomically(paths.final, saveAdapter);
      finalDir = paths.final;
      events.message(`done: ${total} steps; adapter in ${paths.final}`);
    } else if (ranks.main && step === total) {
      events.message(
        `done: ${total} steps, but the adapter holds NaN or infinite values: final/ not written`,
      );
    }
    return {
      runDir: paths.root,
      steps: step,
      totalSteps: total,
      reason,
      nonfiniteSteps: nonfinite,
      checkpoints: listCheckpoints(paths).map((c) => c.path),
      bestStep: best.bestStep,
      finalDir,
    };
  } finally {
    await logs?.close();
    events.close();
    optimizer.dispose();
    model.adapter = null;
    adapter.dispose();
    model.dispose();
  }
}

/** Ranks on a CUDA machine use one GPU each: `cuda` means cuda:<LOCAL_RANK> (torchrun's convention). */
function onRankDevice(config: GrpoConfig, ranks: Ranks): GrpoConfig {
  if (!ranks.distributed || resolveDevice(config) !== "cuda") return config;
  return { ...config, device: `cuda:${ranks.localRank}` };
}

/**
 * A fresh run must not write into another run's directory (resume it, or pick another output).
 * A run stopped before its first checkpoint cannot be resumed, and nothing it wrote can be
 * continued: its rows are cleared and it starts again.
 */
function refuseExistingRun(paths: RunPaths, events: TrainerEvents): void {
  const rows = readJsonl(paths.metrics).rows.length;
  const checkpoints = listCheckpoints(paths).length;
  const adapters = [paths.best, paths.final].filter((dir) => existsSync(dir)).length;
  if (checkpoints > 0 || adapters > 0)
    throw new Error(
      `${paths.root} already holds a run (${rows} metrics rows, ${checkpoints} checkpoints): ` +
        "resume it with --resume, or choose another --output",
    );
  if (rows === 0) return;
  for (const file of [paths.metrics, paths.samples, paths.evalGames]) rmSync(file, { force: true });
  events.message(
    `${paths.root} held a run stopped before its first checkpoint (${rows} rows): starting it again`,
  );
}

/** Completion lengths of a batch (tokens) and the share cut at max_completion_length. */
function completionStats(batch: GenerationBatch): Record<string, number> {
  const lengths = batch.completions.map((c) => c.tokenIds.length);
  return {
    "completions/mean_length": lengths.reduce((a, b) => a + b, 0) / lengths.length,
    "completions/min_length": Math.min(...lengths),
    "completions/max_length": Math.max(...lengths),
    // TRL: completions that ended without EOS / stop string, i.e. cut at max_completion_length.
    "completions/clipped_ratio": batch.completions.filter((c) => c.truncated).length / lengths.length,
  };
}

/** samples.jsonl rows for every completion of the batch (docs/run-files.md). */
function sampleRows(batch: GenerationBatch, step: number): SampleRow[] {
  return batch.completions.map((c) => {
    const { state } = c;
    return {
      step,
      prompt_id: state.id,
      secret: state.secret,
      history: attemptsInPlayOrder(state).map((a) =>
        a.kind === "scored"
          ? { word: a.scored.guess, feedback: feedbackString(a.scored.feedback) }
          : { word: a.refused.guess ?? "", feedback: null, invalid: true },
      ),
      completion: c.text,
      guess: c.guess === null ? null : c.guess.toLowerCase(),
      reward: c.reward,
      rewards: c.rewards,
      advantage: c.advantage,
      truncated: c.truncated,
    };
  });
}
