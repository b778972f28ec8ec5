import type { MemoryModelShape } from "../model/memory-model.js";
import { formatMemoryEstimate, type MemoryEstimate } from "../model/memory-report.js";
import type { GrpoConfig, LoraConfig } from "./config/schema.js";
import { lossPlanNotes } from "./plan-loss.js";
import {
  checkSplit,
  itemsPerGenerationBatch,
  stepItemsName,
  stepsPerEpoch,
  totalSteps,
} from "./run-length.js";

/**
 * `wordle-grpo plan`: what a configuration means in steps, evaluations, checkpoints, disk and time,
 * before anything runs. The step arithmetic itself is run-length.ts, which the trainer uses too.
 */

/** The sizes the adapter, its files and the memory estimate depend on, from the model's parsed config.json. */
export type ModelShape = MemoryModelShape & { name: string };

/** Qwen2.5-0.5B(-Instruct) config.json values: the size the seed trained and the bench uses. */
export const QWEN25_05B_SHAPE: ModelShape = {
  name: "Qwen2.5-0.5B (assumed)",
  hiddenSize: 896,
  intermediateSize: 4864,
  numHiddenLayers: 24,
  numAttentionHeads: 14,
  numKeyValueHeads: 2,
  headDim: 64,
  vocabSize: 151936,
  tieWordEmbeddings: true,
  qkvBias: true,
  oProjBias: false,
  mlpBias: false,
};

/** [in_features, out_features] of each adaptable linear layer of a Qwen2/Llama block. */
function linearShapes(s: ModelShape): Record<string, [number, number]> {
  const q = s.numAttentionHeads * s.headDim;
  const kv = s.numKeyValueHeads * s.headDim;
  return {
    q_proj: [s.hiddenSize, q],
    k_proj: [s.hiddenSize, kv],
    v_proj: [s.hiddenSize, kv],
    o_proj: [q, s.hiddenSize],
    gate_proj: [s.hiddenSize, s.intermediateSize],
    up_proj: [s.hiddenSize, s.intermediateSize],
    down_proj: [s.intermediateSize, s.hiddenSize],
  };
}

/** LoRA parameters: each adapted layer adds A (r × in) and B (out × r). */
export function loraParameterCount(
  shape: ModelShape,
  lora: Pick<LoraConfig, "r" | "target_modules">,
): number {
  const shapes = linearShapes(shape);
  let perBlock = 0;
  for (const module of lora.target_modules) {
    const io = shapes[module];
    if (io === undefined) {
      throw new Error(
        `lora.target_modules: \`${module}\` is not a linear layer of a Qwen2/Llama block ` +
          `(known: ${Object.keys(shapes).join(", ")})`,
      );
    }
    perBlock += lora.r * (io[0] + io[1]);
  }
  return perBlock * shape.numHiddenLayers;
}

export interface PlanOptions {
  /** Training prompts per epoch (the seed split's train part: 60). */
  datasetSize: number;
  /** Where datasetSize came from, for the report. */
  datasetSource?: string;
  /** Plan for this many optimizer steps (sets max_steps). */
  targetSteps?: number;
  /** Plan for this many epochs (overrides num_train_epochs and max_steps). */
  epochs?: number;
  /** Measured or assumed seconds per optimizer step, for the timeline. */
  secPerStep?: number;
  /** Model shape for the adapter size; Qwen2.5-0.5B when absent. */
  modelShape?: ModelShape;
  /** Data-parallel ranks (train --nproc N): the step is split over them. Default 1. */
  ranks?: number;
  /** The peak-memory estimate of one process (memory-check.ts grpoMemoryEstimate), to report. */
  memory?: MemoryEstimate;
}

export interface PlanAlternative {
  change: string;
  total_steps: number;
}

