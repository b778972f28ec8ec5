/**
 * The seed dataset's positions as a run's prompts: rendered in the run's template and tokenized,
 * cut to max_prompt_length from the left as TRL does. Needs no engine (plan's memory estimate
 * measures its lengths with it).
 */
import type { Tokenizer } from "../model/tokenizer.js";
import { renderPrompt } from "../task/prompt.js";
import { loadSeedDataset } from "../task/seed-dataset.js";
import { splitTrainValidation } from "../task/split.js";
import type { TaskState } from "../task/state.js";
import type { GrpoConfig } from "./config/schema.js";
import type { PreparedPrompt } from "./rollout/rollout.js";

export interface Prompts {
  train: PreparedPrompt[];
  validation: PreparedPrompt[];
}

/** Render and tokenize a position; prompts longer than max_prompt_length keep their last tokens (TRL). */
export function preparePrompt(state: TaskState, config: GrpoConfig, tokenizer: Tokenizer): PreparedPrompt {
  const text = renderPrompt(
    { history: state.history },
    { template: config.prompt_template, tokenizer: tokenizer.chatTemplate ? tokenizer : undefined },
  ).text;
  let ids = tokenizer.encode(text);
  if (config.max_prompt_length !== null && ids.length > config.max_prompt_length)
    ids = ids.slice(ids.length - config.max_prompt_length);
  return { state, ids };
}

/** The seed dataset's train / validation split by `seed` (60 / 15 rows), tokenized. */
export function preparePrompts(config: GrpoConfig, tokenizer: Tokenizer): Prompts {
  const { rows } = loadSeedDataset();
  const { train, validation } = splitTrainValidation(rows, config.seed);
  const strip = (r: TaskState): TaskState => ({ id: r.id, secret: r.secret, history: r.history });
  return {
    train: train.map((r) => preparePrompt(strip(r), config, tokenizer)),
    validation: validation.map((r) => preparePrompt(strip(r), config, tokenizer)),
  };
}
