import cliProgress from "cli-progress";
import type { Command } from "commander";
import { ProcessGroup } from "../../engine/distributed.js";
import { evaluateAdapter } from "../../eval/before-after.js";
import { formatReport } from "../../eval/format.js";
import { loadPolicy } from "../../eval/load-policy.js";
import { resolveEvalSet } from "../../eval/secrets.js";
import { type GrpoConfig, resolveConfig } from "../../grpo/config/config.js";
import { isTinyModelPreset } from "../../grpo/config/presets.js";
import { resolveModelDir } from "../../grpo/model-dir.js";
import { checkSplit, itemsPerGenerationBatch, stepItemsName } from "../../grpo/run-length.js";
import { runDirOfCheckpoint, train } from "../../grpo/trainer.js";
import { consoleEvents, silentEvents } from "../../grpo/trainer-console.js";
import { resolveDevice } from "../../grpo/trainer-setup.js";
import { LAUNCHED_ENV, launchLocalRanks } from "../launch.js";

/**
 * `wordle-grpo train`: run GRPO on a model, or resume a run.
 *
 *   wordle-grpo train --preset seed --model models/qwen2.5-0.5b --output runs/seed
 *   wordle-grpo train --output runs/seed --resume            # latest checkpoint of that run
 *   wordle-grpo train --resume runs/seed/checkpoint-300      # a named checkpoint
 *
 * Ctrl-C (SIGINT) or SIGTERM: the current step finishes, a checkpoint is saved, and the command
 * exits 0; a second Ctrl-C exits at once (the last saved checkpoint stays valid).
 *
 * With no model anywhere (flag, config file, --set) and no --preset, the shipped model is trained
 * with its own recipe (preset `tiny`), and the run ends with the start model and the trained
 * adapter playing every answer and the held-out secrets side by side, with the solver baselines.
 */

