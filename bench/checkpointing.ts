/**
 * Peak memory and time of one LoRA training step (forward + backward of a mean token log-prob)
 * with and without gradient checkpointing, on a Qwen2.5-0.5B-shaped model with random weights.
 *
 *   npx tsx bench/checkpointing.ts [--layers 24] [--batch 2] [--seq 328] [--scored 128]
 *                                  [--vocab 151936] [--dtype bfloat16] [--device cpu] [--threads 2]
 *
 * Each mode runs in its own child process, because the CPU measure is the process's peak resident
 * set size (getrusage maxrss), which only ever grows: the figure reported is peak RSS during the
 * steps minus RSS just before the first one (weights and adapter already loaded). On CUDA the
 * allocator's peak is reported as well. One warm-up step, then one timed step.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  cuda,
  type Device,
  type DType,
  keep,
  manualSeed,
  randint,
  scope,
  setNumThreads,
  synchronize,
} from "../src/engine/index.js";
import { type ModelConfig, parseHfConfig } from "../src/model/hf-config.js";
import { DEFAULT_LORA_SETTINGS, LoraAdapter } from "../src/model/lora.js";
import { CausalLM } from "../src/model/transformer.js";
import { option, QWEN25_05B, randomWeights } from "./random-qwen.js";

const settings = {
  layers: Number(option("layers", "24")),
  batch: Number(option("batch", "2")),
  seq: Number(option("seq", "328")),
  scored: Number(option("scored", "128")),
  vocab: Number(option("vocab", "151936")),
  dtype: option("dtype", "bfloat16") as DType,
  device: option("device", "cpu") as Device,
  threads: Number(option("threads", "2")),
};

/** Qwen2.5-0.5B's shapes (hidden 896, 14/2 heads, intermediate 4864), layers and vocab adjustable. */
function benchConfig(): ModelConfig {
  return parseHfConfig({ ...QWEN25_05B, num_hidden_layers: settings.layers, vocab_size: settings.vocab });
}

interface ChildResult {
  mode: string;
  baselineRssMB: number;
  peakRssMB: number;
  stepSeconds: number;
  cudaPeakMB: number | null;
  loss: number;
}

function runChild(mode: "plain" | "checkpointed"): ChildResult {
  setNumThreads(settings.threads);
  manualSeed(0);
  const config = benchConfig();
  const model = new CausalLM(
    config,
    // Biases drawn at 0.02 like the matrices, as this bench always has (its losses stay comparable).
    randomWeights(config, settings.dtype, settings.device, 0.02),
    settings.dtype,
    settings.device,
  );
  model.adapter = LoraAdapter.init(
    config,
    { ...DEFAULT_LORA_SETTINGS, r: 16, loraAlpha: 32, targetModules: "all-linear" },
    settings.device,
  );
  const ids = keep(randint(0, config.vocabSize, [settings.batch, settings.seq], { device: settings.device }));
  const step = (): number =>
    scope(() => {
      const targets = ids.narrow(1, settings.seq - settings.scored, settings.scored);
      const result = model.forwardBackward(ids, { targets, checkpointed: mode === "checkpointed" }, (lp) =>
        lp.mean().neg(),
      );
      synchronize(settings.device);
      return result.loss;
    });
  // Baseline before any step: freed step memory stays in the process (malloc keeps it), so a
  // baseline taken after the warm-up would hide the step's own peak.
  const baseline = process.memoryUsage().rss;
  step(); // warm-up
  for (const p of model.adapter.parameters()) p.tensor.zeroGrad();
  const start = performance.now();
  const loss = step();
  const seconds = (performance.now() - start) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  return {
    mode,
    baselineRssMB: baseline / 2 ** 20,
    peakRssMB: peak / 2 ** 20,
    stepSeconds: seconds,
    cudaPeakMB: settings.device.startsWith("cuda") ? cuda.memoryStats().allocatedPeak / 2 ** 20 : null,
    loss,
  };
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) {
  const mode = process.argv[childIndex + 1] === "plain" ? "plain" : "checkpointed";
  process.stdout.write(`${JSON.stringify(runChild(mode))}\n`);
} else {
  const self = fileURLToPath(import.meta.url);
  console.log(
    `LoRA r=16 step, Qwen2.5-0.5B shapes x ${settings.layers} layers, vocab ${settings.vocab}, ${settings.batch} x ${settings.seq} tokens (${settings.scored} scored), ${settings.dtype} on ${settings.device}, ${settings.threads} threads`,
  );
  const results: ChildResult[] = [];
  for (const mode of ["plain", "checkpointed"] as const) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, self, ...process.argv.slice(2), "--child", mode],
      {
        encoding: "utf8",
        maxBuffer: 1 << 24,
      },
    );
    if (child.status !== 0) {
      console.error(child.stderr);
      throw new Error(`the ${mode} run failed (exit ${child.status})`);
    }
    const result = JSON.parse(child.stdout.trim().split("\n").pop() as string) as ChildResult;
    results.push(result);
    const extra =
      result.cudaPeakMB === null ? "" : `, CUDA allocator peak ${result.cudaPeakMB.toFixed(0)} MB`;
    console.log(
      `${mode.padEnd(13)} step ${result.stepSeconds.toFixed(2)} s, RSS before ${result.baselineRssMB.toFixed(0)} MB, peak ${result.peakRssMB.toFixed(0)} MB, step peak +${(result.peakRssMB - result.baselineRssMB).toFixed(0)} MB${extra}, loss ${result.loss.toFixed(4)}`,
    );
  }
  const [plain, ckpt] = results as [ChildResult, ChildResult];
  const plainExtra = plain.peakRssMB - plain.baselineRssMB;
  const ckptExtra = ckpt.peakRssMB - ckpt.baselineRssMB;
  console.log(
    `checkpointing: step memory ${(plainExtra / Math.max(ckptExtra, 1)).toFixed(1)}x lower, time ${(ckpt.stepSeconds / plain.stepSeconds).toFixed(2)}x`,
  );
}
