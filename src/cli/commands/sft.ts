import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { SingleBar } from "cli-progress";
import { type Command, Option } from "commander";
import { checkDevice } from "../../engine/dtype.js";
import { bestDevice, setNumThreads } from "../../engine/index.js";
import { readConfigOverrides } from "../../sft/model-files.js";
import { DEFAULT_SFT_SETTINGS, runSft, type SftSettings } from "../../sft/trainer.js";

/**
 * `wordle-grpo sft`: supervised training of a small Qwen2 model on teacher games; writes a Hugging
 * Face model directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json with
 * the chat template, generation_config.json, training.json, held_out.json). See docs/sft.md.
 */

interface SftFlags {
  out: string;
  teacher: string;
  steps?: string;
  minutes?: string;
  seed: string;
  resume?: string;
  runDir?: string;
  overwrite?: boolean;
  batchGames: string;
  lr: string;
  warmupSteps: string;
  dtype: "float32" | "bfloat16";
  config?: string;
  configJson?: string;
  threads?: string;
  checkpointSeconds: string;
  initFrom?: string;
  device: string;
  snapshotSteps?: string;
}

function number(flag: string, text: string, integer = false): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value)))
    throw new Error(`${flag} expects ${integer ? "an integer" : "a number"}, got "${text}"`);
  return value;
}

function configOverrides(flags: SftFlags): Record<string, unknown> {
  const fromFile = flags.config ? readConfigOverrides(flags.config) : {};
  if (!flags.configJson) return fromFile;
  let inline: unknown;
  try {
    inline = JSON.parse(flags.configJson);
  } catch (error) {
    throw new Error(`--config-json is not valid JSON: ${(error as Error).message}`);
  }
  if (inline === null || typeof inline !== "object" || Array.isArray(inline))
    throw new Error('--config-json expects a JSON object of config.json keys, e.g. {"hidden_size":128}');
  return { ...fromFile, ...(inline as Record<string, unknown>) };
}

