/**
 * Supervised training of a small Qwen2 model on teacher games (`wordle-grpo sft`).
 *
 * One step: B teacher games on secrets drawn from the TRAINING secrets (the evaluation's held-out
 * reserve is never played), each rendered as one multi-turn conversation (game-sequence.ts),
 * right-padded into a batch; the loss is the mean next-token cross-entropy over the learned tokens
 * (the assistant guesses):
 *
 *   loss = - sum_{b,t} learn[b,t] * log p(ids[b,t] | ids[b,<t]) / sum learn
 *
 * Precision: with dtype bfloat16 the forward and backward run on a bf16 copy of the weights
 * (oneDNN's bf16 matmuls are about 4x faster than fp32 on CPUs with AVX-512 bf16), while AdamW
 * updates a float32 master copy (bf16 has 8 bits of mantissa: small updates would round away),
 * which is copied back into the bf16 weights after every step. With float32, one set of weights.
 *
 * AdamW with linear warmup and a cosine decay (schedule.ts) over the step budget, or over the
 * clock for a time budget. Checkpoints (checkpoint.ts) every `checkpointSeconds` and at the end;
 * a resumed run continues the same secret/teacher stream, optimiser and schedule.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Device, DType } from "../engine/dtype.js";
import {
  AdamW,
  clipGradNorm,
  keep,
  manualSeed,
  noGrad,
  scope,
  setRngState,
  tensor,
} from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { HELD_OUT_SEED, reservedSecrets, trainingSecrets } from "../eval/secrets.js";
import { type ModelConfig, parseHfConfig } from "../model/hf-config.js";
import { Tokenizer } from "../model/tokenizer.js";
import { CausalLM } from "../model/transformer.js";
import { loadWeights, type ModelWeights } from "../model/weights.js";
import { acquireRunLock } from "../run/run-lock.js";
import { Rng } from "../util/rng.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { type GameSequence, SequenceBuilder } from "./game-sequence.js";
import { initWeights } from "./init-weights.js";
import { checkSftMemory } from "./memory-estimate.js";
import { readConfigOverrides, saveModelDir, tinyModelConfigJson } from "./model-files.js";
import { cosineLr } from "./schedule.js";
import { parseTeacherSpec, TeacherGames } from "./teacher.js";
import { buildTinyTokenizerFiles } from "./tiny-tokenizer.js";

export interface SftSettings {
  /** Teacher spec: random-consistent | entropy | mix:NAME=W,... (teacher.ts). */
  teacher: string;
  seed: number;
  /** Budget: a number of steps, or minutes of training (exactly one is set). */
  steps: number | null;
  minutes: number | null;
  /** Games per step. */
  batchGames: number;
  /** Peak learning rate. */
  lr: number;
  /** The cosine ends at minLrRatio x lr. */
  minLrRatio: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  /** Compute dtype of the forward/backward (the master weights are always float32). */
  dtype: "bfloat16" | "float32";
  /** config.json keys over the default tiny architecture. */
  configOverrides: Record<string, unknown>;
  checkpointSeconds: number;
  /**
   * Start from the weights of this HF model directory instead of random ones; its config.json
   * gives the architecture unless configOverrides is set.
   */
  initFrom?: string | null;
}

export const DEFAULT_SFT_SETTINGS: SftSettings = {
  teacher: "random-consistent",
  seed: 0,
  steps: null,
  minutes: 10,
  batchGames: 128,
  lr: 2e-3,
  minLrRatio: 0.05,
  warmupSteps: 30,
  weightDecay: 0.01,
  gradClip: 1,
  // bfloat16 pays off only with AVX-512 bf16 (oneDNN); on an AVX2-only CPU a bf16 linear measured
  // ~30x slower than float32 (docs/sft.md), so float32 is the safe default.
  dtype: "float32",
  configOverrides: {},
  checkpointSeconds: 120,
};

/** One row of RUN/loss.jsonl. */
export interface SftLogRow {
  step: number;
  loss: number;
  /** Share of learned tokens the model's argmax already predicts. */
  token_accuracy: number;
  learning_rate: number;
  grad_norm: number;
  games: number;
  tokens: number;
  step_time: number;
  tokens_per_second: number;
  elapsed_s: number;
}

