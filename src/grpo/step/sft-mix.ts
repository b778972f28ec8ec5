/**
 * Supervised loss mixed into the GRPO step (config `sft_mix`): each optimizer step also fits
 * `games` teacher games on training secrets,
 *
 *   loss = loss_GRPO + weight * CE(teacher tokens)
 *
 * where CE is the mean next-token cross-entropy over the teacher's assistant tokens (src/sft: the
 * same sequences `wordle-grpo sft` trains on). Reinforcement learning samples from the policy and
 * only sees what the policy already does; the teacher term keeps the knowledge the start model was
 * taught (which words exist, which answers are likely) from eroding while the GRPO term moves the
 * policy towards what wins. It needs a model trained on the tiny template with a character-level
 * tokenizer, like the shipped one.
 *
 * The games of step s come from Rng(seed, s) alone, so a resumed run draws the same games as an
 * uninterrupted one without any state in the checkpoint.
 */
import { noGrad } from "../../engine/index.js";
import type { Tokenizer } from "../../model/tokenizer.js";
import type { CausalLM } from "../../model/transformer.js";
import { type GameSequence, SequenceBuilder } from "../../sft/game-sequence.js";
import { parseTeacherSpec, TeacherGames } from "../../sft/teacher.js";
import { learnedTokenCrossEntropy, packBatch } from "../../sft/trainer.js";
import { Rng } from "../../util/rng.js";
import type { GrpoConfig } from "../config/schema.js";

export interface SftMixer {
  weight: number;
  /** The teacher games of an optimizer step, as token sequences with their learned tokens. */
  sequences(step: number): GameSequence[];
}

export function makeSftMixer(
  config: GrpoConfig,
  tokenizer: Tokenizer,
  secrets: readonly string[],
): SftMixer | null {
  const mix = config.sft_mix;
  if (mix.weight === 0) return null;
  if (config.prompt_template !== "tiny")
    throw new Error(
      `sft_mix needs prompt_template = "tiny" (teacher games are built in the tiny chat format), got "${config.prompt_template}"`,
    );
  const games = new TeacherGames(parseTeacherSpec(mix.teacher));
  const builder = new SequenceBuilder(tokenizer);
  return {
    weight: mix.weight,
    sequences(step) {
      const rng = new Rng(config.seed * 1_000_003 + step);
      return Array.from({ length: mix.games }, () =>
        builder.build(games.play(secrets[rng.int(secrets.length)], rng)),
      );
    },
  };
}

/**
 * weight * CE over the learned tokens of the sequences, backward into the trainable parameters
 * (gradients add to the GRPO ones). Returns the unweighted cross-entropy.
 */
export function sftBackward(
  model: CausalLM,
  seqs: readonly GameSequence[],
  padId: number,
  weight: number,
): number {
  const batch = packBatch(seqs, padId, model.device);
  if (batch.learned === 0) return 0;
  // Right padding needs no attention mask: a causal model never looks at later (pad) positions.
  const ce = learnedTokenCrossEntropy(model.forward(batch.inputs).float(), batch);
  ce.mul(weight).backward();
  return noGrad(() => ce.item());
}
