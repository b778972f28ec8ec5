import type { MonitorOptions } from "../../src/run/monitor.js";

/** A small monitor for tests that log a few rows through RunLogs: one criterion, no milestones. */
export function smallMonitorOptions(totalSteps: number): MonitorOptions {
  return {
    successCriteria: ["running_mean(total) > 1"],
    milestones: [],
    runningMeanWindow: 3,
    plateau: { window: 20, min_gain: 0.01, early_stop: false, metric: "total" },
    rewardFunctions: ["format", "feedback"],
    totalSteps,
    saveSteps: 20,
  };
}
