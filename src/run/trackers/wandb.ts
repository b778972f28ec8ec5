import type { JsonRow } from "../jsonl.js";
import { numericMetrics, rowStep } from "./metric-values.js";
import type { Tracker, TrackerWarn } from "./tracker.js";

/**
 * `report_to: wandb`: logs through Weights & Biases' JavaScript SDK, `@wandb/sdk`, when it is
 * installed (an optional package this project does not depend on) and W&B is configured by its
 * environment (WANDB_API_KEY, or WANDB_MODE). Otherwise one message says how to enable it, and
 * how to send the TensorBoard files to W&B instead. Metrics rows are logged with their step as
 * `train/global_step` (HF's key for the x axis); samples are not sent (the JS SDK has no tables).
 */

/** A variable, so the build does not look for a package that is not a dependency. */
const WANDB_PACKAGE = "@wandb/sdk";

/** The parts of @wandb/sdk's default export this tracker uses. */
interface WandbSdk {
  init(options: { project?: string; name?: string; config?: unknown }): Promise<WandbRun>;
}
interface WandbRun {
  log(data: Record<string, unknown>): void;
  finish(code?: number): Promise<void>;
}

export interface WandbOptions {
  runName: string;
  config: Record<string, unknown>;
  /** Where the tensorboard tracker writes (or would), and whether it is on: for the `wandb sync` hint. */
  tensorboardDir: string;
  tensorboardOn: boolean;
  env?: NodeJS.ProcessEnv;
  /** Loads the SDK module; tests replace it. */
  importSdk?: () => Promise<unknown>;
}

/** Signals whose handlers the SDK installs that would exit the process before the trainer saves. */
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

function hint(options: WandbOptions): string {
  const sync = `\`wandb sync ${options.tensorboardDir}\``;
  return (
    `To log to W&B: \`npm install ${WANDB_PACKAGE}\` in this project and set WANDB_API_KEY (or WANDB_MODE=offline). ` +
    (options.tensorboardOn
      ? `The TensorBoard files can be uploaded afterwards with ${sync}.`
      : `Or add tensorboard to report_to and upload its files afterwards with ${sync}.`)
  );
}

/** The W&B tracker, or null (after one message saying why) when it cannot run here. */
export async function openWandb(options: WandbOptions, warn: TrackerWarn): Promise<Tracker | null> {
  const env = options.env ?? process.env;
  let module: unknown;
  try {
    module = await (options.importSdk ?? (() => import(WANDB_PACKAGE)))();
  } catch (err) {
    // Not found, and not one of its own dependencies missing (that message names the other package).
    const missing =
      (err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" &&
      (err as Error).message.includes(`'${WANDB_PACKAGE}'`);
    warn(
      `report_to wandb: not logging to W&B, ${
        missing
          ? `the optional package ${WANDB_PACKAGE} is not installed`
          : `${WANDB_PACKAGE} failed to load (${(err as Error).message})`
      }. ${hint(options)}`,
    );
    return null;
  }
  const sdk = ((module as { default?: unknown }).default ?? module) as Partial<WandbSdk>;
  if (typeof sdk.init !== "function") {
    warn(`report_to wandb: not logging to W&B, ${WANDB_PACKAGE} has no init() (an unexpected version).`);
    return null;
  }
  if (env.WANDB_MODE === "disabled") {
    warn("report_to wandb: not logging to W&B, WANDB_MODE=disabled.");
    return null;
  }
  if (!env.WANDB_API_KEY && !env.WANDB_MODE) {
    warn(
      `report_to wandb: not logging to W&B, neither WANDB_API_KEY nor WANDB_MODE is set. ${hint(options)}`,
    );
    return null;
  }
  const init = sdk.init.bind(sdk);
  const run = keepingSignalHandlers(() =>
    init({ project: env.WANDB_PROJECT || "wordle-grpo", name: options.runName, config: options.config }),
  );
  // A failed init reaches the next logMetrics or close (then TrackerSet reports it and drops the
  // tracker); this handler only keeps it from counting as unhandled until then.
  run.catch(() => {});
  return new WandbTracker(run);
}

/**
 * The SDK answers SIGINT/SIGTERM by finishing its run and exiting the process, which would skip
 * the trainer's own Ctrl-C handling (save a checkpoint, then exit). Remove the handlers it added;
 * RunLogs.close() finishes the run instead.
 */
function keepingSignalHandlers<T>(start: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const restore = () => {
    for (const signal of SIGNALS)
      for (const listener of process.listeners(signal))
        if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  };
  return start().finally(restore);
}

class WandbTracker implements Tracker {
  readonly name = "wandb";

  constructor(private readonly run: Promise<WandbRun>) {}

  logMetrics(row: JsonRow): Promise<void> | undefined {
    const step = rowStep(row);
    const values = numericMetrics(row);
    if (step === null || values.length === 0) return undefined;
    const data = { ...Object.fromEntries(values), "train/global_step": step };
    return this.run.then((run) => run.log(data));
  }

  close(): Promise<void> {
    return this.run.then((run) => run.finish());
  }
}
