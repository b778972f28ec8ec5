/**
 * The run's monitor, set up from its config. Kept apart from trainer-setup.ts, which loads the
 * engine and the model, so that tools that only read or write run files (the dashboard's demo)
 * build the very same monitor without loading libtorch.
 */
import { Monitor } from "../run/monitor.js";
import { type GrpoConfig, rewardFunctionNames } from "./config/schema.js";

/** The run's monitor, set up from the config's success criteria, milestones and plateau. */
export function monitorFromConfig(config: GrpoConfig, totalSteps: number): Monitor {
  return new Monitor({
    successCriteria: config.success_criteria,
    milestones: config.milestones,
    runningMeanWindow: config.running_mean_window,
    plateau: config.plateau,
    rewardFunctions: rewardFunctionNames(config.reward.preset),
    totalSteps,
    saveSteps: config.save_steps,
  });
}
