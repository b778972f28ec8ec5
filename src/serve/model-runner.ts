/**
 * The model side of the queue: one `generate` call for a batch of prompts sharing their settings.
 * A request with a seed samples from keyed random streams (one per choice index), so the same
 * seed and prompt give the same text whichever other requests share its batch.
 */
import { type GenerationModel, generate } from "../model/sampler.js";
import type { Tokenizer } from "../model/tokenizer.js";
import type { BatchRunner, GeneratedChoice } from "./generation-queue.js";

export function modelBatchRunner(model: GenerationModel, tokenizer: Tokenizer): BatchRunner {
  return (prompts, params) => {
    const n = params.n;
    const completions = generate(model, tokenizer, prompts, {
      maxNewTokens: params.maxTokens,
      greedy: params.greedy,
      temperature: params.temperature,
      topP: params.topP,
      topK: params.topK,
      stopStrings: params.stop,
      numReturnSequences: n,
      ...(params.seed === undefined
        ? {}
        : { streams: { seed: params.seed, rowKeys: prompts.flatMap(() => [...Array(n).keys()]) } }),
    });
    const out: GeneratedChoice[][] = prompts.map(() => []);
    // Completions come prompt by prompt, sample by sample: row p * n + g.
    for (const c of completions) {
      const stop = c.stopString;
      out[c.promptIndex]?.push({
        text: stop !== null && c.text.endsWith(stop) ? c.text.slice(0, c.text.length - stop.length) : c.text,
        tokenIds: c.tokenIds,
        finishReason: c.truncated ? "length" : "stop",
        stopReason: stop,
      });
    }
    return out;
  };
}
