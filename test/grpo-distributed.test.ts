/**
 * Data-parallel training through the CLI, with real ranks talking Gloo over 127.0.0.1: two ranks
 * give the one-rank run's numbers on the same global batch, a lost rank stops the other within the
 * timeout naming it, and a job killed after a checkpoint resumes to the uninterrupted run's bytes.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePort } from "../src/cli/launch.js";
import { distributedBackends } from "../src/engine/distributed.js";
import { PACKAGE_ROOT } from "../src/paths.js";

const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
const skip = distributedBackends().gloo ? false : "the addon was built without Gloo";
const work = mkdtempSync(join(tmpdir(), "wordle-ddp-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** The shipped model's recipe, cut to 8 games a step in 2 micro-batches of 4 packed game rows. */
const SMALL = [
  "--preset",
  "tiny",
  "--no-final-eval",
  "--threads",
  "1",
  ...["multi_turn.secrets_per_step=2", "num_generations=4", "per_device_train_batch_size=4"],
  ...["logging_steps=1", "eval.games=0", "lora.dropout=0.1"],
].flatMap((arg, i, all) => (arg.includes("=") && all[i - 1] !== "--set" ? ["--set", arg] : [arg]));

function train(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [CLI, "train", ...args], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1", ...env },
    timeout: 600_000,
  });
  assert.equal(result.status, 0, `train ${args.join(" ")} failed:\n${result.stderr}`);
  return result;
}

/** metrics.jsonl without the wall-clock fields. */
function metrics(run: string): Record<string, unknown>[] {
  const timing = /time|per_second|eta|elapsed/;
  return readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => Object.fromEntries(Object.entries(JSON.parse(line)).filter(([k]) => !timing.test(k))));
}

function adapterBytes(dir: string): Buffer {
  return readFileSync(join(dir, "adapter_model.safetensors"));
}

for (const mode of ["multi_turn", "single_state"] as const) {
  test(`${mode}: 2 ranks and 1 rank on the same global batch log the same metrics and adapter`, {
    skip,
  }, () => {
    const extra =
      mode === "single_state" ? ["--set", "mode=single_state", "--set", "gradient_accumulation_steps=2"] : [];
    const runs = [1, 2].map((nproc) => {
      const out = join(work, `${mode}-${nproc}`);
      train([
        ...SMALL,
        ...extra,
        "--set",
        "max_steps=5",
        "--set",
        "save_steps=5",
        // The closing evaluation's games are split over the ranks too.
        "--set",
        "eval.games=6",
        "--output",
        out,
        "--nproc",
        String(nproc),
      ]);
      return out;
    });
    const [one, two] = runs.map(metrics);
    assert.equal(one.filter((row) => "loss" in row).length, 5);
    assert.deepEqual(two, one);
    assert.ok(one.filter((row) => "loss" in row).every((row) => (row.grad_norm as number) > 0));
    assert.ok(adapterBytes(join(runs[0], "final")).equals(adapterBytes(join(runs[1], "final"))));
    // Rank 0 alone writes: one row per step, every completion's sample once.
    const samples = (run: string) =>
      readFileSync(join(run, "samples.jsonl"), "utf8").trim().split("\n").length;
    assert.equal(samples(runs[1]), samples(runs[0]));
    const evalGames = (run: string) => readFileSync(join(run, "eval-games.jsonl"), "utf8");
    assert.equal(evalGames(runs[0]).trim().split("\n").length, 6);
    assert.equal(evalGames(runs[1]), evalGames(runs[0]));
    assert.ok(one.some((row) => typeof row["eval/win_rate"] === "number"));
  });
}

