/**
 * Fault injection: a run is killed with SIGKILL twenty times at random moments (while loading, in
 * a step, while writing a checkpoint or a log row), each time started again (fresh while it has no
 * checkpoint, else --resume), and must end with the metrics and adapter bytes of a run that was
 * never interrupted. Checkpoints every step, so most kills land near one.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PACKAGE_ROOT } from "../src/paths.js";
import { Rng } from "../src/util/rng.js";

const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
const work = mkdtempSync(join(tmpdir(), "wordle-faults-"));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * The shipped recipe cut to 8 games a step, a checkpoint every step. 240 steps: the twenty lives
 * between kills last 28 s in all, and the run must outlast them on a fast machine too (40 steps,
 * about 9 s here, ended after 19 kills on an idle 2-vCPU Xeon).
 */
const ARGS = [
  ...["--preset", "tiny", "--no-final-eval", "--threads", "1"],
  ...["multi_turn.secrets_per_step=2", "num_generations=4", "max_steps=240"],
  ...["save_steps=1", "logging_steps=1", "eval.games=0"],
].flatMap((arg) => (arg.includes("=") ? ["--set", arg] : [arg]));

/** metrics.jsonl without the wall-clock fields. */
function metrics(run: string): unknown[] {
  return readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) =>
      Object.fromEntries(
        Object.entries(JSON.parse(line)).filter(([k]) => !/time|per_second|eta_|elapsed/.test(k)),
      ),
    );
}

/** The first key whose values differ, for a message that says where two rows part. */
function firstDifference(a: unknown, b: unknown): string {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const key = [...new Set([...Object.keys(x), ...Object.keys(y)])].find(
    (k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]),
  );
  return key === undefined ? "none" : `${key}: ${JSON.stringify(x[key])} vs ${JSON.stringify(y[key])}`;
}

function hasCheckpoint(run: string): boolean {
  return existsSync(run) && readdirSync(run).some((name) => /^checkpoint-\d+$/.test(name));
}

function command(run: string): string[] {
  return hasCheckpoint(run)
    ? [CLI, "train", "--output", run, "--resume"]
    : [CLI, "train", ...ARGS, "--output", run];
}

test("20 SIGKILLs at random moments, each followed by a restart: the run ends as if never interrupted", async () => {
  const reference = join(work, "reference");
  const clean = spawnSync(process.execPath, [CLI, "train", ...ARGS, "--output", reference], {
    encoding: "utf8",
  });
  assert.equal(clean.status, 0, clean.stderr);

  const run = join(work, "killed");
  const rng = new Rng(20261206);
  let kills = 0;
  while (kills < 20 && !existsSync(join(run, "final"))) {
    const child = spawn(process.execPath, command(run), { stdio: "ignore" });
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // 0.3-2.5 s: from inside start-up to a few steps in.
    const delay = 300 + Math.floor(rng.next() * 2200);
    const timer = setTimeout(() => child.kill("SIGKILL"), delay);
    const code = await exit;
    clearTimeout(timer);
    if (child.signalCode === "SIGKILL") kills++;
    else assert.equal(code, 0, `a run between kills failed (after ${kills} kills)`);
  }
  assert.equal(kills, 20, "the run finished before it was killed 20 times");
  const last = spawnSync(process.execPath, command(run), { encoding: "utf8" });
  assert.equal(last.status, 0, last.stderr);

  const got = metrics(run);
  const want = metrics(reference);
  assert.equal(got.length, want.length, "metrics rows");
  for (const [i, row] of got.entries())
    assert.deepEqual(row, want[i], `metrics row ${i}: ${firstDifference(row, want[i])}`);
  const adapter = (dir: string) => readFileSync(join(dir, "final", "adapter_model.safetensors"));
  assert.ok(adapter(run).equals(adapter(reference)));
});
