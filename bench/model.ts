/**
 * Model-stack benchmark on a Qwen2.5-0.5B-shaped model with random weights (the real config's
 * shapes: hidden 896, 24 layers, 14 query / 2 key-value heads, intermediate 4864, vocabulary
 * 151,936, tied embeddings, q/k/v biases), bf16 on the CPU by default.
 *
 *   npx tsx bench/model.ts [--threads 2] [--device cpu] [--dtype bfloat16] [--skip-generate]
 *                          [--skip-lora] [--profile] [--repeats 2]
 *                          [--prompt-tokens 200] [--new-tokens 128] [--lora-tokens 328]
 *                          [--profile-steps 20] [--lora-plain]
 *                          [--layout in-out|out-in] [--head-copy]
 *
 * 1. generate: 2 prompts of 200 tokens, 128 new tokens each (sampled at T = 1, no EOS); the
 *    sampler reports prefill and decode seconds (onStats); decode tokens/s per sequence = decode
 *    steps / decode seconds. Also 1 prompt x G = 2 (the GRPO shape: one shared prefill).
 * 2. LoRA r = 16 on all seven projections: forward + backward of a mean token log-prob over
 *    2 x 328 tokens (the last 128 scored) with gradient checkpointing (--lora-plain: also without;
 *    bench/checkpointing.ts compares the two modes' memory).
 * 3. --profile: one decode step split into its parts (transformer blocks, LM head, sampling).
 *
 * Random weights: N(0, 0.02) matrices, unit norms, small biases. Timings do not depend on the
 * values, except that sampling from a random model never hits EOS (so every row runs 128 steps).
 */
import {
  type Device,
  type DType,
  getNumThreads,
  keep,
  manualSeed,
  noGrad,
  randint,
  scope,
  setNumThreads,
  synchronize,
} from "../src/engine/index.js";
import { forwardBackward } from "../src/model/checkpointing.js";
import { parseHfConfig } from "../src/model/hf-config.js";
import { KVCache } from "../src/model/kv-cache.js";
import { DEFAULT_LORA_SETTINGS, LORA_TARGETS, LoraAdapter } from "../src/model/lora.js";
import { pickNextTokens } from "../src/model/next-token.js";
import { type GenerationStats, generate } from "../src/model/sampler.js";
import { CausalLM } from "../src/model/transformer.js";
import { type LinearLayout, toInputMajorWeights } from "../src/model/weights.js";
import { option, QWEN25_05B, randomWeights } from "./random-qwen.js";

/** The original Python script's sampler settings (the "seed" preset). */
const ORIGINAL_SAMPLING = { temperature: 0.3, topK: 50, topP: 0.9, minP: 0.05, repetitionPenalty: 1.2 };

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function timed<T>(device: Device, fn: () => T): { value: T; s: number } {
  synchronize(device);
  const t0 = process.hrtime.bigint();
  const value = fn();
  synchronize(device);
  return { value, s: seconds(t0) };
}

function randomPrompts(count: number, length: number, vocab: number): number[][] {
  return scope(() => {
    const ids = randint(0, vocab, [count, length]).toArray();
    return Array.from({ length: count }, (_, i) => ids.slice(i * length, (i + 1) * length));
  });
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);

function benchGenerate(model: CausalLM, repeats: number): void {
  const vocab = model.config.vocabSize;
  const promptLength = Number(option("prompt-tokens", "200"));
  const newTokens = Number(option("new-tokens", "128"));
  const shapes: { label: string; prompts: number; group: number }[] = [
    { label: "2 prompts x G=1", prompts: 2, group: 1 },
    { label: "1 prompt  x G=2", prompts: 1, group: 2 },
  ];
  console.log(`\n## generate: prompt ${promptLength} tokens, ${newTokens} new tokens, T=1 sampling, no EOS`);
  for (const shape of shapes) {
    const prompts = randomPrompts(shape.prompts, promptLength, vocab);
    const options = { numReturnSequences: shape.group, temperature: 1, eosTokenIds: [], seed: 0 };
    for (let r = 0; r < repeats; r++) {
      let stats: GenerationStats | undefined;
      const run = timed(model.device, () =>
        generate(model, null, prompts, {
          ...options,
          maxNewTokens: newTokens,
          onStats: (s) => {
            stats = s;
          },
        }),
      );
      const lengths = run.value.map((c) => c.length);
      if (lengths.some((n) => n !== newTokens))
        throw new Error(`expected ${newTokens} tokens, got ${lengths}`);
      const st = stats as GenerationStats;
      // The first token comes from the prefill's logits; each decode step adds one per sequence.
      const perSequence = st.steps / st.decodeSeconds;
      console.log(
        `${shape.label}  run ${r + 1}: prefill ${fmt(st.prefillSeconds)} s, decode ${fmt(st.decodeSeconds)} s ` +
          `(${fmt((st.decodeSeconds / st.steps) * 1000, 1)} ms/step) = ${fmt(perSequence, 1)} tokens/s per sequence, ` +
          `${fmt(perSequence * lengths.length, 1)} tokens/s total; whole call ${fmt(run.s)} s`,
      );
    }
  }
}