/** Two ranks started by hand, as torchrun or Slurm would. */
async function startRanks(args: string[]): Promise<ChildProcess[]> {
  const port = await freePort();
  return [0, 1].map((rank) =>
    spawn(process.execPath, [CLI, "train", ...args], {
      env: {
        ...process.env,
        OMP_NUM_THREADS: "1",
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: "2",
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
      },
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string; at: number }> {
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) =>
    child.on("exit", (code) => resolve({ code, stderr, at: performance.now() })),
  );
}

/** Waits (a bounded time) until no process of the group is left; zombies may outlive it briefly. */
async function groupGone(pgid: number, limitMs = 10_000): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitFor(path: string, limitMs = 300_000): Promise<void> {
  const start = performance.now();
  while (!existsSync(path)) {
    if (performance.now() - start > limitMs) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("a lost rank stops the other within ddp_timeout, naming it; the last checkpoint resumes", {
  skip,
}, async () => {
  const out = join(work, "lost-rank");
  const args = [
    ...SMALL,
    "--set",
    "max_steps=40",
    "--set",
    "save_steps=2",
    "--set",
    "ddp_timeout=20",
    "--output",
    out,
  ];
  const ranks = await startRanks(args);
  const ends = ranks.map(exited);
  await waitFor(join(out, "checkpoint-2", "trainer_state.json"));
  ranks[1].kill("SIGKILL");
  const killedAt = performance.now();
  const survivor = await ends[0];
  assert.notEqual(survivor.code, 0);
  assert.match(survivor.stderr, /rank 1/);
  assert.ok(survivor.at - killedAt < 20_000 + 15_000, `rank 0 took ${(survivor.at - killedAt) / 1000} s`);
  // The checkpoints left are whole, and the run resumes from the latest to the end.
  train(["--output", out, "--resume", "--nproc", "2"]);
  assert.equal(metrics(out).at(-1)?.step, 40);
});

test("a job killed after a checkpoint resumes with 2 ranks (or 1) to the uninterrupted run's metrics and bytes", {
  skip,
}, async () => {
  const args = (out: string) => [...SMALL, "--set", "max_steps=8", "--set", "save_steps=4", "--output", out];
  const reference = join(work, "uninterrupted");
  train([...args(reference), "--nproc", "2"]);

  const out = join(work, "killed");
  const job = spawn(process.execPath, [CLI, "train", ...args(out), "--nproc", "2"], {
    env: { ...process.env, OMP_NUM_THREADS: "1" },
    stdio: "ignore",
    detached: true,
  });
  await waitFor(join(out, "checkpoint-4", "trainer_state.json"));
  process.kill(-(job.pid as number), "SIGKILL");
  await new Promise((r) => job.on("exit", r));
  await groupGone(job.pid as number);
  assert.equal(existsSync(join(out, "final")), false, "the job ended before it was killed");
  // The same checkpoint on 1 rank: nothing in it is per rank, and with these micro-batches (one
  // per rank of 2) the sums are the same too.
  const onOne = join(work, "killed-one-rank");
  cpSync(out, onOne, { recursive: true });
  train(["--output", out, "--resume", "--nproc", "2"]);
  assert.deepEqual(metrics(out), metrics(reference));
  assert.ok(adapterBytes(join(out, "final")).equals(adapterBytes(join(reference, "final"))));
  train(["--output", onOne, "--resume", "--nproc", "1"]);
  assert.deepEqual(metrics(onOne), metrics(reference));
});

test("Ctrl-C on the launcher stops every rank at one step, saves once and exits 0", { skip }, async () => {
  const out = join(work, "interrupted");
  const job = spawn(
    process.execPath,
    [
      CLI,
      "train",
      ...SMALL,
      "--set",
      "max_steps=400",
      "--set",
      "save_steps=400",
      "--output",
      out,
      "--nproc",
      "2",
    ],
    { env: { ...process.env, OMP_NUM_THREADS: "1" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  const end = exited(job);
  const metricsFile = join(out, "metrics.jsonl");
  await waitFor(metricsFile);
  while (readFileSync(metricsFile, "utf8").split("\n").length < 4)
    await new Promise((r) => setTimeout(r, 25));
  job.kill("SIGINT");
  const { code, stderr } = await end;
  assert.equal(code, 0, stderr);
  assert.equal(stderr.match(/saved checkpoint-\d+ \(interrupted\)/g)?.length, 1, stderr);
  const last = metrics(out).at(-1)?.step as number;
  assert.ok(existsSync(join(out, `checkpoint-${last}`, "trainer_state.json")));
  assert.equal(existsSync(join(out, "final")), false);
});
