/**
 * The monitor's sections of a run's config (milestones, plateau), as schemas: the trainer's config
 * schema (grpo/config/schema.ts) embeds them, and the monitor reads the parsed values.
 */
import { z } from "zod";

const positiveInt = z.int().positive();

export const milestoneSchema = z.strictObject({
  /** Training step at which the expectation is checked. */
  step: positiveInt,
  /** An expression over metrics, e.g. `running_mean(format_rate) >= 0.9`. */
  expect: z.string().min(1),
  label: z.string().optional(),
});

export const plateauSchema = z.strictObject({
  /** Steps over which the running total must improve by more than min_gain. */
  window: positiveInt.default(500),
  min_gain: z.number().nonnegative().default(0.02),
  /** Stop training (after a save) when a plateau is detected. */
  early_stop: z.boolean().default(false),
  /** Which running metric is watched (a name the monitor understands: total, format, eval/win_rate...). */
  metric: z.string().min(1).default("total"),
});

export type MilestoneConfig = z.output<typeof milestoneSchema>;
export type PlateauConfig = z.output<typeof plateauSchema>;
