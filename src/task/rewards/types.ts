/**
 * Shared shapes of the reward presets. A reward function is pure: it reads the position
 * (secret + history), the completion text and the training progress in [0, 1], and returns a
 * number. It never throws on any completion text, because one odd sample must not stop a run.
 */
import type { TaskState } from "../state.js";

/** What a reward needs from a row: the secret and the history (ids and prompts are ignored). */
export type RewardState = Pick<TaskState, "secret" | "history">;

export type RewardFunction = (state: RewardState, completion: string, progress: number) => number;

export interface NamedReward {
  name: string;
  weight: number;
  fn: RewardFunction;
}
