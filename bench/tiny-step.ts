/**
 * Steps of the shipped recipe (preset `tiny`: whole games from models/wordle-tiny, 8 secrets x 8
 * games, letter credit, LoRA r = 16), run through the trainer's own code and timed phase by phase:
 * the games' prefills and decode steps, the rest of the rollout (prompts, judging, credit), the
 * loss's forward + backward and the optimizer.
 *
 *   npx tsx bench/tiny-step.ts [--steps 10] [--threads 1] [--set key=value ...]
 *
 * The secrets are fixed (every 37th answer), so two builds can be compared on the same games.
 */
import { getNumThreads, manualSeed, setNumThreads } from "../src/engine/index.js";
import { resolveConfig } from "../src/grpo/config/config.js";
import { multiTurnGenerationBatch } from "../src/grpo/rollout/multi-turn-batch.js";
import { optimizeOnBatch } from "../src/grpo/step/optimize.js";
import { attachAdapter, loadPolicy, makeOptimizer } from "../src/grpo/trainer-setup.js";
import type { GenerationStats } from "../src/model/sampler.js";
import { MODELS_DIR } from "../src/paths.js";
import { loadWordLists } from "../src/wordle/words.js";
import { option } from "./random-qwen.js";

async function main(): Promise<void> {
  const steps = Number(option("steps", "10"));
  setNumThreads(Number(option("threads", "1")));
  const overrides: Record<string, string> = {};
  process.argv.forEach((arg, i) => {
    if (process.argv[i - 1] !== "--set") return;
    const [key, ...value] = arg.split("=");
    overrides[key] = value.join("=");
  });
  const { config } = resolveConfig({
    preset: "tiny",
    overrides: { model: `${MODELS_DIR}/wordle-tiny`, ...overrides },
  });
  const { model, tokenizer } = await loadPolicy(config);
  manualSeed(config.seed);
  const adapter = attachAdapter(model, config);
  const params = adapter.parameters().map((p) => p.tensor);
  const optimizer = makeOptimizer(config, params);
  const answers = loadWordLists().answers;
  const secretsPerStep = config.multi_turn.secrets_per_step;
  console.log(
    `tiny recipe step: ${getNumThreads()} thread(s), ${secretsPerStep} secrets x ${config.num_generations} games, ` +
      `LoRA r = ${config.lora.r} (${adapter.parameterCount()} parameters)`,
  );

  const totals = { all: 0, prefill: 0, decode: 0, rest: 0, loss: 0, optimizer: 0 };
  for (let s = 0; s < steps; s++) {
    const secrets = Array.from(
      { length: secretsPerStep },
      (_, k) => answers[(37 * (s * secretsPerStep + k)) % answers.length],
    );
    const generateCalls: GenerationStats[] = [];
    const started = performance.now();
    const batch = multiTurnGenerationBatch(
      { model, tokenizer, config, onGenerate: (stats) => generateCalls.push(stats) },
      secrets,
      config.temperature,
      s / steps,
      s + 1,
    );
    const rolloutSeconds = (performance.now() - started) / 1000;
    const outcome = optimizeOnBatch(
      { model, config, optimizer, params, padId: tokenizer.padTokenId },
      batch,
      s + 1,
      config.learning_rate,
    );
    const all = (performance.now() - started) / 1000;
    const prefill = generateCalls.reduce((t, c) => t + c.prefillSeconds, 0);
    const decode = generateCalls.reduce((t, c) => t + c.decodeSeconds, 0);
    const prompts = generateCalls.reduce((n, c) => n + c.prompts, 0);
    const decodeSteps = generateCalls.reduce((n, c) => n + c.steps, 0);
    const step = {
      all,
      prefill,
      decode,
      rest: rolloutSeconds - prefill - decode,
      loss: outcome.seconds.forwardBackward,
      optimizer: outcome.seconds.optimizer,
    };
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += step[k];
    const f = (x: number) => x.toFixed(3);
    console.log(
      `step ${s + 1}: ${f(all)} s = prefill ${f(prefill)} (${generateCalls.length} calls, ${prompts} prompts)` +
        ` + decode ${f(decode)} (${decodeSteps} steps) + rest of rollout ${f(step.rest)}` +
        ` + loss fwd+bwd ${f(step.loss)} (${batch.completions.length} turns, ${outcome.tokens} tokens) + optimizer ${f(step.optimizer)}`,
    );
  }
  const mean = (x: number) => (x / steps).toFixed(3);
  console.log(
    `mean of ${steps} steps: ${mean(totals.all)} s = prefill ${mean(totals.prefill)} + decode ${mean(totals.decode)}` +
      ` + rest of rollout ${mean(totals.rest)} + loss ${mean(totals.loss)} + optimizer ${mean(totals.optimizer)}`,
  );
  optimizer.dispose();
  model.dispose();
}

await main();