export interface SftRunOptions {
  settings: SftSettings;
  /** Run directory: settings.json, loss.jsonl, checkpoint/. */
  runDir: string;
  /** Where the final HF model directory is written. */
  outDir: string;
  /** Continue the run in runDir from its checkpoint (its recorded settings are used). */
  resume?: boolean;
  /** The command line, recorded in the model directory. */
  command?: string;
  onStep?: (row: SftLogRow, total: { steps: number | null; seconds: number | null }) => void;
  /** Checked between steps; when it returns true the run checkpoints and stops early. */
  shouldStop?: () => boolean;
  /**
   * Where the weights live and the steps run (default cpu). Not a setting: the teacher games and
   * the schedule do not depend on it, and a run may resume on another device.
   */
  device?: Device;
  /**
   * Also write the model as an HF directory RUN/snapshots/step-N every this many steps (a learning
   * curve to pick a start model from; each snapshot is one model's size on disk).
   */
  snapshotSteps?: number | null;
}

export interface SftResult {
  steps: number;
  seconds: number;
  finalLoss: number;
  stoppedEarly: boolean;
}

function checkSettings(s: SftSettings): void {
  const budget = (s.steps === null ? 0 : 1) + (s.minutes === null ? 0 : 1);
  if (budget !== 1) throw new Error("sft: give exactly one budget, --steps N or --minutes M");
  if (s.steps !== null && !(Number.isInteger(s.steps) && s.steps > 0))
    throw new Error(`sft: --steps must be a positive integer, got ${s.steps}`);
  if (s.minutes !== null && !(s.minutes > 0)) throw new Error(`sft: --minutes must be > 0, got ${s.minutes}`);
  if (!(Number.isInteger(s.batchGames) && s.batchGames > 0))
    throw new Error(`sft: --batch-games must be a positive integer, got ${s.batchGames}`);
  if (!(s.lr > 0)) throw new Error(`sft: --lr must be > 0, got ${s.lr}`);
  if (s.dtype !== "bfloat16" && s.dtype !== "float32")
    throw new Error(`sft: --dtype must be bfloat16 or float32, got ${s.dtype}`);
  parseTeacherSpec(s.teacher);
}

/** The weight tensors in a fixed order (the tied head once), for the optimiser. */
function weightList(w: ModelWeights): Tensor[] {
  const out: Tensor[] = [w.embedTokens];
  for (const l of w.layers) {
    out.push(l.inputLayernorm, l.postAttentionLayernorm);
    for (const lin of [l.qProj, l.kProj, l.vProj, l.oProj, l.gateProj, l.upProj, l.downProj]) {
      out.push(lin.weight);
      if (lin.bias) out.push(lin.bias);
    }
  }
  out.push(w.norm);
  if (w.lmHead !== w.embedTokens) out.push(w.lmHead);
  return out;
}

/** The same structure with every tensor mapped (the tied head stays tied). */
function mapWeights(w: ModelWeights, f: (t: Tensor) => Tensor): ModelWeights {
  const lin = (l: { weight: Tensor; bias: Tensor | null }) => ({
    weight: f(l.weight),
    bias: l.bias ? f(l.bias) : null,
  });
  const embedTokens = f(w.embedTokens);
  return {
    embedTokens,
    layers: w.layers.map((l) => ({
      inputLayernorm: f(l.inputLayernorm),
      qProj: lin(l.qProj),
      kProj: lin(l.kProj),
      vProj: lin(l.vProj),
      oProj: lin(l.oProj),
      postAttentionLayernorm: f(l.postAttentionLayernorm),
      gateProj: lin(l.gateProj),
      upProj: lin(l.upProj),
      downProj: lin(l.downProj),
    })),
    norm: f(w.norm),
    lmHead: w.lmHead === w.embedTokens ? embedTokens : f(w.lmHead),
  };
}

/** Right-pads sequences into [B, S-1] inputs, targets and a float mask of learned targets. */
export function packBatch(
  seqs: readonly GameSequence[],
  padId: number,
  device?: Device,
): {
  inputs: Tensor;
  targets: Tensor;
  mask: Tensor;
  learned: number;
  tokens: number;
} {
  const width = Math.max(...seqs.map((s) => s.ids.length)) - 1;
  const b = seqs.length;
  const inputs = new BigInt64Array(b * width).fill(BigInt(padId));
  const targets = new BigInt64Array(b * width).fill(BigInt(padId));
  const mask = new Float32Array(b * width);
  let learned = 0;
  let tokens = 0;
  seqs.forEach((s, r) => {
    tokens += s.ids.length;
    for (let t = 0; t + 1 < s.ids.length; t++) {
      inputs[r * width + t] = BigInt(s.ids[t]);
      targets[r * width + t] = BigInt(s.ids[t + 1]);
      if (s.learn[t + 1]) {
        mask[r * width + t] = 1;
        learned++;
      }
    }
  });
  return {
    inputs: tensor(inputs, { shape: [b, width], device }),
    targets: tensor(targets, { shape: [b, width], device }),
    mask: tensor(mask, { shape: [b, width], device }),
    learned,
    tokens,
  };
}

