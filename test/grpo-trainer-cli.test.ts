/**
 * `wordle-grpo train` as a user runs it: Ctrl-C (SIGINT) saves a checkpoint and exits 0, a SIGKILL
 * mid-run loses nothing that a checkpoint holds, and `--resume` twice over yields exactly the rows
 * of an uninterrupted run with the same settings (wall-clock fields aside).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { cuda } from "../src/engine/index.js";
import { train } from "../src/grpo/trainer.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { readJsonl } from "../src/run/jsonl.js";
import { comparable, makeTinyModel, tinyConfig, tinySetArgs } from "./grpo-trainer-fixture.js";

const RUN = { max_steps: 20, save_steps: 5, logging_steps: 5, save_total_limit: 2 };
interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the CLI (compiled JS under `npm test`, TypeScript through tsx otherwise). */
function startCli(args: string[]): Running {
  const compiled = fileURLToPath(import.meta.url).endsWith(".js");
  const argv = compiled
    ? [join(PACKAGE_ROOT, "dist", "src", "cli", "main.js"), ...args]
    : ["--import", "tsx", join(PACKAGE_ROOT, "src", "cli", "main.ts"), ...args];
  const child = spawn(process.execPath, argv, { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout?.on("data", (d) => {
    text += d;
  });
  child.stderr?.on("data", (d) => {
    text += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => text, exited };
}

async function waitFor(
  what: string,
  ok: () => boolean,
  running: Running,
  timeoutMs = 120_000,
): Promise<void> {
  const start = Date.now();
  let finished = false;
  running.exited.then(() => {
    finished = true;
  });
  while (!ok()) {
    if (finished) throw new Error(`the CLI exited before ${what}:\n${running.output()}`);
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out waiting for ${what}:\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `train` on the tiny model with the short-run settings, one thread. */
function trainArgs(
  modelDir: string,
  runDir: string,
  settings: Record<string, unknown>,
  ...extra: string[]
): string[] {
  return [
    "train",
    "--preset",
    "seed",
    "--model",
    modelDir,
    "--output",
    runDir,
    "--threads",
    "1",
    ...extra,
    ...tinySetArgs(settings),
  ];
}

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

test("SIGINT saves and exits 0; after a SIGKILL, --resume continues exactly as an uninterrupted run", async () => {
  const modelDir = makeTinyModel();
  temps.push(modelDir);
  const reference = join(modelDir, "reference");
  const runDir = join(modelDir, "cli-run");
  await train({ config: tinyConfig(modelDir, reference, RUN), threads: 1 });

  // 1. Ctrl-C once the first row is logged: the step in flight finishes, a checkpoint is saved.
  const first = startCli(trainArgs(modelDir, runDir, RUN));
  const metrics = join(runDir, "metrics.jsonl");
  await waitFor(
    "the first metrics row",
    () => existsSync(metrics) && readFileSync(metrics, "utf8").includes("\n"),
    first,
  );
  first.child.kill("SIGINT");
  const firstExit = await first.exited;
  assert.equal(firstExit.code, 0, first.output());
  assert.match(first.output(), /SIGINT: finishing the current step/);
  const interruptedAt = Math.max(
    ...readdirSync(runDir)
      .filter((n) => /^checkpoint-\d+$/.test(n))
      .map((n) => Number(n.slice("checkpoint-".length))),
  );
  assert.ok(interruptedAt >= 5 && interruptedAt < 20, `stopped at ${interruptedAt}`);

  // 2. Resume, and SIGKILL as soon as checkpoint-15 exists (the run is then mid-way).
  const resumeArgs = ["train", "--output", runDir, "--resume", "--threads", "1"];
  const second = startCli(resumeArgs);
  await waitFor("checkpoint-15", () => existsSync(join(runDir, "checkpoint-15")), second);
  second.child.kill("SIGKILL");
  const secondExit = await second.exited;
  assert.equal(secondExit.signal, "SIGKILL");
  assert.ok(!existsSync(join(runDir, "final")), "killed before the end");

  // 3. Resume again from checkpoint-15 (or the newer one saved before the kill) to the end.
  const third = startCli(resumeArgs);
  const thirdExit = await third.exited;
  assert.equal(thirdExit.code, 0, third.output());
  assert.match(third.output(), /resuming .* from checkpoint-(15|20)/);

  const rows = (dir: string, file: string) => comparable(readJsonl(join(dir, file)).rows);
  const got = rows(runDir, "metrics.jsonl");
  const want = rows(reference, "metrics.jsonl");
  assert.equal(got.length, want.length);
  assert.deepEqual(got, want);
  assert.deepEqual(rows(runDir, "samples.jsonl"), rows(reference, "samples.jsonl"));
  const adapter = (dir: string) => readFileSync(join(dir, "final", "adapter_model.safetensors"));
  assert.ok(adapter(runDir).equals(adapter(reference)), "final adapters are byte-identical");
});

test("two train processes on one --output: the second exits non-zero naming the first, whose run goes on", async () => {
  const modelDir = makeTinyModel(5);
  temps.push(modelDir);
  const runDir = join(modelDir, "shared-output");
  const args = (seed: number) =>
    trainArgs(modelDir, runDir, { ...RUN, max_steps: 2000, seed }, "--no-final-eval");
  const first = startCli(args(1));
  await waitFor("the first run's lock", () => existsSync(join(runDir, ".lock")), first);
  const second = startCli(args(2));
  const secondExit = await second.exited;
  assert.notEqual(secondExit.code, 0);
  assert.match(second.output(), new RegExp(`in use by process ${first.child.pid} \\(train\\)`));
  first.child.kill("SIGINT"); // saves and exits
  const firstExit = await first.exited;
  assert.equal(firstExit.code, 0, first.output());
  const steps = readJsonl(join(runDir, "metrics.jsonl"))
    .rows.filter((r) => "loss" in r)
    .map((r) => r.step as number);
  assert.ok(steps.length > 0, "the first run logged");
  assert.ok(
    steps.every((s, i) => i === 0 || s > (steps[i - 1] as number)),
    `one run's rows, each step once: ${steps}`,
  );
  assert.ok(!existsSync(join(runDir, ".lock")));
});

test("a closed stdout (train | head -1) does not stop the run: it completes and writes final/", async () => {
  const modelDir = makeTinyModel(6);
  temps.push(modelDir);
  const runDir = join(modelDir, "piped");
  const run = startCli(
    trainArgs(modelDir, runDir, { ...RUN, max_steps: 12, logging_steps: 1 }, "--no-final-eval"),
  );
  // The reader goes away after the first line, as `head -1` would.
  await waitFor("the first line", () => run.output().includes("\n"), run);
  run.child.stdout?.destroy();
  run.child.stderr?.destroy();
  const exit = await run.exited;
  assert.equal(exit.code, 0);
  assert.ok(existsSync(join(runDir, "final", "adapter_model.safetensors")), "the run finished");
});

test("a device or dtype this machine cannot run fails in one line, before any run directory exists", async () => {
  const modelDir = makeTinyModel(7);
  temps.push(modelDir);
  const count = cuda.isAvailable() ? cuda.deviceCount() : 0;
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { device: `cuda:${count + 3}` },
      new RegExp(`device cuda:${count + 3}: (no CUDA device here|this machine has)`),
    ],
    [{ device: "cpu", dtype: "float16" }, /dtype float16 on the CPU: .*use bfloat16 .* or float32/],
  ];
  for (const [settings, message] of cases) {
    const runDir = join(modelDir, `unrunnable-${Object.values(settings).join("-")}`);
    const run = startCli(trainArgs(modelDir, runDir, { ...RUN, ...settings }));
    const { code } = await run.exited;
    assert.notEqual(code, 0);
    assert.match(run.output(), message);
    assert.ok(!run.output().includes("registered at"), "no libtorch dispatcher dump");
    assert.ok(!existsSync(runDir), `${runDir} was not created`);
  }
});
