import type { Command } from "commander";
import { isAddonUnavailable } from "../../engine/addon-errors.js";
import { trainingSecrets } from "../../eval/secrets.js";
import { resolveConfig } from "../../grpo/config/config.js";
import { isTinyModelPreset } from "../../grpo/config/presets.js";
import type { GrpoConfig } from "../../grpo/config/schema.js";
import {
  assumedEngineFacts,
  type EngineFacts,
  grpoMemoryEstimate,
  modelShapeOf,
} from "../../grpo/memory-check.js";
import { resolveModelDir } from "../../grpo/model-dir.js";
import { formatPlan, planRun } from "../../grpo/plan.js";
import { loadSeedDataset } from "../../task/seed-dataset.js";
import { splitTrainValidation } from "../../task/split.js";

/**
 * `wordle-grpo plan`: turn a configuration into steps, evaluations, checkpoints, disk and time,
 * and explain TRL's batch semantics. Invalid settings exit non-zero with the fix.
 */

interface PlanFlags {
  preset: string;
  config?: string;
  set: string[];
  targetSteps?: string;
  epochs?: string;
  secPerStep?: string;
  datasetSize?: string;
  model?: string;
  json?: boolean;
  nproc?: string;
  finalEval?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveNumber(flag: string, text: string | undefined, integer = false): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`${flag} expects a positive ${integer ? "integer" : "number"}, got "${text}"`);
  }
  return v;
}

/** Training prompts per epoch: the train part of the seed dataset's deterministic split by `seed`. */
function trainPromptCount(seed: number): { count: number; source: string } {
  const { rows, skipped } = loadSeedDataset();
  const { train, validation } = splitTrainValidation(rows, seed);
  return {
    count: train.length,
    source: `seed dataset: ${rows.length} valid rows (${skipped.length} skipped), ${validation.length} held for validation`,
  };
}

/**
 * The engine's answers for the estimate (device and dtype of `auto`, fused attention). Where the
 * libtorch addon is not built, plan still runs on assumed ones and says so.
 */
async function engineFactsFor(config: GrpoConfig): Promise<{ engine: EngineFacts; warning?: string }> {
  try {
    const { engineFacts } = await import("../../grpo/trainer-setup.js");
    return { engine: engineFacts(config) };
  } catch (err) {
    if (!isAddonUnavailable(err)) throw err;
    const engine = assumedEngineFacts(config);
    return {
      engine,
      warning: `the libtorch addon is not built: the memory estimate assumes ${engine.device}, ${engine.dtype} (train needs the addon)`,
    };
  }
}

export function register(program: Command): void {
  program
    .command("plan")
    .description(
      "show steps per epoch, total steps, evaluations, checkpoints, disk, peak memory and time for a configuration",
    )
    .option("--preset <name>", "starting preset: default, seed, trl", "default")
    .option("--config <file>", "JSON or TOML config file applied on top of the preset")
    .option("--set <key=value>", "override one setting (repeatable), e.g. --set lora.r=8", collect, [])
    .option("--target-steps <n>", "plan for this many optimizer steps (how many epochs is that?)")
    .option("--epochs <e>", "plan for this many epochs (how many steps is that?)")
    .option("--sec-per-step <s>", "seconds per step (measured or assumed) for the timeline")
    .option("--dataset-size <n>", "training prompts per epoch (default: the seed dataset's train split)")
    .option(
      "--model <dir>",
      "Hugging Face model directory for the adapter and memory sizes (default: config model, else Qwen2.5-0.5B shapes)",
    )
    .option("--nproc <n>", "data-parallel ranks (train --nproc n): the per-rank share of each step")
    .option(
      "--final-eval",
      "count train's before/after evaluation in the memory estimate (default with --preset tiny)",
    )
    .option("--no-final-eval", "leave it out, as train --no-final-eval")
    .option("--json", "print the plan as JSON")
    .action(async (flags: PlanFlags) => {
      const { config, warnings } = resolveConfig({
        preset: flags.preset,
        file: flags.config,
        overrides: flags.set,
      });
      const dataset =
        flags.datasetSize !== undefined
          ? { count: positiveNumber("--dataset-size", flags.datasetSize, true)!, source: "--dataset-size" }
          : config.mode === "multi_turn"
            ? {
                count: trainingSecrets().length,
                source: "all answers minus the evaluation's held-out secrets and FROST",
              }
            : trainPromptCount(config.seed);
      // The tiny template belongs to the shipped model: size its adapter, not a 0.5B one.
      const modelDir =
        flags.model ??
        config.model ??
        (config.prompt_template === "tiny" ? resolveModelDir(config) : undefined);
      const ranks = positiveNumber("--nproc", flags.nproc, true);
      const { engine, warning } = await engineFactsFor(config);
      if (warning !== undefined) warnings.push(warning);
      const plan = planRun(config, {
        datasetSize: dataset.count,
        datasetSource: dataset.source,
        targetSteps: positiveNumber("--target-steps", flags.targetSteps, true),
        epochs: positiveNumber("--epochs", flags.epochs),
        secPerStep: positiveNumber("--sec-per-step", flags.secPerStep),
        modelShape: modelDir === undefined ? undefined : modelShapeOf(modelDir),
        ranks,
        memory: grpoMemoryEstimate(config, engine, {
          modelDir,
          ranks,
          // As train decides it: on by default with the preset tiny.
          finalEvaluation: flags.finalEval ?? isTinyModelPreset(flags.preset ?? ""),
        }),
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ preset: flags.preset, ...plan, warnings }, null, 2)}\n`);
        return;
      }
      const title = `preset "${flags.preset}"${flags.config ? ` + ${flags.config}` : ""}${flags.set.length ? ` + ${flags.set.join(" ")}` : ""}`;
      process.stdout.write(`${formatPlan(plan, title)}\n`);
      for (const w of warnings) process.stdout.write(`! ${w}\n`);
    });
}
