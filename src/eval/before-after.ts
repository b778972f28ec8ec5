/**
 * A model played with and without its LoRA adapter on the same secrets: the before/after table of
 * `wordle-grpo eval --before`, and of `wordle-grpo train` at the end of the shipped model's recipe.
 */
import { type EvaluationReport, evaluate } from "./evaluate.js";
import type { LoadedPolicy } from "./load-policy.js";
import type { EvalSet } from "./secrets.js";

export interface AdapterEvaluationOptions {
  loaded: LoadedPolicy;
  sets: readonly EvalSet[];
  /** Also play the base model (adapter off) first. */
  before: boolean;
  /** Solver baselines beside the adapter's games (seed of the random-consistent solver), or false. */
  baselines: false | { seed?: number };
  batchSize?: number;
  hardMode?: boolean;
  /** Called once per finished game (progress bars). */
  onGame?: () => void;
}

export async function evaluateAdapter(
  options: AdapterEvaluationOptions,
): Promise<{ before?: EvaluationReport; report: EvaluationReport }> {
  const setAdapter = options.loaded.setAdapterEnabled;
  if (options.before && setAdapter === undefined)
    throw new Error("a before/after comparison needs a model with an adapter (--adapter DIR)");
  const run = (baselines: AdapterEvaluationOptions["baselines"]) =>
    evaluate({
      policy: options.loaded.policy,
      sets: options.sets,
      play: { batchSize: options.batchSize, hardMode: options.hardMode },
      baselines,
      onTurn: (_set, event) => {
        if (event.over) options.onGame?.();
      },
    });
  let before: EvaluationReport | undefined;
  if (options.before && setAdapter) {
    setAdapter(false);
    try {
      before = await run(false);
    } finally {
      setAdapter(true);
    }
  }
  return { before, report: await run(options.baselines) };
}
