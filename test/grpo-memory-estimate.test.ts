import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openSafetensors } from "../src/engine/safetensors.js";
import { resolveConfig } from "../src/grpo/config/config.js";
import type { GrpoConfig } from "../src/grpo/config/schema.js";
import { checkTrainingMemory, grpoMemoryEstimate, modelShapeOf } from "../src/grpo/memory-check.js";
import { resolveModelDir } from "../src/grpo/model-dir.js";
import { QWEN25_05B_SHAPE } from "../src/grpo/plan.js";
import { engineFacts } from "../src/grpo/trainer-setup.js";
import { loadHfConfig } from "../src/model/hf-config.js";
import { KVCache } from "../src/model/kv-cache.js";
import { GiB, kvCacheBytes, MiB, weightCount } from "../src/model/memory-model.js";
import { type MemoryEstimate, memoryProblem, SKIP_MEMORY_CHECK_ENV } from "../src/model/memory-report.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { availableHostMemory } from "../src/util/memory-available.js";

/** The tiny preset on the CPU, as the CLI resolves it. */
function tinyConfig(sets: string[] = []): GrpoConfig {
  return resolveConfig({ preset: "tiny", overrides: ["device=cpu", ...sets] }).config;
}

/** A preload that prints the process's peak resident set (getrusage maxrss, KiB) as it exits. */
const PEAK_RSS_PRELOAD =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("\\npeak-rss-kib "+process.resourceUsage().maxRSS+"\\n"))';

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak RSS of the process in bytes. */
  peakRss: number;
  seconds: number;
}

/** Runs the compiled CLI (or the TypeScript one through tsx) and measures its peak RSS. */
function cli(args: string[], env: Record<string, string> = {}): CliRun {
  const here = fileURLToPath(import.meta.url);
  const compiled = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
  const entry =
    here.includes(join("dist", "test")) && existsSync(compiled)
      ? [compiled]
      : ["--import", "tsx", join(PACKAGE_ROOT, "src", "cli", "main.ts")];
  const started = performance.now();
  const r = spawnSync(process.execPath, ["--import", PEAK_RSS_PRELOAD, ...entry, ...args], {
    cwd: PACKAGE_ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  const peak = /peak-rss-kib (\d+)/.exec(r.stderr);
  assert.ok(peak, `no peak RSS reported; stderr:\n${r.stderr}`);
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    peakRss: Number(peak[1]) * 1024,
    seconds: (performance.now() - started) / 1000,
  };
}

/** A config.json for a Qwen2 model of about 3.5 trillion parameters (hidden 65536, 100 layers). */
function hugeModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-huge-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      architectures: ["Qwen2ForCausalLM"],
      model_type: "qwen2",
      hidden_size: 65536,
      intermediate_size: 131072,
      num_hidden_layers: 100,
      num_attention_heads: 512,
      num_key_value_heads: 64,
      vocab_size: 151936,
      tie_word_embeddings: false,
      torch_dtype: "bfloat16",
    }),
  );
  return dir;
}

test("weights: the parameter count of the shipped model's safetensors and of Qwen2.5-0.5B", () => {
  const dir = resolveModelDir(tinyConfig());
  const file = openSafetensors(join(dir, "model.safetensors"));
  let stored = 0;
  for (const info of file.tensors.values()) stored += info.shape.reduce((n, d) => n * d, 1);
  file.close();
  // The tied LM head is not stored: the embedding counts once, as weightCount counts it.
  assert.equal(weightCount(loadHfConfig(dir)), stored);
  assert.equal(weightCount(QWEN25_05B_SHAPE), 494_032_768);
});

test("KV cache: 2 x layers x kv heads x head dim x columns x rows x dtype bytes, as KVCache allocates", () => {
  const config = loadHfConfig(resolveModelDir(tinyConfig()));
  const cache = new KVCache(config, 3, { capacity: 256 });
  let allocated = 0;
  try {
    const like = { dtype: "float32", device: "cpu" } as Parameters<KVCache["buffers"]>[2];
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      const { keys, values } = cache.buffers(layer, 1, like);
      allocated += (keys.numel + values.numel) * 4;
    }
  } finally {
    cache.dispose();
  }
  assert.equal(kvCacheBytes(config, 3, 256, 4), allocated);
});

test("the estimate of a small real run is within 30% of its measured peak RSS", () => {
  const output = mkdtempSync(join(tmpdir(), "wordle-grpo-memory-run-"));
  try {
    const sets = ["--set", "device=cpu", "--set", "max_steps=2"];
    const planned = cli(["plan", "--preset", "tiny", ...sets, "--no-final-eval", "--json"]);
    assert.equal(planned.status, 0, planned.stderr);
    const estimate = JSON.parse(planned.stdout).memory as MemoryEstimate;
    assert.equal(estimate.deviceBytes, 0);
    assert.equal(estimate.lengths.source, "measured with the model's tokenizer");
    const run = cli([
      "train",
      "--preset",
      "tiny",
      ...sets,
      "--no-final-eval",
      "--output",
      join(output, "run"),
    ]);
    assert.equal(run.status, 0, run.stderr);
    const ratio = estimate.hostBytes / run.peakRss;
    const message =
      `estimate ${(estimate.hostBytes / MiB).toFixed(0)} MiB, measured peak RSS ` +
      `${(run.peakRss / MiB).toFixed(0)} MiB (ratio ${ratio.toFixed(2)})`;
    console.log(message);
    assert.ok(ratio > 0.7 && ratio < 1.3, message);
  } finally {
    rmSync(output, { recursive: true, force: true });
  }
});

