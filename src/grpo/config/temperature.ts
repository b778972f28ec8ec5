import type { GrpoConfig } from "./schema.js";

/**
 * The sampling temperature at a point of training. Without a schedule it is `temperature`; with
 * one it moves from `start` to `end` over the run, linearly or along a half cosine (which lingers
 * near `start` early and near `end` late).
 *
 * @param progress fraction of training done, in [0, 1] (clamped)
 */
export function temperatureAt(
  config: Pick<GrpoConfig, "temperature" | "temperature_schedule">,
  progress: number,
): number {
  const schedule = config.temperature_schedule;
  if (schedule === null) return config.temperature;
  const t = Math.min(1, Math.max(0, progress));
  const weight = schedule.decay === "linear" ? t : (1 - Math.cos(Math.PI * t)) / 2;
  return schedule.start + (schedule.end - schedule.start) * weight;
}
