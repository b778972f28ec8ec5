// Engine benchmark: matmul throughput, per-op overhead of the JS -> libtorch path, and one
// Qwen2.5-0.5B-shaped decoder block forward+backward with frozen bf16 weights and LoRA adapters.
//
//   npx tsx bench/engine.ts [--device cpu|cuda|mps] [--threads N] [--iters N] [--fp32-block] [--force-bf16]
//
// On CPUs without AVX-512, libtorch 1.13's bf16 matmuls fall back to scalar loops (about 1 GFLOP/s);
// there the bf16 block is skipped unless --force-bf16 is given, and the fp32 block runs instead.
// Prints numbers only; nothing here is asserted (timings depend on the machine and its load).
import { cpus, loadavg } from "node:os";
import {
  bf16MatmulIsFast,
  buildInfo,
  cat,
  type Device,
  type DType,
  full,
  getNumThreads,
  noGrad,
  randn,
  scope,
  setNumThreads,
  synchronize,
  type Tensor,
  tensor,
  zeros,
} from "../src/engine/index.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const device = arg("device", "cpu") as Device;
const iters = Number(arg("iters", "10"));
if (process.argv.includes("--threads")) setNumThreads(Number(arg("threads", "2")));

/** Median wall time of fn in ms, after one warm-up run; the device is synchronised around each run. */
function timeMs(fn: () => void, runs: number): number {
  fn();
  synchronize(device);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    synchronize(device);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

function benchMatmul(m: number, k: number, n: number, dtype: DType): string {
  return noGrad(() =>
    scope(() => {
      const a = randn([m, k], { device }).to(dtype);
      const b = randn([k, n], { device }).to(dtype);
      const ms = timeMs(() => scope(() => void a.matmul(b)), iters * 2);
      const gflops = (2 * m * k * n) / (ms * 1e6);
      return `matmul ${m}x${k}x${n} ${dtype.padEnd(8)} ${ms.toFixed(3).padStart(8)} ms  ${gflops.toFixed(0).padStart(6)} GFLOP/s`;
    }),
  );
}

/** Microseconds per call of fn over n calls (each inside its own scope, as the trainer does). */
function perOpMicros(fn: () => void, n: number): number {
  for (let i = 0; i < n / 10; i++) scope(fn);
  synchronize(device);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) scope(fn);
  synchronize(device);
  return ((performance.now() - t0) * 1000) / n;
}

// ---------------------------------------------------------------- the Qwen2.5-0.5B block

const HIDDEN = 896;
const HEADS = 14;
const KV_HEADS = 2;
const HEAD_DIM = 64;
const INTERMEDIATE = 4864;
const RANK = 16;
const LORA_SCALE = 32 / RANK;

interface LoraLinear {
  weight: Tensor; // frozen [out, in]
  bias: Tensor | null;
  a: Tensor; // trainable [r, in], float32 master
  b: Tensor; // trainable [out, r], float32 master
}

function loraLinear(inF: number, outF: number, withBias: boolean, dtype: DType): LoraLinear {
  return {
    weight: randn([outF, inF], { device }).mul(0.02).to(dtype),
    bias: withBias ? randn([outF], { device }).mul(0.02).to(dtype) : null,
    a: randn([RANK, inF], { device }).mul(0.01).setRequiresGrad(),
    b: randn([outF, RANK], { device }).mul(0.01).setRequiresGrad(),
  };
}

/** y = x W^T + b + scale * (x A^T) B^T, adapters cast to the activation dtype. */
function applyLora(x: Tensor, p: LoraLinear): Tensor {
  const base = x.linear(p.weight, p.bias);
  const update = x.linear(p.a.to(x.dtype)).linear(p.b.to(x.dtype));
  return base.add(update, LORA_SCALE);
}

function rmsNorm(x: Tensor, weight: Tensor): Tensor {
  const xf = x.float();
  const normed = xf.mul(xf.pow(2).mean(-1, true).add(1e-6).rsqrt());
  return normed.to(x.dtype).mul(weight);
}

function rotateHalf(t: Tensor): Tensor {
  const half = HEAD_DIM / 2;
  return cat([t.narrow(-1, half, half).neg(), t.narrow(-1, 0, half)], -1);
}

interface Block {
  ln1: Tensor;
  ln2: Tensor;
  q: LoraLinear;
  k: LoraLinear;
  v: LoraLinear;
  o: LoraLinear;
  gate: LoraLinear;
  up: LoraLinear;
  down: LoraLinear;
}

function makeBlock(dtype: DType): Block {
  return scope(() => ({
    ln1: full([HIDDEN], 1, { device }).to(dtype),
    ln2: full([HIDDEN], 1, { device }).to(dtype),
    q: loraLinear(HIDDEN, HEADS * HEAD_DIM, true, dtype),
    k: loraLinear(HIDDEN, KV_HEADS * HEAD_DIM, true, dtype),
    v: loraLinear(HIDDEN, KV_HEADS * HEAD_DIM, true, dtype),
    o: loraLinear(HEADS * HEAD_DIM, HIDDEN, false, dtype),
    gate: loraLinear(HIDDEN, INTERMEDIATE, false, dtype),
    up: loraLinear(HIDDEN, INTERMEDIATE, false, dtype),
    down: loraLinear(INTERMEDIATE, HIDDEN, false, dtype),
  }));
}