interface TrainFlags {
  preset?: string;
  finalEval?: boolean;
  config?: string;
  model?: string;
  output?: string;
  set: string[];
  maxSteps?: string;
  resume?: string | true;
  resumeFromOlder?: boolean;
  threads?: string;
  nproc?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} expects a positive integer, got "${text}"`);
  return v;
}

export function register(program: Command): void {
  program
    .command("train")
    .description("train a LoRA adapter with GRPO (or resume a run from a checkpoint)")
    .option(
      "--preset <name>",
      "starting preset: default, seed, tiny, tiny-consistent, trl (default: tiny for the shipped model, else default)",
    )
    .option(
      "--config <file>",
      "config file (JSON, TOML or YAML; TRL GRPOConfig keys accepted) applied on top of the preset",
    )
    .option("--model <dir>", "Hugging Face model directory (default: config model, else the shipped model)")
    .option("--output <dir>", "run directory (default: config output_dir)")
    .option("--set <key=value>", "override one setting (repeatable), e.g. --set lora.r=8", collect, [])
    .option("--max-steps <n>", "stop after this many optimizer steps (overrides epochs)")
    .option("--resume [checkpoint]", "resume the run in --output: latest, a step, or a checkpoint folder")
    .option(
      "--resume-from-older",
      "allow resuming from a checkpoint older than the run's newest (removes the newer checkpoints and metrics)",
    )
    .option("--threads <n>", "engine threads (a resume keeps the run's own count unless given)")
    .option(
      "--nproc <n>",
      "run data-parallel on n local ranks (each with cores / n threads); launched by torchrun or Slurm instead, the RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT variables say so",
    )
    .option(
      "--final-eval",
      "after training, play all answers and the held-out secrets before/after (default with the presets tiny and tiny-consistent)",
    )
    .option("--no-final-eval", "skip that evaluation")
    .action(async (flags: TrainFlags, command: Command) => {
      const threads = positiveInt("--threads", flags.threads);
      const maxSteps = positiveInt("--max-steps", flags.maxSteps);
      const resume = flags.resume === undefined ? null : flags.resume === true ? "latest" : flags.resume;
      if (resume !== null) {
        const changed = ["preset", "config", "model", "set", "maxSteps"].filter((name) => {
          const source = command.getOptionValueSource(name);
          return source !== undefined && source !== "default";
        });
        if (changed.length > 0)
          throw new Error(
            `--resume continues a run with its own config.json; drop ${changed.map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")}`,
          );
      }
      const overrides: Record<string, unknown> = {};
      if (flags.model !== undefined) overrides.model = flags.model;
      if (flags.output !== undefined) overrides.output_dir = flags.output;
      if (maxSteps !== undefined) overrides.max_steps = maxSteps;
      const resolve = (preset: string) =>
        resolveConfig({
          preset,
          file: flags.config,
          overrides: [
            ...flags.set,
            ...Object.entries(overrides).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
          ],
        });
      let preset = flags.preset ?? "default";
      let resolved =
        resume === null ? resolve(preset) : { config: resolveConfig({ preset }).config, warnings: [] };
      if (resume === null && flags.preset === undefined && resolved.config.model === null) {
        // The shipped model: train it with the recipe made for it.
        preset = "tiny";
        resolved = resolve(preset);
      }
      const { config, warnings } = resolved;
      const nproc = positiveInt("--nproc", flags.nproc);
      if (nproc !== undefined) {
        if (process.env.WORLD_SIZE !== undefined)
          throw new Error(
            "--nproc starts its own ranks; it cannot run inside a launched rank (WORLD_SIZE is set)",
          );
        if (resume === null) checkSplit(stepItemsName(config), itemsPerGenerationBatch(config), nproc);
        process.exitCode = await launchLocalRanks(nproc, threads);
        return;
      }
      const distributed = process.env.WORLD_SIZE !== undefined;
      const rank = Number(process.env.RANK ?? 0);
      const events = distributed && rank !== 0 ? silentEvents : consoleEvents();
      for (const w of warnings) events.message(`warning: ${w}`);
      if (resume === null && flags.preset === undefined)
        events.message(
          `preset ${preset} (no --preset given${preset === "tiny" ? "; the shipped model's recipe" : ""})`,
        );
      // The run directory as train() picks it; rank 0 only (the other ranks' events are silent).
      const runDir =
        flags.output ?? (typeof resume === "string" ? runDirOfCheckpoint(resume) : null) ?? config.output_dir;
      const shellWord = /^[\w./:@%+=,-]+$/.test(runDir) ? runDir : `'${runDir.replace(/'/g, "'\\''")}'`;
      events.message(`watch it live: wordle-grpo dashboard ${shellWord}`);

      let stopRequested = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopRequested) {
          process.stderr.write(`\n${signal} again: exiting without saving (the last checkpoint is intact)\n`);
          process.exit(130);
        }
        stopRequested = true;
        events.message(`${signal}: finishing the current step, then saving a checkpoint`);
      };
      // A rank started by --nproc hears signals from its launcher (SIGTERM) only: the terminal's
      // Ctrl-C reaches every process of the group, and the launcher passes it on once.
      const launched = process.env[LAUNCHED_ENV] === "1";
      const launcherPid = process.ppid;
      const ignore = () => {};
      process.on("SIGINT", launched ? ignore : onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const result = await train({
          config,
          outputDir: flags.output,
          resume,
          discardNewer: flags.resumeFromOlder === true,
          // The shipped model's matrices are tiny (d = 128): one thread avoids OpenMP's per-op
          // fork/join and ran a step about twice as fast as two on a 2-core CPU (docs/experiments.md).
          threads: threads ?? (isTinyModelPreset(preset) ? 1 : undefined),
          events,
          // A launched rank whose launcher is gone (killed) stops too, saving as on Ctrl-C.
          shouldStop: () => stopRequested || (launched && process.ppid !== launcherPid),
          group: distributed
            ? (run) =>
                ProcessGroup.fromEnv(process.env, {
                  backend: run.ddp_backend,
                  timeoutSeconds: run.ddp_timeout,
                  device: resolveDevice(run),
                }) as ProcessGroup
            : null,
        });
        // Everything is saved now: from here a signal ends the process as usual (an interrupted run
        // skips the closing evaluation, and Ctrl-C during it stops it).
        process.off("SIGINT", launched ? ignore : onSignal);
        process.off("SIGTERM", onSignal);
        // Rank 0 speaks for a data-parallel run.
        const finalEval = flags.finalEval ?? (isTinyModelPreset(preset) && resume === null);
        if (distributed && rank !== 0) return;
        if (finalEval && result.finalDir !== null && !stopRequested)
          await printBeforeAfter(config, result.finalDir);
        if (result.reason === "nonfinite") {
          process.exitCode = 1;
          process.stderr.write(
            `wordle-grpo: training stopped at step ${result.steps}: the loss or gradient kept coming out NaN/Inf ` +
              "(lower learning_rate or max_grad_norm, or check the model's dtype)\n",
          );
        }
      } finally {
        process.off("SIGINT", launched ? ignore : onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}

/** The start model and the trained adapter on every answer and the held-out secrets, greedy. */
async function printBeforeAfter(config: GrpoConfig, adapterDir: string): Promise<void> {
  const sets = [resolveEvalSet("all"), resolveEvalSet("held-out")];
  const loaded = await loadPolicy({
    model: resolveModelDir(config),
    adapter: adapterDir,
    device: config.device,
    dtype: config.dtype,
    template: config.prompt_template,
    showRefused: config.multi_turn.show_refused,
    constrain: config.multi_turn.constrain,
    maxNewTokens: config.max_completion_length,
  });
  const games = 2 * sets.reduce((n, s) => n + s.secrets.length, 0);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: "evaluation {bar} {value}/{total} games | ETA {eta_formatted}", stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : null;
  process.stderr.write(`evaluating before/after: ${loaded.description}\n`);
  bar?.start(games, 0);
  try {
    const started = performance.now();
    const { before, report } = await evaluateAdapter({
      loaded,
      sets,
      before: true,
      baselines: { seed: config.seed },
      batchSize: 256,
      onGame: () => bar?.increment(),
    });
    bar?.stop();
    process.stdout.write(
      `${formatReport(report, { before, beforeLabel: "start model (before)", label: "after GRPO" })}\n` +
        `(evaluation ${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
    );
  } finally {
    bar?.stop();
    loaded.dispose();
  }
}
