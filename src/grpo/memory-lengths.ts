/**
 * The token lengths the memory estimate sizes the KV cache and the activations by. With the
 * model's tokenizer they are measured: the seed dataset's prompts rendered as the trainer renders
 * them, and a game of max_turns turns rendered in the run's template (the longest row a multi_turn
 * step trains on, and evaluation's longest). Without one (plan on the assumed Qwen2.5 shape) they
 * come from the config's limits.
 */

import type { SequenceLengths } from "../model/memory-report.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { renderPrompt } from "../task/prompt.js";
import type { HistoryEntry } from "../wordle/candidates.js";
import type { GrpoConfig } from "./config/schema.js";
import { preparePrompts } from "./prepared-prompts.js";

/** A guess and its feedback, repeated to fill a board: the length of any real game to a few tokens. */
const FILLER: HistoryEntry = {
  guess: "crane",
  feedback: ["absent", "present", "absent", "correct", "absent"],
};

/** Tokens of the prompt after `turns` scored guesses, in the run's template. */
function gamePromptTokens(config: GrpoConfig, tokenizer: Tokenizer, turns: number): number {
  const history = Array.from({ length: turns }, () => FILLER);
  const text = renderPrompt(
    { history },
    { template: config.prompt_template, tokenizer: tokenizer.chatTemplate ? tokenizer : undefined },
  ).text;
  return tokenizer.encode(text).length;
}

export function measuredLengths(config: GrpoConfig, tokenizer: Tokenizer): SequenceLengths {
  const C = config.max_completion_length;
  const turns = config.multi_turn.max_turns;
  // The last turn's prompt holds the max_turns - 1 turns before it; its completion ends the row.
  const game = gamePromptTokens(config, tokenizer, turns - 1) + C;
  let prompt: number;
  if (config.mode === "multi_turn") prompt = gamePromptTokens(config, tokenizer, 0);
  else {
    const { train, validation } = preparePrompts(config, tokenizer);
    prompt = Math.max(...[...train, ...validation].map((p) => p.ids.length));
  }
  return { prompt, completion: C, game, source: "measured with the model's tokenizer" };
}

/** Without a tokenizer: max_prompt_length (512 when unset) for a prompt, a game adds max_turns completions. */
export function assumedLengths(config: GrpoConfig): SequenceLengths {
  const C = config.max_completion_length;
  const prompt = config.max_prompt_length ?? 512;
  return {
    prompt,
    completion: C,
    game: prompt + config.multi_turn.max_turns * C,
    source: `assumed: max_prompt_length ${prompt}${config.max_prompt_length === null ? " (unset)" : ""}`,
  };
}