export interface RunPlan {
  dataset_size: number;
  dataset_source: string;
  num_generations: number;
  /** single_state: completions and prompts; multi_turn: games and secrets. */
  mode: GrpoConfig["mode"];
  completions_per_step: number;
  prompts_per_step: number;
  prompts_dropped_per_epoch: number;
  /** Data parallelism: the global step above, split over this many ranks by whole groups. */
  ranks: {
    count: number;
    prompts_per_rank: number;
    completions_per_rank: number;
  };
  steps_per_epoch: number;
  num_train_epochs: number;
  total_steps: number;
  /** What decided total_steps. */
  steps_from: "max_steps" | "epochs" | "target_steps";
  /** Epochs needed for the target step count (fractional). */
  epochs_for_target: number | null;
  logged_rows: number;
  evals: number;
  eval_steps: number | null;
  saves: number;
  checkpoints_kept: number;
  disk: {
    model: string;
    lora_parameters: number;
    adapter_bytes: number;
    optimizer_state_bytes: number;
    checkpoint_bytes: number;
    /** Kept checkpoints + best/ + final/ + logs. */
    total_bytes: number;
  };
  timeline: {
    sec_per_step: number;
    total_seconds: number;
    seconds_per_epoch: number;
    events: Array<{ step: number; what: string; seconds: number }>;
  } | null;
  /** Peak memory of one process, by part (null when not estimated). */
  memory: MemoryEstimate | null;
  /** The "batch counts prompts" reading (batch × epochs), when it differs from TRL's. */
  naive_total_steps: number | null;
  alternatives: PlanAlternative[];
  notes: string[];
}

const BYTES_PER_PARAM = 4; // adapters and optimizer state are kept in float32
const METRIC_ROW_BYTES = 1_500; // one metrics.jsonl row with the monitor's fields, roughly
const SAMPLE_ROW_BYTES = 600 * 2; // two sample completions per logging step, roughly