function benchLora(model: CausalLM, repeats: number): void {
  const rows = 2;
  const length = Number(option("lora-tokens", "328"));
  const scored = Math.min(128, length - 1);
  manualSeed(1);
  const adapter = LoraAdapter.init(
    model.config,
    { ...DEFAULT_LORA_SETTINGS, r: 16, loraAlpha: 32, targetModules: [...LORA_TARGETS] },
    model.device,
  );
  model.adapter = adapter;
  model.training = true;
  console.log(
    `\n## LoRA r=16 (all 7 projections, ${(adapter.parameterCount() / 1e6).toFixed(2)} M trainable): ` +
      `forward+backward over ${rows} x ${length} tokens (last ${scored} scored)`,
  );
  const ids = keep(randint(0, model.config.vocabSize, [rows, length], { device: model.device }));
  const targets = keep(ids.narrow(1, length - scored, scored).contiguous());
  try {
    for (const checkpointed of flag("lora-plain") ? [true, false] : [true]) {
      for (let r = 0; r < repeats; r++) {
        for (const p of adapter.parameters()) p.tensor.setGrad(null);
        const run = timed(model.device, () =>
          forwardBackward(model, ids, { targets, checkpointed }, (logprobs) => logprobs.mean().neg()),
        );
        run.value.logprobs.dispose();
        console.log(
          `${checkpointed ? "checkpointed" : "plain       "}  run ${r + 1}: ${fmt(run.s)} s (loss ${fmt(run.value.loss, 3)})`,
        );
      }
    }
  } finally {
    ids.dispose();
    targets.dispose();
    model.adapter = null;
    model.training = false;
    adapter.dispose();
  }
}

/** One decode step at batch 2 after a 200-token prefill, split into its parts. */
function profileDecode(model: CausalLM): void {
  const { config, device } = model;
  const steps = Number(option("profile-steps", "20"));
  const promptLength = Number(option("prompt-tokens", "200"));
  console.log(
    `\n## profile: one decode step, batch 2, ~${promptLength + steps} cached positions (mean of ${steps})`,
  );
  const cache = new KVCache(config, 2, { capacity: 512 });
  try {
    noGrad(() => {
      scope(() => {
        const prompt = randint(0, config.vocabSize, [2, promptLength], { device });
        model.forward(prompt, { cache, logitsToKeep: 1 });
        const one = randint(0, config.vocabSize, [2, 1], { device });
        scope(() => model.forward(one, { cache })); // warm-up
        const forward = timed(device, () => {
          for (let i = 0; i < steps; i++) scope(() => model.forward(one, { cache }));
        });
        const hidden = model.forward(one, { cache, hiddenOnly: true });
        const head = timed(device, () => {
          for (let i = 0; i < steps; i++) scope(() => model.lmHead(hidden));
        });
        const trunk = timed(device, () => {
          for (let i = 0; i < steps; i++) scope(() => model.forward(one, { cache, hiddenOnly: true }));
        });
        const logits = model.lmHead(hidden).squeeze(1);
        const seen = logits.gt(logits.mean()); // about half the vocabulary "seen"
        const sample = timed(device, () => {
          for (let i = 0; i < steps; i++)
            scope(() => pickNextTokens(logits, { temperature: 1 }, null, false).toFloat32Array());
        });
        const samplePreset = timed(device, () => {
          for (let i = 0; i < steps; i++)
            scope(() => pickNextTokens(logits, ORIGINAL_SAMPLING, seen, false).toFloat32Array());
        });
        const ms = (s: number) => fmt((s / steps) * 1000, 1);
        console.log(`full forward (blocks + head) ${ms(forward.s)} ms`);
        console.log(`  blocks + final norm        ${ms(trunk.s)} ms`);
        console.log(`  LM head [2, 896] x [151936, 896]^T -> float32 ${ms(head.s)} ms`);
        console.log(`sampling at T=1 (draw, log-probs, copy) ${ms(sample.s)} ms`);
        console.log(
          `sampling with the original script's settings ${JSON.stringify(ORIGINAL_SAMPLING)} ${ms(samplePreset.s)} ms`,
        );
      });
    });
  } finally {
    cache.dispose();
  }
}

function main(): void {
  const threads = Number(option("threads", "2"));
  const device = option("device", "cpu") as Device;
  const dtype = option("dtype", "bfloat16") as DType;
  const repeats = Number(option("repeats", "2"));
  setNumThreads(threads);
  manualSeed(0);
  const config = parseHfConfig(QWEN25_05B, "Qwen2.5-0.5B shapes");
  // Linear weights' layout as the model loaders store them (weights.ts): in-out by default.
  const layout = option("layout", "in-out") as LinearLayout;
  if (layout !== "in-out" && layout !== "out-in")
    throw new Error(`--layout must be in-out or out-in, got ${layout}`);
  const tiedHeadCopy = flag("head-copy");
  const built = timed(device, () => {
    const raw = randomWeights(config, dtype, device);
    const weights = layout === "in-out" ? toInputMajorWeights(raw, { tiedHeadCopy }) : raw;
    return new CausalLM(config, weights, dtype, device);
  });
  const model = built.value;
  console.log(
    `# bench/model: Qwen2.5-0.5B shapes, random weights, ${dtype}, ${device}, ${getNumThreads()} threads, ` +
      `${layout} linears${tiedHeadCopy ? " + head copy" : ""} (weights built in ${fmt(built.s, 1)} s)`,
  );
  try {
    if (!flag("skip-generate")) benchGenerate(model, repeats);
    if (flag("profile")) profileDecode(model);
    if (!flag("skip-lora")) benchLora(model, repeats);
  } finally {
    model.dispose();
  }
}

main();
