// Runs that cannot lose each other's work: one process per run directory (a lock that names its
// holder and survives a killed holder), and resumes that refuse paths outside the run and never
// prune newer checkpoints unless asked.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadSafetensors, noGrad, saveSafetensors, type Tensor } from "../src/engine/index.js";
import { resolveConfig } from "../src/grpo/config/config.js";
import { train } from "../src/grpo/trainer.js";
import { readJsonl } from "../src/run/jsonl.js";
import { acquireRunLock } from "../src/run/run-lock.js";
import { letterRewards, makeTinyModel, tinyConfig } from "./grpo-trainer-fixture.js";

const root = mkdtempSync(join(tmpdir(), "run-safety-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** The start time /proc gives a PID (the lock's proof of identity). */
function startTime(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
}

test("a run directory held by a live process is refused with its PID; a dead holder's lock is taken over", async () => {
  const dir = mkdtempSync(join(root, "lock-"));
  const sleeper = spawn("sleep", ["30"]);
  try {
    const pid = sleeper.pid as number;
    writeFileSync(join(dir, ".lock"), JSON.stringify({ pid, started: startTime(pid), command: "train" }));
    assert.throws(() => acquireRunLock(dir, "train"), new RegExp(`in use by process ${pid} \\(train\\)`));
    // The same PID with another start time is a recycled PID, not the holder: taken over.
    writeFileSync(join(dir, ".lock"), JSON.stringify({ pid, started: startTime(pid) + 1, command: "train" }));
    acquireRunLock(dir, "train").release();
  } finally {
    sleeper.kill("SIGKILL");
  }
  await new Promise((resolve) => sleeper.on("exit", resolve));
  const lock = acquireRunLock(dir, "train");
  assert.equal(JSON.parse(readFileSync(join(dir, ".lock"), "utf8")).pid, process.pid);
  assert.throws(() => acquireRunLock(dir, "train"), /in use by this process/);
  lock.release();
  assert.ok(!existsSync(join(dir, ".lock")));
});

test("a holder killed but not yet reaped (a zombie) holds nothing: its lock is taken over", async () => {
  const dir = mkdtempSync(join(root, "zombie-"));
  // The shell starts a child and replaces itself with a sleep that never reaps it: once the child
  // exits it stays a zombie for as long as the sleep runs. The child waits until its parent IS the
  // sleep: a child that ended before the exec would be reaped by the shell, leaving no zombie.
  const child = `while [ "$(cat /proc/$PPID/comm)" != sleep ]; do sleep 0.01; done`;
  const parent = spawn("sh", ["-c", `sh -c '${child}' & echo $!; exec sleep 10`]);
  try {
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once("data", (d) => resolve(Number(String(d)))),
    );
    const state = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    for (let i = 0; i < 500 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(state(), "Z");
    writeFileSync(join(dir, ".lock"), JSON.stringify({ pid, started: startTime(pid), command: "train" }));
    acquireRunLock(dir, "train").release();
  } finally {
    parent.kill("SIGKILL");
  }
});

const modelDir = makeTinyModel(11);
after(() => rmSync(modelDir, { recursive: true, force: true }));
const RUN = { max_steps: 6, save_steps: 2, logging_steps: 2, save_total_limit: 5 };

async function finishedRun(name: string): Promise<string> {
  const dir = join(root, name);
  await train({ config: tinyConfig(modelDir, dir, RUN), threads: 1, rewards: letterRewards() });
  return dir;
}

/** The steps of the training rows of metrics.jsonl (evaluation rows left out). */
function trainingSteps(dir: string): unknown[] {
  return readJsonl(join(dir, "metrics.jsonl"))
    .rows.filter((r) => "loss" in r)
    .map((r) => r.step);
}

function snapshot(dir: string): string[] {
  const metrics = readFileSync(join(dir, "metrics.jsonl"), "utf8");
  return [...readdirSync(dir).sort(), metrics];
}

test("two runs started together on one directory: the second fails, the first's files are intact", async () => {
  const dir = join(root, "together");
  const config = tinyConfig(modelDir, dir, RUN);
  const [first, second] = await Promise.allSettled([
    train({ config, threads: 1, rewards: letterRewards() }),
    train({ config: { ...config, seed: 1 }, threads: 1, rewards: letterRewards() }),
  ]);
  assert.equal(first.status, "fulfilled");
  assert.equal(second.status, "rejected");
  assert.match(String((second as PromiseRejectedResult).reason), /in use by this process/);
  const steps = trainingSteps(dir);
  assert.deepEqual(steps, [2, 4, 6], "one run's rows, once each");
  assert.ok(!existsSync(join(dir, ".lock")), "released at the end");
});

test("--resume with a path outside the run, or a missing one, is refused and nothing changes", async () => {
  const dir = await finishedRun("resume-paths");
  const before = snapshot(dir);
  const config = tinyConfig(modelDir, dir, RUN);
  await assert.rejects(
    train({ config, outputDir: dir, resume: "/nonexistent/path/checkpoint-2", rewards: letterRewards() }),
    /no such checkpoint folder/,
  );
  const other = await finishedRun("resume-other");
  await assert.rejects(
    train({ config, outputDir: dir, resume: join(other, "checkpoint-2"), rewards: letterRewards() }),
    /not a checkpoint folder of/,
  );
  assert.deepEqual(snapshot(dir), before);
  const stray = join(root, "no-such-run");
  await assert.rejects(
    train({ config, resume: join(stray, "checkpoint-2"), rewards: letterRewards() }),
    /no run directory/,
  );
  assert.ok(!existsSync(stray), "no directory left behind");
});

test("resuming from an older checkpoint needs discardNewer, which then removes the newer ones", async () => {
  const dir = await finishedRun("resume-older");
  const before = snapshot(dir);
  const config = tinyConfig(modelDir, dir, RUN);
  await assert.rejects(
    train({ config, resume: join(dir, "checkpoint-2"), rewards: letterRewards() }),
    /checkpoints newer than step 2 \(checkpoint-4, checkpoint-6\).*--resume-from-older/,
  );
  assert.deepEqual(snapshot(dir), before, "nothing removed");
  const again = await train({
    config,
    resume: join(dir, "checkpoint-2"),
    discardNewer: true,
    threads: 1,
    rewards: letterRewards(),
  });
  assert.equal(again.steps, 6);
  assert.deepEqual(trainingSteps(dir), [2, 4, 6]);
});

test("settings that cannot work are refused before a run: a bogus best-model metric, an absurd learning rate", () => {
  assert.throws(
    () => tinyConfig(modelDir, join(root, "x"), { metric_for_best_model: "eval/bogus" }),
    /metric_for_best_model: `eval\/bogus` is not in the evaluation rows, so best\/ would never be written/,
  );
  assert.throws(
    () => tinyConfig(modelDir, join(root, "x"), { learning_rate: 1e30 }),
    /learning_rate = 1e\+30: far above any rate a LoRA adapter survives/,
  );
});

test("resuming a finished run whose last checkpoint holds NaN is refused; final/ stays as it was", async () => {
  const dir = await finishedRun("nan-checkpoint");
  const final = readFileSync(join(dir, "final", "adapter_model.safetensors"));
  const file = join(dir, "checkpoint-6", "adapter_model.safetensors");
  const tensors = loadSafetensors(file);
  const [name, first] = [...tensors.entries()][0] as [string, Tensor];
  noGrad(() => first.reshape(-1).narrow(0, 0, 1).fill_(Number.NaN));
  saveSafetensors(file, tensors);
  for (const t of tensors.values()) t.dispose();
  await assert.rejects(
    train({ config: tinyConfig(modelDir, dir, RUN), resume: "latest", rewards: letterRewards() }),
    new RegExp(`${name.replace(/\./g, "\\.")} holds NaN or infinite values`),
  );
  assert.ok(readFileSync(join(dir, "final", "adapter_model.safetensors")).equals(final));
});

test("max_prompt_length in multi_turn mode, where it does nothing, is a warning", () => {
  const { warnings } = resolveConfig({ preset: "tiny", overrides: { max_prompt_length: 100 } });
  assert.ok(
    warnings.some((w) => /max_prompt_length = 100 does nothing in multi_turn mode/.test(w)),
    warnings.join("\n"),
  );
});

test("a run killed before its first checkpoint starts again; --resume on it says so", async () => {
  const dir = join(root, "early-kill");
  let checks = 0;
  // Stopped after one step, before save_steps: rows written, no checkpoint.
  await train({
    config: tinyConfig(modelDir, dir, { ...RUN, logging_steps: 1, save_steps: 5 }),
    threads: 1,
    rewards: letterRewards(),
    shouldStop: () => ++checks > 1,
  });
  for (const name of readdirSync(dir).filter((n) => n.startsWith("checkpoint-")))
    rmSync(join(dir, name), { recursive: true, force: true }); // as if killed before saving
  assert.ok(trainingSteps(dir).length > 0);
  await assert.rejects(
    train({ config: tinyConfig(modelDir, dir, RUN), resume: "latest", rewards: letterRewards() }),
    /stopped before its first checkpoint: start it again without --resume/,
  );
  const again = await train({ config: tinyConfig(modelDir, dir, RUN), threads: 1, rewards: letterRewards() });
  assert.equal(again.steps, 6);
  assert.deepEqual(trainingSteps(dir), [2, 4, 6], "the stopped run's rows are gone");
});

test("a malformed optimizer.json is refused naming the file and the field", async () => {
  const dir = await finishedRun("bad-optimizer-json");
  const meta = join(dir, "checkpoint-6", "optimizer.json");
  const resume = () =>
    train({ config: tinyConfig(modelDir, dir, RUN), resume: "latest", rewards: letterRewards() });
  for (const [text, field] of [
    ["[1, 2]", /not a JSON object/],
    ['{"kind": "adamw", "hyper": {}, "steps": "many"}', /"steps" must be a list of step counts/],
    ['{"hyper": {}, "steps": []}', /"kind" must be/],
    ["{not json", /not valid JSON/],
  ] as [string, RegExp][]) {
    writeFileSync(meta, text);
    await assert.rejects(resume(), (err: Error) => err.message.includes(meta) && field.test(err.message));
  }
});
