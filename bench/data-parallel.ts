/**
 * Data-parallel throughput on this machine: the shipped recipe (preset `tiny`, 64 games a step)
 * trained for a few steps by one process with one thread, then by `--nproc N` ranks with one
 * thread each, alternating, so both see the same machine load. Games per second come from each
 * run's logged step times (`step_time`, the mean over each 5-step logging window), so start-up (loading
 * the model, the rendezvous) is not counted. Both runs play the same games: the data-parallel one
 * samples from keyed streams, so its games match a one-rank group's, not the plain run's exactly.
 *
 *   npx tsx bench/data-parallel.ts [--steps 30] [--nproc 2] [--rounds 3] [--set key=value ...]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../src/paths.js";
import { option } from "./random-qwen.js";

const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");

/** Median seconds per step over the run's logged rows (each the mean of its logging window). */
function secondsPerStep(runDir: string): number {
  const rows = readFileSync(join(runDir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.includes('"step_time"'))
    .map((line) => JSON.parse(line) as { step_time: number });
  // The first window holds the warm-up (allocations, caches): left out. The median, because a
  // shared virtual machine's speed drifts from second to second.
  const timed = rows
    .slice(1)
    .map((r) => r.step_time)
    .sort((a, b) => a - b);
  return timed[Math.floor(timed.length / 2)];
}

/** `--set key=value` arguments given to the bench, passed on to both runs. */
function extraSettings(): string[] {
  return process.argv.flatMap((arg, i) => (process.argv[i - 1] === "--set" ? ["--set", arg] : []));
}

/** Games a step plays: the tiny preset's 8 secrets x 8 games, or what --set says. */
function gamesPerStep(): number {
  const setting = (key: string, fallback: number) => {
    const arg = extraSettings().find((a) => a.startsWith(`${key}=`));
    return arg === undefined ? fallback : Number(arg.slice(key.length + 1));
  };
  return setting("multi_turn.secrets_per_step", 8) * setting("num_generations", 8);
}

function run(steps: number, nproc: number | null): number {
  const dir = mkdtempSync(join(tmpdir(), "wordle-dp-"));
  try {
    const args = [
      CLI,
      "train",
      "--preset",
      "tiny",
      "--output",
      join(dir, "run"),
      "--no-final-eval",
      "--threads",
      "1",
      "--set",
      `max_steps=${steps}`,
      "--set",
      "logging_steps=5",
      "--set",
      `save_steps=${steps}`,
      ...extraSettings(),
      ...(nproc === null ? [] : ["--nproc", String(nproc)]),
    ];
    const result = spawnSync(process.execPath, args, {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    if (result.status !== 0) throw new Error(`train failed (${nproc ?? 1} process): ${result.stderr}`);
    return secondsPerStep(join(dir, "run"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const steps = Number(option("steps", "30"));
  const nproc = Number(option("nproc", "2"));
  const rounds = Number(option("rounds", "3"));
  const one: number[] = [];
  const many: number[] = [];
  for (let r = 0; r < rounds; r++) {
    one.push(run(steps, null));
    many.push(run(steps, nproc));
    process.stdout.write(
      `round ${r + 1}: one process ${one[r].toFixed(3)} s/step, ${nproc} ranks ${many[r].toFixed(3)} s/step\n`,
    );
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const gpsOne = gamesPerStep() / mean(one);
  const gpsMany = gamesPerStep() / mean(many);
  process.stdout.write(
    `games per second: one process ${gpsOne.toFixed(1)}, ${nproc} ranks ${gpsMany.toFixed(1)}, ` +
      `ratio ${(gpsMany / gpsOne).toFixed(2)}x (median of 5-step windows of ${steps}-step runs, the first window left out, ${rounds} rounds)\n`,
  );
}

main();
