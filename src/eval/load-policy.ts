/**
 * Build an evaluation policy from command-line style settings: a solver, or a model directory
 * (default: the model shipped in models/) with an optional LoRA adapter. The model stack is
 * imported only when a model is asked for, so solver evaluations never load the libtorch addon.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DType } from "../engine/dtype.js";
import { type SamplingSettings, samplingSettingsOf } from "../model/logits-processors.js";
import { MODELS_DIR } from "../paths.js";
import { GUESS_CONSTRAINT_MODES, type GuessConstraintMode } from "../task/guess-constraint.js";
import { PROMPT_TEMPLATES, type PromptTemplateName } from "../task/prompt.js";
import type { SolverName } from "../wordle/solver.js";
import type { ModelPolicy } from "./model-policy.js";
import type { GuessPolicy } from "./policy.js";
import { solverPolicy } from "./solver-policy.js";

/** Sampling settings (temperature etc.) make decoding sampled; without a temperature it is greedy. */
export interface PolicySettings extends SamplingSettings {
  /** Play a solver instead of a model. */
  solver?: SolverName;
  opener?: string;
  /** Model directory (Hugging Face layout); default: the one shipped in models/. */
  model?: string;
  /** PEFT LoRA adapter directory to load onto the model. */
  adapter?: string;
  /** "auto" (default: cuda, then mps, else cpu), "cpu", "cuda", "cuda:N", "mps". */
  device?: string;
  /**
   * "auto" (default: bfloat16 where its matmuls are fast, except a small model on the CPU, else
   * float32), "float32", "bfloat16", "float16".
   */
  dtype?: string;
  template?: PromptTemplateName;
  /** Show refused guesses in the prompt; absent: as the adapter (else the model) was trained. */
  showRefused?: boolean;
  /** Guesses the decoder may spell; absent: as the adapter (else the model) was trained. */
  constrain?: GuessConstraintMode;
  chat?: "auto" | "chatml" | "model";
  maxNewTokens?: number;
  seed?: number;
  hard?: boolean;
  /**
   * Engine threads. Absent: 1 for a small model (hidden size <= 256) on the CPU, unless
   * OMP_NUM_THREADS is set, else the engine's default (every core). Its matrices are too small to
   * share: the shipped tiny model evaluates 2x faster on one thread than on two.
   */
  threads?: number;
}

/** Hidden sizes up to this run on one CPU thread by default (see PolicySettings.threads). */
const SMALL_MODEL_HIDDEN_SIZE = 256;

export interface LoadedPolicy {
  policy: GuessPolicy;
  /** The model policy (prompt text, last completions), when a model plays. */
  model?: ModelPolicy;
  /** Release the model's tensors. */
  dispose(): void;
  /**
   * Switch the loaded LoRA adapter off (the base model plays) or back on; present only when an
   * adapter was loaded. Lets one loaded model give "before" and "after" figures.
   */
  setAdapterEnabled?: (enabled: boolean) => void;
  /** What plays, for headers: "model models/x + adapter runs/y/final (cpu, float32)". */
  description: string;
}

/** The model shipped in models/: the first folder there (by name) with a config.json. */
export function shippedModelDir(): string | null {
  if (!existsSync(MODELS_DIR)) return null;
  const names = readdirSync(MODELS_DIR)
    .filter((name) => existsSync(join(MODELS_DIR, name, "config.json")))
    .sort();
  return names.length === 0 ? null : join(MODELS_DIR, names[0]);
}

/** What `wordle-grpo train` writes next to an adapter (RUN/final, RUN/best). */
export interface AdapterTrainingRecord {
  made_by: string;
  step: number;
  prompt_template: PromptTemplateName;
  show_refused: boolean;
  /** The guess constraint of the rollouts (task/guess-constraint.ts); absent in older records: none. */
  constrain?: GuessConstraintMode;
}

/** A folder's training.json (sft writes one with a model, train with an adapter), or null. */
function trainingRecord(dir: string): Record<string, unknown> | null {
  const path = join(dir, "training.json");
  if (!existsSync(path)) return null;
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (record === null || typeof record !== "object" || Array.isArray(record))
    throw new Error(`${path}: expected a JSON object`);
  return record as Record<string, unknown>;
}

/**
 * The prompt template a model was trained with, as `wordle-grpo sft` records it in the model's
 * training.json (`prompt_template`); null when the folder has no such record. A model shown a
 * prompt format it never saw plays junk, so evaluation defaults to this one.
 */
export function trainedPromptTemplate(dir: string): PromptTemplateName | null {
  const name = trainingRecord(dir)?.prompt_template;
  if (name === undefined) return null;
  if (typeof name !== "string" || !(PROMPT_TEMPLATES as readonly string[]).includes(name)) {
    throw new Error(
      `${join(dir, "training.json")}: prompt_template must be one of ${PROMPT_TEMPLATES.join(", ")}, got ${JSON.stringify(name)}`,
    );
  }
  return name as PromptTemplateName;
}

/**
 * The value of `key` in the first of these folders' training.json (adapter, then model) that
 * records it, checked by `valid`; undefined when none records it.
 */
function firstRecorded<T>(
  dirs: readonly string[],
  key: string,
  valid: (value: unknown) => value is T,
  expected: string,
): T | undefined {
  for (const dir of dirs) {
    const value = trainingRecord(dir)?.[key];
    if (value === undefined) continue;
    if (!valid(value))
      throw new Error(
        `${join(dir, "training.json")}: ${key} must be ${expected}, got ${JSON.stringify(value)}`,
      );
    return value;
  }
  return undefined;
}