export function planRun(config: GrpoConfig, options: PlanOptions): RunPlan {
  const N = options.datasetSize;
  if (!Number.isInteger(N) || N <= 0)
    throw new Error(`plan: dataset size must be a positive integer, got ${N}`);
  let cfg = config;
  let stepsFrom: RunPlan["steps_from"] = config.max_steps > 0 ? "max_steps" : "epochs";
  if (options.targetSteps !== undefined && options.epochs !== undefined) {
    throw new Error("plan: give either --target-steps or --epochs, not both");
  }
  if (options.targetSteps !== undefined) {
    if (!Number.isInteger(options.targetSteps) || options.targetSteps <= 0) {
      throw new Error(`plan: --target-steps must be a positive integer, got ${options.targetSteps}`);
    }
    cfg = { ...cfg, max_steps: options.targetSteps };
    stepsFrom = "target_steps";
  } else if (options.epochs !== undefined) {
    if (!(options.epochs > 0)) throw new Error(`plan: --epochs must be > 0, got ${options.epochs}`);
    cfg = { ...cfg, max_steps: -1, num_train_epochs: options.epochs };
    stepsFrom = "epochs";
  }

  const G = cfg.num_generations;
  const multiTurn = cfg.mode === "multi_turn";
  // multi_turn: a step plays G whole games for each of its secrets (the "prompts" of this plan).
  const promptsPerStep = itemsPerGenerationBatch(cfg);
  const completionsPerStep = multiTurn
    ? promptsPerStep * G
    : cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps;
  const perEpoch = stepsPerEpoch(cfg, N);
  const rankCount = options.ranks ?? 1;
  if (!Number.isInteger(rankCount) || rankCount < 1)
    throw new Error(`plan: --nproc must be a positive integer, got ${rankCount}`);
  checkSplit(stepItemsName(cfg), promptsPerStep, rankCount);
  if (perEpoch === 0) {
    throw new Error(
      `plan: an epoch of ${N} prompts has no complete step of ${promptsPerStep} prompts ` +
        `(per_device_train_batch_size ${cfg.per_device_train_batch_size} × gradient_accumulation_steps ` +
        `${cfg.gradient_accumulation_steps} / num_generations ${G}). Fix: lower per_device_train_batch_size.`,
    );
  }
  const total = totalSteps(cfg, N);
  const epochsForTarget = stepsFrom === "epochs" ? null : total / perEpoch;

  const evals = cfg.eval_steps === null ? 0 : Math.floor(total / cfg.eval_steps);
  const saves = Math.floor(total / cfg.save_steps);
  const kept = cfg.save_total_limit === null ? saves : Math.min(saves, cfg.save_total_limit);

  const shape = options.modelShape ?? QWEN25_05B_SHAPE;
  const loraParams = loraParameterCount(shape, cfg.lora);
  const adapterBytes = loraParams * BYTES_PER_PARAM;
  const optimizerStates = cfg.optim === "adamw" ? 2 : cfg.momentum > 0 ? 1 : 0;
  const optimizerBytes = loraParams * BYTES_PER_PARAM * optimizerStates;
  const checkpointBytes = adapterBytes + optimizerBytes;
  const loggedRows = Math.floor(total / cfg.logging_steps);
  const logBytes = loggedRows * (METRIC_ROW_BYTES + SAMPLE_ROW_BYTES) + evals * METRIC_ROW_BYTES;
  const totalBytes = kept * checkpointBytes + 2 * adapterBytes + logBytes;

  // The reading the original plan used: "batch" as prompts, so batch 2 over 60 prompts = 30 steps/epoch.
  const naivePerEpoch = Math.floor(N / cfg.per_device_train_batch_size) * cfg.num_iterations;
  const naiveTotal =
    !multiTurn && stepsFrom === "epochs" && G > 1 && naivePerEpoch !== perEpoch
      ? Math.ceil(cfg.num_train_epochs * naivePerEpoch)
      : null;

  const alternatives: PlanAlternative[] = [];
  const notes: string[] = multiTurn
    ? [
        `multi_turn: a step plays num_generations ${G} games for each of multi_turn.secrets_per_step ${promptsPerStep} ` +
          `secrets = ${completionsPerStep} games; the dataset is the training secrets, ${N} / ${promptsPerStep} = ${perEpoch} steps per epoch.`,
      ]
    : [
        `TRL semantics: per_device_train_batch_size (${cfg.per_device_train_batch_size}) counts completions; with ` +
          `gradient_accumulation_steps ${cfg.gradient_accumulation_steps} a step uses ${completionsPerStep} completions = ` +
          `${promptsPerStep} prompt${promptsPerStep === 1 ? "" : "s"} × num_generations ${G}.`,
        `${N} prompts / ${promptsPerStep} per step${cfg.num_iterations > 1 ? ` × num_iterations ${cfg.num_iterations}` : ""} ` +
          `= ${perEpoch} steps per epoch` +
          (N % promptsPerStep !== 0
            ? ` (${N % promptsPerStep} prompt(s) dropped each epoch, as TRL's sampler does).`
            : "."),
      ];
  if (naiveTotal !== null) {
    notes.push(
      `Reading the batch as prompts would give ${naivePerEpoch} steps per epoch and ` +
        `${fmt(cfg.num_train_epochs)} epochs = ${naiveTotal.toLocaleString("en-US")} steps; in TRL it is ` +
        `${total.toLocaleString("en-US")} steps, because each step sees only ${promptsPerStep} prompt${promptsPerStep === 1 ? "" : "s"}.`,
    );
    const tryAlt = (change: string, alt: GrpoConfig) => {
      const steps = totalSteps(alt, N);
      if (steps === naiveTotal) alternatives.push({ change, total_steps: steps });
    };
    const b = cfg.per_device_train_batch_size;
    tryAlt(
      `per_device_train_batch_size ${b * G} (${(b * G * cfg.gradient_accumulation_steps) / G} prompts/step)`,
      {
        ...cfg,
        per_device_train_batch_size: b * G,
      },
    );
    tryAlt(`gradient_accumulation_steps ${cfg.gradient_accumulation_steps * G}`, {
      ...cfg,
      gradient_accumulation_steps: cfg.gradient_accumulation_steps * G,
    });
    tryAlt(`num_train_epochs ${fmt(cfg.num_train_epochs / G)}`, {
      ...cfg,
      num_train_epochs: cfg.num_train_epochs / G,
    });
    tryAlt(`max_steps ${naiveTotal}`, { ...cfg, max_steps: naiveTotal });
    if (alternatives.length > 0) {
      notes.push(
        `To get ${naiveTotal.toLocaleString("en-US")} steps: ${alternatives.map((a) => a.change).join("; or ")}.`,
      );
    }
  }
  if (epochsForTarget !== null) {
    notes.push(
      `${total.toLocaleString("en-US")} steps = ${fmt(epochsForTarget)} epochs of ${perEpoch} steps` +
        (stepsFrom === "target_steps"
          ? ` (set max_steps ${total}, or num_train_epochs ${fmt(epochsForTarget)}).`
          : "."),
    );
  }
  if (rankCount > 1)
    notes.push(
      `${rankCount} ranks: each plays ${promptsPerStep / rankCount} of the step's ${promptsPerStep} ${multiTurn ? "secrets" : "prompts"} ` +
        `(${completionsPerStep / rankCount} ${multiTurn ? "games" : "completions"}) and every ${rankCount}th micro-batch of ` +
        `per_device_train_batch_size ${cfg.per_device_train_batch_size} rows; the gradients are summed, so the step, its ` +
        `metrics and the steps per epoch are those of one process.`,
    );
  notes.push(...lossPlanNotes(cfg));
  if (cfg.save_total_limit !== null && saves > cfg.save_total_limit) {
    notes.push(
      `save_total_limit ${cfg.save_total_limit}: of ${saves} checkpoints the newest ${cfg.save_total_limit} are kept, ` +
        `plus best/ and final/ (the best checkpoint is never deleted).`,
    );
  }

  let timeline: RunPlan["timeline"] = null;
  const sec = options.secPerStep;
  if (sec !== undefined) {
    if (!(sec > 0)) throw new Error(`plan: --sec-per-step must be > 0, got ${sec}`);
    const events: Array<{ step: number; what: string; seconds: number }> = [];
    if (cfg.eval_steps !== null && cfg.eval_steps <= total) {
      events.push({ step: cfg.eval_steps, what: "first evaluation", seconds: cfg.eval_steps * sec });
    }
    if (cfg.save_steps <= total)
      events.push({ step: cfg.save_steps, what: "first checkpoint", seconds: cfg.save_steps * sec });
    events.push({ step: perEpoch, what: "end of epoch 1", seconds: perEpoch * sec });
    for (const m of cfg.milestones) {
      events.push({
        step: m.step,
        what: `milestone: ${m.label ?? m.expect}${m.step > total ? " (after the run ends!)" : ""}`,
        seconds: m.step * sec,
      });
    }
    events.push({ step: total, what: "end of training", seconds: total * sec });
    events.sort((a, b) => a.step - b.step);
    timeline = { sec_per_step: sec, total_seconds: total * sec, seconds_per_epoch: perEpoch * sec, events };
  }
  const lateMilestones = cfg.milestones.filter((m) => m.step > total);
  if (lateMilestones.length > 0) {
    notes.push(
      `Milestone(s) at step ${lateMilestones.map((m) => m.step).join(", ")} fall after the last step (${total}); ` +
        `they will stay pending.`,
    );
  }

  return {
    dataset_size: N,
    dataset_source: options.datasetSource ?? "given",
    num_generations: G,
    mode: cfg.mode,
    completions_per_step: completionsPerStep,
    prompts_per_step: promptsPerStep,
    prompts_dropped_per_epoch: N % promptsPerStep,
    ranks: {
      count: rankCount,
      prompts_per_rank: promptsPerStep / rankCount,
      completions_per_rank: completionsPerStep / rankCount,
    },
    steps_per_epoch: perEpoch,
    num_train_epochs: stepsFrom === "epochs" ? cfg.num_train_epochs : total / perEpoch,
    total_steps: total,
    steps_from: stepsFrom,
    epochs_for_target: epochsForTarget,
    logged_rows: loggedRows,
    evals,
    eval_steps: cfg.eval_steps,
    saves,
    checkpoints_kept: kept,
    disk: {
      model: shape.name,
      lora_parameters: loraParams,
      adapter_bytes: adapterBytes,
      optimizer_state_bytes: optimizerBytes,
      checkpoint_bytes: checkpointBytes,
      total_bytes: totalBytes,
    },
    timeline,
    memory: options.memory ?? null,
    naive_total_steps: naiveTotal,
    alternatives,
    notes,
  };
}

