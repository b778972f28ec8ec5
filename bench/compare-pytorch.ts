/**
 * Our seed-preset GRPO step beside the same step written as plain eager PyTorch
 * (bench/compare-pytorch/eager_step.py), in one invocation on one machine, phase by phase with the
 * ratio ours / eager; then decode alone (tokens per second per sequence at B = 2 and B = 64, the
 * seed's sampling processors) and our engine ops per generated token.
 *
 *   npx tsx bench/compare-pytorch.ts [--steps 2] [--threads 2] [--dtype auto|bfloat16|float32]
 *        [--device cpu|cuda] [--decode-tokens 32] [--python PATH] [--no-eager]
 *
 * dtype auto: bfloat16 where the CPU multiplies bf16 fast (AVX-512 BF16 / AMX) or on a GPU, else
 * float32. The eager side needs a Python with torch: on a CPU machine without one the bench
 * installs Debian's python3-torch (as root); on a GPU machine it uses the PyTorch that is there.
 * Runs one after the other, never side by side.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import {
  bf16MatmulIsFast,
  buildInfo,
  countOps,
  type Device,
  type DType,
  getBlasCoreName,
  getNumThreads,
  setNumThreads,
} from "../src/engine/index.js";
import { type GenerationStats, generate } from "../src/model/sampler.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { option, QWEN25_05B } from "./random-qwen.js";
import { type SeedStepPhases, seedStepBench } from "./seed-step.js";

const device = option("device", "cpu") as Device;
const steps = Number(option("steps", "2"));
const threads = Number(option("threads", "2"));
const decodeTokens = Number(option("decode-tokens", "32"));
const dtypeOption = option("dtype", "auto");
const dtype: DType =
  dtypeOption !== "auto"
    ? (dtypeOption as DType)
    : device !== "cpu" || bf16MatmulIsFast(device)
      ? "bfloat16"
      : "float32";
const decodeBatches = [2, 64];
setNumThreads(threads);

function machine(): string {
  if (device !== "cpu") return device;
  const model = cpus()[0]?.model ?? "unknown CPU";
  const flags = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
  const features = ["avx2", "avx512f", "avx512_bf16", "amx_bf16"].filter((f) => flags.includes(` ${f}`));
  return `${model} (${cpus().length} cores; ${features.join(", ")})`;
}

/** A Python that imports torch; installs Debian's python3-torch when none does (CPU, root). */
function findPython(): string {
  const candidates = [option("python", ""), "python3", "/usr/bin/python3"].filter((p) => p !== "");
  const works = (p: string) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
  for (const p of candidates) if (works(p)) return p;
  if (device === "cpu" && process.getuid?.() === 0) {
    console.log("installing Debian's python3-torch for the eager reference (apt-get)");
    execFileSync("apt-get", ["install", "-y", "-qq", "python3-torch"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (works("/usr/bin/python3")) return "/usr/bin/python3";
  }
  throw new Error("no Python with torch found: pass --python PATH or install python3-torch");
}

interface EagerStep {
  total: number;
  prefill: number;
  decode: number;
  rest: number;
  ref: number;
  forward_backward: number;
  optimizer: number;
}

function runEager(promptIds: number[], config: ReturnType<typeof seedStepBench>["config"]) {
  const job = {
    config: QWEN25_05B,
    threads,
    dtype,
    device,
    lora_r: config.lora.r,
    lora_alpha: config.lora.alpha,
    lora_dropout: config.lora.dropout,
    prompt_ids: promptIds,
    steps,
    num_generations: config.num_generations,
    completion_length: config.max_completion_length,
    temperature: config.temperature,
    top_k: config.top_k,
    top_p: config.top_p,
    min_p: config.min_p,
    repetition_penalty: config.repetition_penalty,
    epsilon: config.epsilon,
    beta: config.beta,
    max_grad_norm: config.max_grad_norm,
    decode_batches: decodeBatches,
    decode_tokens: decodeTokens,
  };
  const python = findPython();
  // The same BLAS kernels as ours (the engine may have chosen them: native/src/runtime.cc).
  const blasCore = getBlasCoreName();
  const out = execFileSync(python, [`${PACKAGE_ROOT}/bench/compare-pytorch/eager_step.py`], {
    input: JSON.stringify(job),
    env: blasCore === null ? process.env : { ...process.env, OPENBLAS_CORETYPE: blasCore },
    encoding: "utf8",
    stdio: ["pipe", "pipe", "inherit"],
    maxBuffer: 1 << 24,
  });
  const lines = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  return {
    steps: lines.filter((l) => l.kind === "step") as EagerStep[],
    decode: lines.filter((l) => l.kind === "decode") as { batch: number; tokens: number; seconds: number }[],
  };
}

const best = (xs: number[]) => Math.min(...xs);

async function main(): Promise<void> {
  const info = buildInfo();
  console.log(`machine: ${machine()}`);
  console.log(
    `ours: libtorch ${info.torchVersion}, ${getNumThreads()} threads, ${device} ${dtype}, OpenBLAS kernels ${getBlasCoreName() ?? "none"}`,
  );
  const bench = seedStepBench(device, dtype);
  const { config, model, tokenizer, prompt } = bench;
  console.log(
    `seed step: prompt ${prompt.ids.length} tokens, G ${config.num_generations}, ${config.max_completion_length} tokens, ` +
      `LoRA r ${config.lora.r} on 7 projections (float32 adapter path), checkpointing, beta ${config.beta}; best of ${steps} steps`,
  );

  const ours: SeedStepPhases[] = [];
  for (let s = 0; s < steps; s++) ours.push(bench.step(s, steps));

  // Decode alone: one prompt, B rows, `decodeTokens` tokens, the seed's processors.
  const sampling = {
    temperature: config.temperature,
    topK: config.top_k ?? undefined,
    topP: config.top_p,
    minP: config.min_p ?? undefined,
    repetitionPenalty: config.repetition_penalty,
    eosTokenIds: [],
  };
  const decodeRun = (batch: number, tokens: number): GenerationStats => {
    let stats: GenerationStats | undefined;
    generate(model, tokenizer, [prompt.ids], {
      ...sampling,
      numReturnSequences: batch,
      maxNewTokens: tokens,
      onStats: (s) => {
        stats = s;
      },
    });
    return stats as GenerationStats;
  };
  const oursDecode = decodeBatches.map((batch) => {
    const stats = decodeRun(batch, decodeTokens);
    // Ops per decode step: the difference between two lengths, so the prefill drops out.
    const short = countOps(() => decodeRun(batch, 8)).ops.calls;
    const long = countOps(() => decodeRun(batch, 16)).ops.calls;
    return { batch, tokensPerSecond: stats.steps / stats.decodeSeconds, opsPerToken: (long - short) / 8 };
  });
  bench.dispose();

  if (process.argv.includes("--no-eager")) {
    for (const d of oursDecode)
      console.log(
        `decode B=${d.batch}: ${d.tokensPerSecond.toFixed(2)} tokens/s per sequence, ${d.opsPerToken} ops per token`,
      );
    return;
  }
  const eager = runEager(prompt.ids, config);
  const row = (label: string, a: number, b: number, unit = "s") =>
    console.log(
      `| ${label.padEnd(28)} | ${a.toFixed(2).padStart(8)} ${unit} | ${b.toFixed(2).padStart(8)} ${unit} | ${(a / b).toFixed(2).padStart(5)} |`,
    );
  console.log("| phase (best step)            | ours       | eager      | ratio |");
  console.log("| ---------------------------- | ---------- | ---------- | ----- |");
  row("whole step", best(ours.map((p) => p.total)), best(eager.steps.map((p) => p.total)));
  row("prefill", best(ours.map((p) => p.prefill)), best(eager.steps.map((p) => p.prefill)));
  row("decode (128 tokens)", best(ours.map((p) => p.decode)), best(eager.steps.map((p) => p.decode)));
  row("reference log-probs", best(ours.map((p) => p.ref)), best(eager.steps.map((p) => p.ref)));
  row(
    "forward+backward",
    best(ours.map((p) => p.forwardBackward)),
    best(eager.steps.map((p) => p.forward_backward)),
  );
  for (const d of oursDecode) {
    const e = eager.decode.find((x) => x.batch === d.batch);
    if (!e) continue;
    const eagerRate = e.tokens / e.seconds;
    console.log(
      `| decode B=${d.batch}, tokens/s per seq`.padEnd(30) +
        ` | ${d.tokensPerSecond.toFixed(2).padStart(10)} | ${eagerRate.toFixed(2).padStart(10)} | ${(d.tokensPerSecond / eagerRate).toFixed(2).padStart(5)} |`,
    );
  }
  for (const d of oursDecode)
    console.log(`ours: ${d.opsPerToken} engine ops per decode step at B=${d.batch}`);
}

await main();