/**
 * Whether the first of these folders (adapter, then model) that records it was trained with
 * refused guesses in its prompts (`show_refused`); false when none records it.
 */
export function trainedShowRefused(dirs: readonly string[]): boolean {
  const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
  return firstRecorded(dirs, "show_refused", isBoolean, "true or false") ?? false;
}

/**
 * The guess constraint the first of these folders (adapter, then model) that records one was
 * trained with (`constrain`); "none" when none records it.
 */
export function trainedConstrain(dirs: readonly string[]): GuessConstraintMode {
  const isMode = (v: unknown): v is GuessConstraintMode =>
    (GUESS_CONSTRAINT_MODES as readonly unknown[]).includes(v);
  return firstRecorded(dirs, "constrain", isMode, `one of ${GUESS_CONSTRAINT_MODES.join(", ")}`) ?? "none";
}

const DTYPES = ["float32", "bfloat16", "float16"] as const;

export async function loadPolicy(settings: PolicySettings): Promise<LoadedPolicy> {
  if (settings.solver !== undefined) {
    if (settings.model !== undefined || settings.adapter !== undefined) {
      throw new Error("give either a solver (--solver) or a model (--model/--adapter), not both");
    }
    const policy = solverPolicy({
      solver: settings.solver,
      opener: settings.opener,
      seed: settings.seed,
      hard: settings.hard,
    });
    return { policy, dispose: () => {}, description: `solver ${policy.name}` };
  }
  const dir = settings.model ?? shippedModelDir();
  if (dir === null) {
    throw new Error(
      `no model given (--model DIR) and none shipped in ${MODELS_DIR}; or play a solver (--solver entropy)`,
    );
  }
  if (!existsSync(join(dir, "config.json"))) {
    throw new Error(`--model ${dir}: no config.json there (expected a Hugging Face model directory)`);
  }
  if (settings.adapter !== undefined && !existsSync(join(settings.adapter, "adapter_config.json"))) {
    throw new Error(
      `--adapter ${settings.adapter}: no adapter_config.json there (expected a PEFT LoRA directory)`,
    );
  }
  const dtypeName = settings.dtype ?? "auto";
  if (dtypeName !== "auto" && !(DTYPES as readonly string[]).includes(dtypeName)) {
    throw new Error(`--dtype must be auto, ${DTYPES.join(", ")}; got ${JSON.stringify(dtypeName)}`);
  }
  const deviceName = settings.device ?? "auto";
  if (!/^(auto|cpu|mps|cuda(:\d+)?)$/.test(deviceName)) {
    throw new Error(`--device must be auto, cpu, mps, cuda or cuda:N; got ${JSON.stringify(deviceName)}`);
  }
  const [
    { loadModel, loadLora, loadTokenizer },
    { bestDevice, bf16MatmulIsFast, deviceProblem, setNumThreads },
    { modelPolicy },
    { loadHfConfig },
  ] = await Promise.all([
    import("../model/load.js"),
    import("../engine/index.js"),
    import("./model-policy.js"),
    import("../model/hf-config.js"),
  ]);
  const device = deviceName === "auto" ? bestDevice() : (deviceName as ReturnType<typeof bestDevice>);
  const small = device === "cpu" && loadHfConfig(dir).hiddenSize <= SMALL_MODEL_HIDDEN_SIZE;
  // A small model gains nothing from bf16 on the CPU (its matrices are overhead-bound) and the
  // shipped one was trained and measured in float32, so `auto` keeps it there.
  const dtype: DType =
    dtypeName === "auto"
      ? !small && bf16MatmulIsFast(device)
        ? "bfloat16"
        : "float32"
      : (dtypeName as DType);
  const problem = deviceProblem(device, dtype);
  if (problem !== null) throw new Error(problem);
  const model = await loadModel(dir, { device, dtype });
  try {
    const threads = settings.threads ?? (small && process.env.OMP_NUM_THREADS === undefined ? 1 : undefined);
    if (threads !== undefined) setNumThreads(threads);
    const tokenizer = loadTokenizer(dir);
    const adapter = settings.adapter !== undefined ? loadLora(model, settings.adapter) : undefined;
    model.training = false;
    const greedy = settings.temperature === undefined;
    const trainedDirs = settings.adapter !== undefined ? [settings.adapter, dir] : [dir];
    const policy = modelPolicy({
      model,
      tokenizer,
      template: settings.template ?? trainedPromptTemplate(dir) ?? "course",
      showRefused: settings.showRefused ?? trainedShowRefused(trainedDirs),
      constrain: settings.constrain ?? trainedConstrain(trainedDirs),
      chat: settings.chat,
      greedy,
      ...samplingSettingsOf(settings),
      maxNewTokens: settings.maxNewTokens,
      seed: settings.seed,
      name: settings.adapter !== undefined ? "model + adapter" : "model",
    });
    return {
      policy,
      model: policy,
      dispose: () => model.dispose(),
      setAdapterEnabled: adapter
        ? (enabled: boolean) => {
            adapter.enabled = enabled;
          }
        : undefined,
      description:
        `model ${dir}${settings.adapter !== undefined ? ` + adapter ${settings.adapter}` : ""} ` +
        `(${device}, ${dtype})`,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