test("train --set lora.r=100000 on the tiny model is refused before allocating, naming lora.r", (t) => {
  const estimate = grpoMemoryEstimate(tinyConfig(["lora.r=100000"]), engineFacts(tinyConfig()), {
    modelDir: resolveModelDir(tinyConfig()),
  });
  if (estimate.hostBytes < availableHostMemory().bytes) {
    t.skip(`this machine has room for the estimate (${(estimate.hostBytes / GiB).toFixed(0)} GiB)`);
    return;
  }
  const output = join(mkdtempSync(join(tmpdir(), "wordle-grpo-memory-r-")), "run");
  const run = cli([
    "train",
    "--preset",
    "tiny",
    "--set",
    "device=cpu",
    "--set",
    "lora.r=100000",
    "--output",
    output,
  ]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /train: not enough memory/);
  assert.match(run.stderr, /lower lora\.r \(100000\)/);
  assert.match(run.stderr, new RegExp(`${SKIP_MEMORY_CHECK_ENV}=1`));
  // Refused before the model, the adapter or the run directory exist.
  assert.ok(!existsSync(output), "the run directory was created");
  assert.ok(run.peakRss < 600 * MiB, `peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`);
});

test("a config.json describing a huge model: plan shows it, train refuses without allocating", () => {
  const dir = hugeModelDir();
  const output = join(dir, "run");
  try {
    const sets = ["--set", "device=cpu", "--set", "dtype=bfloat16"];
    const planned = cli(["plan", "--model", dir, ...sets, "--json"]);
    assert.equal(planned.status, 0, planned.stderr);
    const estimate = JSON.parse(planned.stdout).memory as MemoryEstimate;
    const weights = estimate.parts.find((p) => p.name === "model weights");
    assert.equal(weights?.bytes, weightCount(modelShapeOf(dir)) * 2);
    assert.ok(estimate.total > 1000 * GiB);
    assert.match(estimate.lengths.source, /^assumed/);

    const run = cli(["train", "--set", `model=${dir}`, ...sets, "--output", output]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /train: not enough memory/);
    assert.match(run.stderr, /model weights [\d.]+ TiB: use a smaller model/);
    assert.ok(!existsSync(output), "the run directory was created");
    assert.ok(run.peakRss < 600 * MiB, `peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`);
    assert.ok(run.seconds < 60, `took ${run.seconds.toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sft with hidden_size 65536 is refused before its weights are made", () => {
  const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-memory-sft-"));
  try {
    const run = cli([
      "sft",
      "--out",
      join(dir, "model"),
      "--run-dir",
      join(dir, "run"),
      "--steps",
      "1",
      "--config-json",
      JSON.stringify({
        hidden_size: 65536,
        intermediate_size: 131072,
        num_attention_heads: 512,
        num_key_value_heads: 64,
      }),
    ]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /sft: not enough memory/);
    assert.match(run.stderr, /make the model smaller \(--config-json: hidden_size 65536/);
    assert.ok(!existsSync(join(dir, "model")), "the model directory was written");
    assert.ok(run.peakRss < 600 * MiB, `peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`memoryProblem: fits under 90% of what is available; ranks on one host multiply; ${SKIP_MEMORY_CHECK_ENV} skips`, () => {
  const estimate = grpoMemoryEstimate(tinyConfig(), engineFacts(tinyConfig()), {
    modelDir: resolveModelDir(tinyConfig()),
  });
  const resident = 0;
  const roomy = { bytes: estimate.hostBytes / 0.89, source: "test" };
  assert.equal(memoryProblem("train", estimate, roomy, { resident }), null);
  const tight = { bytes: estimate.hostBytes / 0.91, source: "test" };
  assert.match(memoryProblem("train", estimate, tight, { resident }) ?? "", /not enough memory/);
  const two = memoryProblem("train", estimate, roomy, { resident, processes: 2 });
  assert.match(two ?? "", /2 ranks on this host/);

  const huge = tinyConfig(["lora.r=100000"]);
  const previous = process.env[SKIP_MEMORY_CHECK_ENV];
  try {
    process.env[SKIP_MEMORY_CHECK_ENV] = "1";
    assert.doesNotThrow(() => checkTrainingMemory(huge, engineFacts(huge)));
    delete process.env[SKIP_MEMORY_CHECK_ENV];
    const need = grpoMemoryEstimate(huge, engineFacts(huge), { modelDir: resolveModelDir(huge) }).hostBytes;
    if (need > availableHostMemory().bytes)
      assert.throws(() => checkTrainingMemory(huge, engineFacts(huge)), /lora\.r \(100000\)/);
  } finally {
    if (previous === undefined) delete process.env[SKIP_MEMORY_CHECK_ENV];
    else process.env[SKIP_MEMORY_CHECK_ENV] = previous;
  }
});

test("plan prints the estimate: the peak and one line per part", () => {
  const r = cli(["plan", "--preset", "tiny", "--set", "device=cpu"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /memory, peak +[\d.]+ (MiB|GiB) per process \(cpu, host memory, float32; at /);
  for (const part of [
    "model weights",
    "LoRA adapter \\+ gradients",
    "optimizer state",
    "generation",
    "training activations",
    "final evaluation",
  ])
    assert.match(r.stdout, new RegExp(`\\n {4}${part} +\\d+ (KiB|MiB|GiB)`));
  assert.match(r.stdout, /sequence lengths: prompt \d+, completion 8, game \d+ tokens \(measured/);
});
