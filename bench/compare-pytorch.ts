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
import { type ChildProcessByStdio, execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import {
  bf16MatmulIsFast,
  buildInfo,
  countOps,
  type Device,
  type DType,
  getBlasCoreName,
  getNumThreads,
  type OpTotals,
  setNumThreads,
} from "../src/engine/index.js";
import { type GenerationStats, generate } from "../src/model/sampler.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { option, QWEN25_05B } from "./random-qwen.js";
import { type SeedStepBench, type SeedStepPhases, seedStepBench } from "./seed-step.js";

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

interface EagerDecode {
  batch: number;
  tokens: number;
  seconds: number;
}

/** The eager reference as a child process that runs one command at a time (eager_step.py). */
class EagerReference {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;

  constructor(job: object) {
    // The same BLAS kernels as ours (the engine may have chosen them: native/src/runtime.cc).
    const blasCore = getBlasCoreName();
    this.child = spawn(findPython(), [`${PACKAGE_ROOT}/bench/compare-pytorch/eager_step.py`], {
      env: blasCore === null ? process.env : { ...process.env, OPENBLAS_CORETYPE: blasCore },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.child.stdin.write(`${JSON.stringify(job)}\n`);
  }

  async ready(): Promise<void> {
    await this.answer();
  }

  async run<T>(command: string): Promise<T> {
    this.child.stdin.write(`${command}\n`);
    return this.answer<T>();
  }

  private async answer<T>(): Promise<T> {
    const line = await this.lines.next();
    if (line.done) throw new Error("the eager reference stopped (its error is above)");
    return JSON.parse(line.value) as T;
  }

  close(): void {
    this.child.stdin.end();
  }
}

function eagerJob(promptIds: number[], config: SeedStepBench["config"]) {
  return {
    config: QWEN25_05B,
    threads,
    dtype,
    device,
    lora_r: config.lora.r,
    lora_alpha: config.lora.alpha,
    lora_dropout: config.lora.dropout,
    prompt_ids: promptIds,
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
    decode_tokens: decodeTokens,
  };
}

const best = (xs: number[]) => Math.min(...xs);

/** Operators that only make a view (no kernel, no copy): counted apart. */
const VIEW_OPS = new Set([
  "aten::view",
  "aten::reshape",
  "aten::_reshape_alias",
  "aten::narrow",
  "aten::slice",
  "aten::select",
  "aten::transpose",
  "aten::t",
  "aten::permute",
  "aten::unsqueeze",
  "aten::squeeze",
  "aten::expand",
  "aten::detach",
  "aten::alias",
  "aten::split",
  "aten::split_with_sizes",
]);

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
      `LoRA r ${config.lora.r} on 7 projections (float32 adapter path), checkpointing, beta ${config.beta}; ` +
      `ours and eager alternate, best of ${steps} steps each`,
  );
  const withEager = !process.argv.includes("--no-eager");
  const eager = withEager ? new EagerReference(eagerJob(prompt.ids, config)) : null;
  await eager?.ready();

  const ours: SeedStepPhases[] = [];
  const eagerSteps: EagerStep[] = [];
  for (let s = 0; s < steps; s++) {
    ours.push(bench.step(s, steps));
    if (eager) eagerSteps.push(await eager.run<EagerStep>("step"));
  }

  // Decode alone: one prompt, B rows, the seed's processors. Small batches are quick, so they get
  // twice the tokens and four alternating runs a side (the VM's bandwidth drifts within minutes);
  // B = 64 gets `decodeTokens` and two.
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
  const decodeRows = [];
  for (const batch of decodeBatches) {
    const oursRates: number[] = [];
    const eagerRates: number[] = [];
    const small = batch <= 8;
    const tokens = small ? 2 * decodeTokens : decodeTokens;
    for (let rep = 0; rep < (small ? 4 : 2); rep++) {
      const stats = decodeRun(batch, tokens);
      oursRates.push(stats.steps / stats.decodeSeconds);
      const e = eager ? await eager.run<EagerDecode>(`decode ${batch} ${tokens}`) : null;
      if (e) eagerRates.push(e.tokens / e.seconds);
    }
    // Ops per decode step: the difference between two lengths, so the prefill drops out.
    const short = countOps(() => decodeRun(batch, 8)).ops;
    const long = countOps(() => decodeRun(batch, 16)).ops;
    const views = (ops: OpTotals) =>
      ops.byName.filter((op) => VIEW_OPS.has(op.name)).reduce((n, op) => n + op.calls, 0);
    decodeRows.push({
      batch,
      ours: Math.max(...oursRates),
      eager: eagerRates.length > 0 ? Math.max(...eagerRates) : null,
      ops: (long.calls - short.calls) / 8,
      views: (views(long) - views(short)) / 8,
    });
  }
  eager?.close();
  bench.dispose();

  const cell = (x: number | null, unit: string) => (x === null ? "-" : `${x.toFixed(2)}${unit}`).padStart(10);
  const ratio = (a: number, b: number | null) => (b === null ? "-" : (a / b).toFixed(2)).padStart(5);
  const row = (label: string, a: number, b: number | null, unit = " s") =>
    console.log(`| ${label.padEnd(30)} | ${cell(a, unit)} | ${cell(b, unit)} | ${ratio(a, b)} |`);
  const bestOf = (xs: EagerStep[], pick: (p: EagerStep) => number) =>
    xs.length > 0 ? best(xs.map(pick)) : null;
  console.log("| phase (best step)              | ours       | eager      | ratio |");
  console.log("| ------------------------------ | ---------- | ---------- | ----- |");
  const phases: [string, (p: SeedStepPhases) => number, (p: EagerStep) => number][] = [
    ["whole step", (p) => p.total, (p) => p.total],
    ["prefill", (p) => p.prefill, (p) => p.prefill],
    [`decode (${config.max_completion_length} tokens)`, (p) => p.decode, (p) => p.decode],
    ["reference log-probs", (p) => p.ref, (p) => p.ref],
    ["forward+backward", (p) => p.forwardBackward, (p) => p.forward_backward],
  ];
  for (const [label, oursOf, eagerOf] of phases)
    row(label, best(ours.map(oursOf)), bestOf(eagerSteps, eagerOf));
  for (const d of decodeRows) row(`decode B=${d.batch}, tokens/s per seq`, d.ours, d.eager, "");
  for (const d of decodeRows)
    console.log(
      `ours at B=${d.batch}: ${d.ops} ATen operators per decode step (${d.ops - d.views} compute, ${d.views} views)`,
    );
}

await main();
