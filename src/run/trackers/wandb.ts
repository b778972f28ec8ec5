import { Worker } from "node:worker_threads";
import type { JsonRow } from "../jsonl.js";
import { numericMetrics, rowStep } from "./metric-values.js";
import type { Tracker, TrackerWarn } from "./tracker.js";
import type { WandbWorkerData, WandbWorkerMessage } from "./wandb-worker.js";

/**
 * `report_to: wandb`: logs through Weights & Biases' JavaScript SDK, `@wandb/sdk`, when it is
 * installed (an optional package this project does not depend on) and WANDB_API_KEY is set.
 * Otherwise one message says how to enable it, and how to send the TensorBoard files to W&B
 * instead. Metrics rows are logged with their step as `train/global_step` (HF's key for the x
 * axis); samples are not sent (the JS SDK has no tables). The SDK runs in a worker thread
 * (wandb-worker.ts): its failures end the worker, never the run.
 *
 * WANDB_MODE=offline is answered with the `wandb sync` path: the JavaScript SDK has no working
 * offline mode (0.5.1 still asks for an API key, contacts api.wandb.ai, and keeps no offline files).
 */

/** The SDK's package name (resolved where this file is, as the worker imports it). */
const WANDB_PACKAGE = "@wandb/sdk";

export interface WandbOptions {
  runName: string;
  config: Record<string, unknown>;
  /** Where the tensorboard tracker writes (or would), and whether it is on: for the `wandb sync` hint. */
  tensorboardDir: string;
  tensorboardOn: boolean;
  env?: NodeJS.ProcessEnv;
  /** The SDK module to load (a specifier or a file URL); tests give a stand-in. */
  sdk?: string;
}

function hint(options: WandbOptions): string {
  const sync = `\`wandb sync ${options.tensorboardDir}\``;
  return options.tensorboardOn
    ? `The TensorBoard files can be uploaded with ${sync}.`
    : `Or add tensorboard to report_to and upload its files with ${sync}.`;
}

/** Where the SDK would load from, or null when it is not installed. */
function resolveSdk(specifier: string): string | null {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return null;
  }
}

/** The W&B tracker, or null (after one message saying why) when it cannot run here. */
export async function openWandb(options: WandbOptions, warn: TrackerWarn): Promise<Tracker | null> {
  const env = options.env ?? process.env;
  const off = (why: string) => {
    warn(`report_to wandb: not logging to W&B, ${why}`);
    return null;
  };
  if (env.WANDB_MODE === "disabled") return off("WANDB_MODE=disabled.");
  if (env.WANDB_MODE === "offline")
    return off(
      `WANDB_MODE=offline: ${WANDB_PACKAGE} has no offline mode (it needs the server). ${hint(options)}`,
    );
  const sdk = options.sdk ?? resolveSdk(WANDB_PACKAGE);
  if (sdk === null)
    return off(
      `the optional package ${WANDB_PACKAGE} is not installed: \`npm install ${WANDB_PACKAGE}\` and set WANDB_API_KEY. ${hint(options)}`,
    );
  if (!env.WANDB_API_KEY) return off(`WANDB_API_KEY is not set. ${hint(options)}`);
  const data: WandbWorkerData = {
    sdk,
    init: { project: env.WANDB_PROJECT || "wordle-grpo", name: options.runName, config: options.config },
  };
  return new WandbTracker(
    new Worker(new URL("./wandb-worker.js", import.meta.url), { workerData: data, env }),
  );
}

/** How long close() waits for the SDK to finish uploading before it ends the worker. */
const FINISH_TIMEOUT_MS = 60_000;

class WandbTracker implements Tracker {
  readonly name = "wandb";
  /** Why the worker ended early (its first error), reported by the next call. */
  private failure: Error | null = null;
  private readonly exited: Promise<void>;

  constructor(private readonly worker: Worker) {
    worker.unref(); // an unclosed tracker must not keep the process alive
    worker.on("error", (err) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    });
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
  }

  private post(message: WandbWorkerMessage): void {
    if (this.failure !== null) throw new Error(`${WANDB_PACKAGE}: ${this.failure.message}`);
    this.worker.postMessage(message);
  }

  logMetrics(row: JsonRow): void {
    const step = rowStep(row);
    const values = numericMetrics(row);
    if (step === null || values.length === 0) return;
    this.post({ type: "log", data: { ...Object.fromEntries(values), "train/global_step": step } });
  }

  async close(): Promise<void> {
    this.post({ type: "finish" });
    const timer = setTimeout(() => void this.worker.terminate(), FINISH_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    if (this.failure !== null) throw new Error(`${WANDB_PACKAGE}: ${this.failure.message}`);
  }
}