function blockForward(p: Block, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor): Tensor {
  const [batch, seq] = x.shape as [number, number, number];
  const h = rmsNorm(x, p.ln1);
  const heads = (t: Tensor, n: number) => t.view(batch, seq, n, HEAD_DIM).transpose(1, 2);
  let q = heads(applyLora(h, p.q), HEADS);
  let k = heads(applyLora(h, p.k), KV_HEADS);
  const v = heads(applyLora(h, p.v), KV_HEADS).repeatInterleave(HEADS / KV_HEADS, 1);
  q = q.mul(cos).add(rotateHalf(q).mul(sin));
  k = k
    .mul(cos)
    .add(rotateHalf(k).mul(sin))
    .repeatInterleave(HEADS / KV_HEADS, 1);
  const scores = q
    .matmul(k.transpose(-1, -2))
    .mul(1 / Math.sqrt(HEAD_DIM))
    .add(mask);
  const attn = scores.softmax(-1, "float32").to(x.dtype);
  const o = attn
    .matmul(v)
    .transpose(1, 2)
    .reshape(batch, seq, HEADS * HEAD_DIM);
  const x2 = x.add(applyLora(o, p.o));
  const h2 = rmsNorm(x2, p.ln2);
  const mlp = applyLora(applyLora(h2, p.gate).silu().mul(applyLora(h2, p.up)), p.down);
  return x2.add(mlp);
}

function benchBlock(dtype: DType, batch: number, seq: number, runs: number): string {
  const block = makeBlock(dtype);
  const lora = [block.q, block.k, block.v, block.o, block.gate, block.up, block.down].flatMap((l) => [
    l.a,
    l.b,
  ]);
  const trainable = lora.reduce((n, t) => n + t.numel, 0);
  const result = scope(() => {
    const x = randn([batch, seq, HIDDEN], { device }).to(dtype).setRequiresGrad();
    const positions = tensor(
      Float32Array.from({ length: seq }, (_, i) => i),
      { device },
    ).unsqueeze(1);
    const invFreq = tensor(
      Float32Array.from({ length: HEAD_DIM / 2 }, (_, i) => 1 / 1e6 ** ((2 * i) / HEAD_DIM)),
      { device },
    );
    const freqs = positions.mul(invFreq);
    const angles = cat([freqs, freqs], -1);
    const cos = angles.cos().to(dtype);
    const sin = angles.sin().to(dtype);
    const mask = full([seq, seq], -1e9, { device }).triu(1).to(dtype);
    const fwd = timeMs(() => noGrad(() => scope(() => void blockForward(block, x, cos, sin, mask))), runs);
    const fwdBwd = timeMs(
      () =>
        scope(() => {
          blockForward(block, x, cos, sin, mask).float().sum().backward();
          for (const t of [...lora, x]) t.zeroGrad();
        }),
      runs,
    );
    return `block ${dtype.padEnd(8)} B=${batch} S=${seq}: forward ${fwd.toFixed(1)} ms, forward+backward ${fwdBwd.toFixed(1)} ms (LoRA r=${RANK}, ${trainable} trainable params)`;
  });
  for (const l of [block.q, block.k, block.v, block.o, block.gate, block.up, block.down]) {
    for (const t of [l.weight, l.bias, l.a, l.b]) t?.dispose();
  }
  block.ln1.dispose();
  block.ln2.dispose();
  return result;
}

function main(): void {
  const info = buildInfo();
  console.log(
    `libtorch ${info.torchVersion} (cuda build: ${info.cudaBuild}), device ${device}, ${getNumThreads()} threads, ${cpus()[0]?.model ?? "?"} x${cpus().length}`,
  );
  console.log(
    `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? "(unset)"} ATEN_CPU_CAPABILITY=${process.env.ATEN_CPU_CAPABILITY ?? "(unset)"}`,
  );
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
  // Other processes on the machine skew every figure: print the load so readers can judge.
  console.log(`load average at start: ${load()}`);
  const bf16Fast = bf16MatmulIsFast(device);
  const forceBf16 = process.argv.includes("--force-bf16");
  for (const dtype of ["float32", "bfloat16"] as const) {
    if (dtype === "bfloat16" && !bf16Fast && !forceBf16) {
      // One small product is enough to show the fallback speed without waiting minutes.
      console.log(
        `${benchMatmul(256, 256, 256, dtype)}   (no AVX-512: slow bf16 fallback; --force-bf16 for full sizes)`,
      );
      continue;
    }
    console.log(benchMatmul(1024, 1024, 1024, dtype));
    console.log(benchMatmul(512, 896, 4864, dtype));
  }

  const small = scope(() => zeros([4], { device }));
  const view = perOpMicros(() => void small.view(2, 2), 50_000);
  const add = perOpMicros(() => void small.add(small), 50_000);
  const chain = perOpMicros(() => void small.mul(2).add(1).exp().sum(), 20_000) / 4;
  console.log(
    `per-op overhead: view ${view.toFixed(2)} us, add [4] ${add.toFixed(2)} us, mul/add/exp/sum chain ${chain.toFixed(2)} us per op`,
  );
  small.dispose();

  if (bf16Fast || forceBf16) console.log(benchBlock("bfloat16", 2, 256, iters));
  else console.log("block bfloat16: skipped (bf16 matmuls are not fast on this CPU; see bf16MatmulIsFast)");
  if (!bf16Fast || process.argv.includes("--fp32-block"))
    console.log(benchBlock("float32", 2, 256, Math.max(3, Math.floor(iters / 2))));
  console.log(`load average at end: ${load()}`);
}

main();
