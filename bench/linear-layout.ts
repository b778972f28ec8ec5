/**
 * Does the memory layout of a frozen linear weight change the speed of y = x W^T + b on the CPU?
 *
 *   npx tsx bench/linear-layout.ts [--threads 2] [--dtype float32] [--repeats 3] [--head-rows 128]
 *
 * For every projection shape of Qwen2.5-0.5B (q/o 896->896, k/v 896->128, gate/up 896->4864,
 * down 4864->896, LM head 896->151936) and the row counts the model sees (M = 2: a decode step at
 * batch 2; M = 400: a prefill of 2 x 200; M = 656: the LoRA step's 2 x 328 rows, forward + backward
 * w.r.t. x only, since the base weight is frozen), three ways of computing the same product:
 *
 *   out-in      x.linear(W, b), W contiguous [out, in] (the checkpoint's layout; BLAS gets B^T)
 *   in-out view x.linear(V, b), V = Wt.transpose(0, 1) where Wt = [in, out] contiguous: the same
 *               [out, in] tensor to every caller, but linear's W^T is then a plain row-major matrix
 *   in-out mm   x.matmul(Wt).add(b)
 *
 * The LM head is timed forward+backward at --head-rows rows (the trainer scores chunks of ~110-128
 * positions through the head, never all 656). Median of --repeats runs after one warm-up.
 */
import { type DType, keep, noGrad, randn, scope, setNumThreads, type Tensor } from "../src/engine/index.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const threads = Number(option("threads", "2"));
const dtype = option("dtype", "float32") as DType;
const repeats = Number(option("repeats", "3"));
const headRows = Number(option("head-rows", "128"));
setNumThreads(threads);

const SHAPES: { name: string; in: number; out: number; bias: boolean }[] = [
  { name: "q/o 896->896", in: 896, out: 896, bias: true },
  { name: "k/v 896->128", in: 896, out: 128, bias: true },
  { name: "gate/up 896->4864", in: 896, out: 4864, bias: false },
  { name: "down 4864->896", in: 4864, out: 896, bias: false },
  { name: "LM head 896->151936", in: 896, out: 151936, bias: false },
];

type Variant = "out-in" | "in-out view" | "in-out mm";
const VARIANTS: Variant[] = ["out-in", "in-out view", "in-out mm"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function ms(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

console.log(`# threads ${threads}, dtype ${dtype}, median of ${repeats} (ms)`);
console.log("| shape | rows, pass | out-in | in-out view | in-out mm | best / out-in |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const shape of SHAPES) {
  const w = keep(
    scope(() => {
      const weight = randn([shape.out, shape.in]).mul(0.02).to(dtype);
      const wt = weight.transpose(0, 1).contiguous();
      return {
        weight,
        wt,
        view: wt.transpose(0, 1),
        bias: shape.bias ? randn([shape.out]).mul(0.1).to(dtype) : null,
      };
    }),
  );
  const apply = (variant: Variant, x: Tensor): Tensor => {
    if (variant === "out-in") return x.linear(w.weight, w.bias);
    if (variant === "in-out view") return x.linear(w.view, w.bias);
    const y = x.matmul(w.wt);
    return w.bias ? y.add(w.bias) : y;
  };
  const isHead = shape.out > 100000;
  const cases: { rows: number; batch: number; backward: boolean }[] = [
    { rows: 2, batch: 2, backward: false },
    { rows: 400, batch: 2, backward: false },
    { rows: isHead ? headRows : 656, batch: isHead ? 1 : 2, backward: true },
  ];
  for (const c of cases) {
    const times: Record<Variant, number[]> = { "out-in": [], "in-out view": [], "in-out mm": [] };
    // Decode-sized products are short: repeat them so one sample is not a single noisy call.
    const inner = c.rows === 2 ? (isHead ? 3 : 50) : 1;
    for (let r = 0; r <= repeats; r++)
      for (const variant of VARIANTS) {
        const t = scope(() => {
          const x = randn([c.batch, c.rows / c.batch, shape.in]).to(dtype);
          if (!c.backward)
            return (
              ms(() =>
                noGrad(() => {
                  for (let i = 0; i < inner; i++) scope(() => apply(variant, x).sum().item());
                }),
              ) / inner
            );
          x.setRequiresGrad(true);
          const g = randn([c.batch, c.rows / c.batch, shape.out]).to(dtype);
          return ms(() => {
            apply(variant, x).backward(g);
            (x.grad as Tensor).sum().item();
          });
        });
        if (r > 0) times[variant].push(t);
      }
    const m = VARIANTS.map((v) => median(times[v]));
    const base = m[0] as number;
    const best = Math.min(m[1] as number, m[2] as number);
    const pass = c.backward ? "fwd+bwd(x)" : "fwd";
    console.log(
      `| ${shape.name} | ${c.rows}, ${pass} | ${m.map((x) => x.toFixed(2)).join(" | ")} | ${(best / base).toFixed(2)} |`,
    );
  }
  for (const t of [w.weight, w.wt, w.bias]) t?.dispose();
}
