/**
 * One GRPO step of the `seed` preset on a Qwen2.5-0.5B-shaped model with random weights, phase by
 * phase (bench/seed-step.ts describes the step). bench/compare-pytorch.ts runs the same step beside
 * an eager PyTorch implementation.
 *
 *   npx tsx bench/grpo-step.ts [--steps 2] [--device cpu] [--dtype bfloat16] [--threads N]
 */
import { type Device, type DType, getNumThreads, setNumThreads } from "../src/engine/index.js";
import { option } from "./random-qwen.js";
import { seedStepBench } from "./seed-step.js";

const device = option("device", "cpu") as Device;
const dtype = option("dtype", "bfloat16") as DType;
const steps = Number(option("steps", "2"));
const threads = option("threads", "");
if (threads !== "") setNumThreads(Number(threads));

const bench = seedStepBench(device, dtype);
const { config } = bench;
console.log(
  `GRPO step, seed preset: ${device} ${dtype}, ${getNumThreads()} threads; prompt ${bench.prompt.ids.length} tokens, ` +
    `G = ${config.num_generations}, ${config.max_completion_length} completion tokens, LoRA r = ${config.lora.r} ` +
    `(${(bench.adapterParameters / 1e6).toFixed(2)} M), checkpointing ${config.gradient_checkpointing}, beta ${config.beta}, ${config.optim}`,
);
for (let s = 0; s < steps; s++) {
  const p = bench.step(s, steps);
  const f = (x: number) => x.toFixed(2);
  console.log(
    `step ${s + 1}: ${f(p.total)} s = generate ${f(p.generate)} (prefill ${f(p.prefill)} + decode ${f(p.decode)})` +
      ` + rewards ${f(p.rewards)} + ref logps ${f(p.ref)} + fwd+bwd ${f(p.forwardBackward)} + optimizer ${f(p.optimizer)}` +
      ` (loss ${p.loss.toFixed(4)}, grad_norm ${p.gradNorm.toFixed(4)})`,
  );
}
bench.dispose();