/** Mean next-token cross-entropy over the learned targets of a packBatch batch (logits [B, S-1, V]). */
export function learnedTokenCrossEntropy(
  logits: Tensor,
  batch: Pick<ReturnType<typeof packBatch>, "targets" | "mask" | "learned">,
): Tensor {
  const picked = logits.logSoftmax(-1).gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1);
  return picked.mul(batch.mask).sum().neg().div(batch.learned);
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export async function runSft(options: SftRunOptions): Promise<SftResult> {
  mkdirSync(options.runDir, { recursive: true });
  // One process per run directory: a second sft (or train) on it fails naming the holder.
  const lock = acquireRunLock(options.runDir, options.resume ? "sft --resume" : "sft");
  try {
    return await runSftLocked(options);
  } finally {
    lock.release();
  }
}

async function runSftLocked(options: SftRunOptions): Promise<SftResult> {
  const { runDir, outDir } = options;
  const settingsPath = join(runDir, "settings.json");
  let settings: SftSettings;
  if (options.resume) {
    if (!existsSync(settingsPath)) throw new Error(`sft --resume ${runDir}: no settings.json in it`);
    settings = { ...DEFAULT_SFT_SETTINGS, ...readJson<SftSettings>(settingsPath) };
  } else {
    settings = options.settings;
    checkSettings(settings);
  }
  // --init-from without config keys takes the architecture of the model it starts from.
  const overrides =
    settings.initFrom && Object.keys(settings.configOverrides).length === 0
      ? readConfigOverrides(join(settings.initFrom, "config.json"))
      : settings.configOverrides;
  const configJson = tinyModelConfigJson(overrides);
  const config: ModelConfig = parseHfConfig(configJson, "sft model config");
  const tokFiles = buildTinyTokenizerFiles();
  const tokenizer = new Tokenizer(tokFiles.tokenizer, tokFiles.tokenizerConfig, {
    source: "tiny tokenizer",
    chatTemplate: tokFiles.tokenizerConfig.chat_template as string,
  });
  const builder = new SequenceBuilder(tokenizer);
  const games = new TeacherGames(parseTeacherSpec(settings.teacher));
  const secrets = trainingSecrets();
  const reserved = reservedSecrets();
  // Refuse a run that cannot fit before its weights exist (WORDLE_SKIP_MEMORY_CHECK=1 overrides).
  checkSftMemory(config, settings, options.device ?? "cpu", tokenizer);
  // Written once the run is known to start, so a refused run leaves nothing to --overwrite.
  if (!options.resume) writeFileSync(settingsPath, `${JSON.stringify(settings, null, 2)}\n`);

  // Master weights (float32) and the optimiser over them.
  manualSeed(settings.seed);
  let masters: ModelWeights;
  let rng = new Rng(settings.seed);
  let step = 0;
  let seconds = 0;
  let gamesSeen = 0;
  const loaded = options.resume ? loadCheckpoint(runDir, config) : null;
  if (loaded) {
    masters = loaded.masters;
    rng = new Rng(loaded.progress.rng);
    step = loaded.progress.step;
    seconds = loaded.progress.seconds;
    gamesSeen = loaded.progress.gamesSeen;
    setRngState(new Uint8Array(Buffer.from(loaded.progress.torchRng, "base64")));
  } else if (settings.initFrom) {
    masters = loadWeights(settings.initFrom, config, { dtype: "float32" });
  } else {
    masters = initWeights(config);
  }
  const device: Device = options.device ?? "cpu";
  if (device !== "cpu") {
    const onCpu = masters;
    masters = mapWeights(onCpu, (t) => keep(noGrad(() => t.to(device))));
    for (const t of weightList(onCpu)) t.dispose();
  }
  const masterList = weightList(masters);
  for (const t of masterList) t.setRequiresGrad(true);
  const optimizer = new AdamW(masterList, {
    lr: settings.lr,
    weightDecay: settings.weightDecay,
    betas: [0.9, 0.95],
  });
  if (loaded) optimizer.loadState(loaded.optimizerState);
  const compute: DType = settings.dtype;
  const work =
    compute === "float32" ? masters : mapWeights(masters, (t) => keep(noGrad(() => t.to(compute))));
  const workList = weightList(work);
  if (work !== masters) for (const t of workList) t.setRequiresGrad(true);
  const model = new CausalLM(config, work, compute, device);

  // The loss log continues from the checkpoint's step (rows past it came from a lost run).
  const logPath = join(runDir, "loss.jsonl");
  if (options.resume && existsSync(logPath)) {
    const kept = readFileSync(logPath, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "" && (JSON.parse(line) as SftLogRow).step <= step);
    writeFileSync(logPath, kept.map((l) => `${l}\n`).join(""));
  } else if (!options.resume) writeFileSync(logPath, "");

  const budgetSeconds = settings.minutes === null ? null : settings.minutes * 60;
  const progressOf = () =>
    settings.steps !== null ? step / settings.steps : seconds / (budgetSeconds as number);
  const done = () =>
    settings.steps !== null ? step >= settings.steps : seconds >= (budgetSeconds as number);
  let lastCheckpoint = seconds;
  let finalLoss = Number.NaN;
  let stoppedEarly = false;
  const checkpoint = () =>
    saveCheckpoint(runDir, configJson, config, masters, optimizer, {
      step,
      seconds,
      gamesSeen,
      rng: rng.state(),
    });

  /** The model as an HF directory, with how it was made (the final model and every snapshot). */
  const writeModel = (dir: string) =>
    saveModelDir(dir, {
      configJson,
      config,
      weights: masters,
      extra: {
        "training.json": {
          made_by: "wordle-grpo sft",
          command: options.command ?? null,
          settings,
          steps: step,
          seconds_trained: Math.round(seconds),
          games_seen: gamesSeen,
          final_loss: finalLoss,
          stopped_early: stoppedEarly,
          prompt_template: "tiny",
        },
        "held_out.json": {
          description:
            "Secrets never used as training secrets: the evaluation's held-out reserve (src/eval/secrets.ts)",
          seed: HELD_OUT_SEED,
          secrets: [...reserved].sort(),
        },
      },
    });
  const snapshotSteps = options.snapshotSteps ?? null;
  if (snapshotSteps !== null && !(Number.isInteger(snapshotSteps) && snapshotSteps > 0))
    throw new Error(`sft: --snapshot-steps must be a positive integer, got ${snapshotSteps}`);

  while (!done()) {
    if (options.shouldStop?.()) {
      stoppedEarly = true;
      break;
    }
    const started = performance.now();
    const seqs: GameSequence[] = [];
    for (let g = 0; g < settings.batchGames; g++) {
      const secret = secrets[rng.int(secrets.length)];
      if (reserved.has(secret)) throw new Error(`sft: drew the held-out secret ${secret} (a bug)`);
      seqs.push(builder.build(games.play(secret, rng)));
    }
    const lr = cosineLr(settings.lr, step, settings.warmupSteps, progressOf(), settings.minLrRatio);
    optimizer.lr = lr;
    const { loss, correct, learned, tokens, gradNorm } = scope(() => {
      const batch = packBatch(seqs, tokenizer.padTokenId, device);
      const logits = model.forward(batch.inputs); // float32 [B, S-1, V]
      const lossT = learnedTokenCrossEntropy(logits, batch);
      lossT.backward();
      const hits = noGrad(() => logits.argmax(-1).eq(batch.targets).float().mul(batch.mask).sum().item());
      if (work !== masters)
        noGrad(() => {
          workList.forEach((w, i) => {
            masterList[i].setGrad(w.grad ? w.grad.float() : null);
          });
        });
      const norm = clipGradNorm(masterList, settings.gradClip);
      return {
        loss: lossT.item(),
        correct: hits,
        learned: batch.learned,
        tokens: batch.tokens,
        gradNorm: norm,
      };
    });
    if (Number.isFinite(gradNorm) && Number.isFinite(loss)) {
      optimizer.step();
      if (work !== masters)
        noGrad(() => {
          workList.forEach((w, i) => {
            w.copy_(masterList[i]);
          });
        });
    }
    optimizer.zeroGrad();
    for (const w of workList) w.zeroGrad();
    const stepTime = (performance.now() - started) / 1000;
    step++;
    seconds += stepTime;
    gamesSeen += settings.batchGames;
    finalLoss = loss;
    const row: SftLogRow = {
      step,
      loss,
      token_accuracy: correct / learned,
      learning_rate: lr,
      grad_norm: gradNorm,
      games: gamesSeen,
      tokens,
      step_time: stepTime,
      tokens_per_second: tokens / stepTime,
      elapsed_s: seconds,
    };
    appendFileSync(logPath, `${JSON.stringify(row)}\n`);
    options.onStep?.(row, { steps: settings.steps, seconds: budgetSeconds });
    if (snapshotSteps !== null && step % snapshotSteps === 0)
      writeModel(join(runDir, "snapshots", `step-${step}`));
    if (seconds - lastCheckpoint >= settings.checkpointSeconds) {
      checkpoint();
      lastCheckpoint = seconds;
    }
    // Let a Ctrl-C handler or a progress bar run between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }
  checkpoint();
  writeModel(outDir);
  model.dispose();
  if (work !== masters) for (const t of masterList) t.dispose();
  optimizer.dispose();
  return { steps: step, seconds, finalLoss, stoppedEarly };
}