/** A number without float noise: 35, 17.5, 0.333. */
function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toFixed(3)));
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** The plan as console text. */
export function formatPlan(plan: RunPlan, title: string): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const lines = [
    `Plan for ${title}`,
    `  dataset            ${n(plan.dataset_size)} training ${plan.mode === "multi_turn" ? "secrets" : "prompts"} (${plan.dataset_source})`,
    plan.mode === "multi_turn"
      ? `  per step           ${n(plan.completions_per_step)} games = ${plan.prompts_per_step} secret(s) × G ${plan.num_generations}`
      : `  per step           ${n(plan.completions_per_step)} completions = ${plan.prompts_per_step} prompt(s) × G ${plan.num_generations}`,
    ...(plan.ranks.count > 1
      ? [
          `  per rank           ${n(plan.ranks.completions_per_rank)} ${plan.mode === "multi_turn" ? "games" : "completions"} = ${plan.ranks.prompts_per_rank} ${plan.mode === "multi_turn" ? "secret(s)" : "prompt(s)"} × G, on each of ${plan.ranks.count} ranks`,
        ]
      : []),
    `  steps per epoch    ${n(plan.steps_per_epoch)}`,
    `  epochs             ${fmt(plan.num_train_epochs)}`,
    `  total steps        ${n(plan.total_steps)} (from ${plan.steps_from.replace("_", " ")})`,
    `  logged rows        ${n(plan.logged_rows)}`,
    `  evaluations        ${n(plan.evals)}${plan.eval_steps === null ? " (eval_steps not set: final only)" : ` (every ${plan.eval_steps} steps)`}`,
    `  checkpoints        ${n(plan.saves)} saved, ${n(plan.checkpoints_kept)} kept`,
    `  adapter            ${n(plan.disk.lora_parameters)} LoRA parameters = ${formatBytes(plan.disk.adapter_bytes)} (${plan.disk.model})`,
    `  checkpoint size    ${formatBytes(plan.disk.checkpoint_bytes)} (adapter + optimizer state)`,
    `  disk, at most      ${formatBytes(plan.disk.total_bytes)} (kept checkpoints + best/ + final/ + logs)`,
    ...(plan.memory === null ? [] : formatMemoryEstimate(plan.memory)),
  ];
  if (plan.timeline) {
    const t = plan.timeline;
    lines.push(
      `  time               ${formatDuration(t.total_seconds)} at ${t.sec_per_step} s/step (${formatDuration(t.seconds_per_epoch)} per epoch)`,
      "  timeline",
      ...t.events.map(
        (e) => `    step ${n(e.step).padStart(7)}  ${formatDuration(e.seconds).padStart(11)}  ${e.what}`,
      ),
    );
  }
  const notes = [...plan.notes, ...(plan.memory?.notes ?? [])];
  if (plan.memory !== null && plan.ranks.count > 1)
    notes.push(
      `Memory is per rank: ${plan.ranks.count} ranks on one machine need ${plan.ranks.count} times it.`,
    );
  lines.push("", ...notes.map((note) => `* ${note}`));
  return lines.join("\n");
}