export function register(program: Command): void {
  program
    .command("sft")
    .description(
      "Supervised training of a small Qwen2 model on teacher Wordle games (writes an HF model dir)",
    )
    .requiredOption("--out <dir>", "model directory to write (e.g. models/my-tiny)")
    .option(
      "--teacher <spec>",
      "random-consistent | entropy | mix:NAME=W,... (random-word turns are played, never learned) | branch:random-consistent=P (entropy until the game leaves its path)",
      DEFAULT_SFT_SETTINGS.teacher,
    )
    .option("--steps <n>", "train for N optimiser steps (reproducible)")
    .option("--minutes <m>", "train for M minutes (the cosine follows the clock)")
    .option("--seed <n>", "seed of the weights, secrets and teacher games", "0")
    .option("--resume <run-dir>", "continue a run from its checkpoint (its recorded settings are used)")
    .option("--overwrite", "replace an existing --out model directory and --run-dir")
    .option(
      "--run-dir <dir>",
      "run directory: settings.json, loss.jsonl, checkpoint/ (default runs/sft-<out name>)",
    )
    .option("--batch-games <n>", "games per step", String(DEFAULT_SFT_SETTINGS.batchGames))
    .option("--lr <x>", "peak learning rate (AdamW, warmup then cosine)", String(DEFAULT_SFT_SETTINGS.lr))
    .option("--warmup-steps <n>", "linear warmup steps", String(DEFAULT_SFT_SETTINGS.warmupSteps))
    .addOption(
      new Option(
        "--dtype <dtype>",
        "compute dtype (master weights are float32; bfloat16 needs AVX-512 bf16 to pay off)",
      )
        .choices(["float32", "bfloat16"])
        .default(DEFAULT_SFT_SETTINGS.dtype),
    )
    .option("--config <file>", "JSON file of config.json keys over the default architecture")
    .option(
      "--config-json <json>",
      'inline config.json keys, e.g. {"hidden_size":128,"intermediate_size":352}',
    )
    .option(
      "--init-from <model-dir>",
      "start from this model's weights (same architecture) instead of random ones",
    )
    .option("--threads <n>", "libtorch threads (1 is fastest on a machine busy with other work)")
    .option("--device <d>", "cpu, cuda, cuda:N, mps, or auto (the best available)", "cpu")
    .option(
      "--snapshot-steps <n>",
      "also save the model every N steps as RUN/snapshots/step-N (to pick a start model from the curve)",
    )
    .option(
      "--checkpoint-seconds <s>",
      "seconds between checkpoints",
      String(DEFAULT_SFT_SETTINGS.checkpointSeconds),
    )
    .action(async (flags: SftFlags) => {
      if (flags.threads !== undefined) setNumThreads(number("--threads", flags.threads, true));
      const settings: SftSettings = {
        ...DEFAULT_SFT_SETTINGS,
        teacher: flags.teacher,
        seed: number("--seed", flags.seed, true),
        steps: flags.steps === undefined ? null : number("--steps", flags.steps, true),
        minutes:
          flags.minutes === undefined
            ? flags.steps === undefined
              ? DEFAULT_SFT_SETTINGS.minutes
              : null
            : number("--minutes", flags.minutes),
        batchGames: number("--batch-games", flags.batchGames, true),
        lr: number("--lr", flags.lr),
        warmupSteps: number("--warmup-steps", flags.warmupSteps, true),
        dtype: flags.dtype,
        configOverrides: configOverrides(flags),
        checkpointSeconds: number("--checkpoint-seconds", flags.checkpointSeconds),
        initFrom: flags.initFrom ?? null,
      };
      const runDir = flags.resume ?? flags.runDir ?? join("runs", `sft-${basename(flags.out)}`);
      // A new run writes a whole model directory and a run directory: it must not replace what an
      // earlier run (or a shipped model) left there unless asked.
      if (flags.resume === undefined && !flags.overwrite)
        for (const [flag, dir] of [
          ["--out", flags.out],
          ["--run-dir", runDir],
        ] as const)
          if (existsSync(dir) && readdirSync(dir).length > 0)
            throw new Error(
              `${flag} ${dir} already holds files (a model or an earlier run); choose another directory, ` +
                "resume the run with --resume, or pass --overwrite to replace them",
            );
      let stop = false;
      const onSigint = () => {
        if (stop) process.exit(130);
        stop = true;
        process.stderr.write(
          "\nstopping after this step (checkpoint + model are written); Ctrl-C again to abort\n",
        );
      };
      process.on("SIGINT", onSigint);
      const bar = new SingleBar({
        format:
          "sft |{bar}| {percentage}% | step {step} | loss {loss} | acc {acc} | {tps} tok/s | ETA {eta_formatted}",
        hideCursor: true,
      });
      let started = false;
      try {
        const result = await runSft({
          settings,
          runDir,
          outDir: flags.out,
          resume: flags.resume !== undefined,
          command: process.argv.slice(1).join(" "),
          shouldStop: () => stop,
          device: flags.device === "auto" ? bestDevice() : checkDevice(flags.device),
          snapshotSteps:
            flags.snapshotSteps === undefined ? null : number("--snapshot-steps", flags.snapshotSteps, true),
          onStep: (row, total) => {
            const goal = total.steps ?? Math.round(total.seconds ?? 1);
            const value = total.steps === null ? Math.min(goal, Math.round(row.elapsed_s)) : row.step;
            const payload = {
              step: row.step,
              loss: row.loss.toFixed(3),
              acc: row.token_accuracy.toFixed(3),
              tps: Math.round(row.tokens_per_second),
            };
            if (!started) {
              bar.start(goal, value, payload);
              started = true;
            } else bar.update(value, payload);
          },
        });
        if (started) bar.stop();
        process.stdout.write(
          `sft: ${result.steps} steps in ${(result.seconds / 60).toFixed(1)} min, final loss ${result.finalLoss.toFixed(4)}` +
            `${result.stoppedEarly ? " (stopped early)" : ""}\nmodel: ${flags.out}\nrun: ${runDir} (loss.jsonl, checkpoint/)\n`,
        );
      } finally {
        if (started) bar.stop();
        process.off("SIGINT", onSigint);
      }
    });
}
