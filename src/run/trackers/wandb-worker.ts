/**
 * The W&B SDK's thread (wandb.ts starts it). The SDK throws from timers and unawaited promises
 * when the server cannot be reached (@wandb/sdk 0.5.1: "Unable to determine default entity"),
 * which in the trainer's thread would end the run; here it ends only this worker, and the tracker
 * reports it and stops. Signals are not delivered to worker threads, so the SDK's SIGINT/SIGTERM
 * handlers cannot exit the process before the trainer has saved.
 */
import { parentPort, workerData } from "node:worker_threads";

export interface WandbWorkerData {
  /** Module specifier (or file URL) of the SDK. */
  sdk: string;
  init: { project: string; name: string; config: unknown };
}

/** Messages from the tracker. */
export type WandbWorkerMessage = { type: "log"; data: Record<string, number> } | { type: "finish" };

interface WandbRun {
  log(data: Record<string, unknown>): void;
  finish(code?: number): Promise<void>;
}

const port = parentPort;
if (port === null) throw new Error("wandb-worker.ts runs as a worker thread (wandb.ts starts it)");
const { sdk, init } = workerData as WandbWorkerData;
const module = (await import(sdk)) as { default?: { init?: unknown }; init?: unknown };
const api = (module.default ?? module) as { init?: (options: unknown) => Promise<WandbRun> };
if (typeof api.init !== "function") throw new Error(`${sdk} has no init() (an unexpected version)`);
const run = await api.init(init);
port.on("message", (message: WandbWorkerMessage) => {
  if (message.type === "log") run.log(message.data);
  else
    void run.finish().then(() => {
      port.close();
      process.exit(0);
    });
});
