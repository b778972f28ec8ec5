import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { reservedSecrets } from "../src/eval/secrets.js";
import { loadModel, loadTokenizer } from "../src/model/load.js";
import { generate } from "../src/model/sampler.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { DEFAULT_SFT_SETTINGS, runSft, type SftLogRow, type SftSettings } from "../src/sft/trainer.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { renderPrompt } from "../src/task/prompt.js";

/** A model small enough to train in seconds on a busy CPU. */
const MICRO: SftSettings = {
  ...DEFAULT_SFT_SETTINGS,
  teacher: "random-consistent",
  seed: 7,
  steps: 40,
  minutes: null,
  batchGames: 16,
  lr: 1e-2,
  warmupSteps: 3,
  configOverrides: {
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
  },
  checkpointSeconds: 1e9,
};

function rows(runDir: string): SftLogRow[] {
  return readFileSync(join(runDir, "loss.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as SftLogRow);
}

test("sft: the loss falls, and the HF directory it writes loads and plays through the real code path", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-train-"));
  try {
    const out = join(dir, "model");
    // The entropy teacher is deterministic, so even a micro model learns its opening in a few steps.
    const settings = { ...MICRO, teacher: "entropy" };
    const result = await runSft({ settings, runDir: join(dir, "run"), outDir: out, command: "test" });
    assert.equal(result.steps, 40);
    const log = rows(join(dir, "run"));
    assert.equal(log.length, 40);
    const first = log.slice(0, 3).reduce((s, r) => s + r.loss, 0) / 3;
    const last = log.slice(-3).reduce((s, r) => s + r.loss, 0) / 3;
    assert.ok(last < first - 1, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);

    for (const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "generation_config.json",
      "training.json",
      "held_out.json",
    ])
      assert.ok(existsSync(join(out, f)), f);
    const heldOut = JSON.parse(readFileSync(join(out, "held_out.json"), "utf8")) as { secrets: string[] };
    assert.deepEqual(new Set(heldOut.secrets), reservedSecrets());

    const model = await loadModel(out);
    const tokenizer = loadTokenizer(out);
    assert.ok(tokenizer.chatTemplate?.includes("<|im_end|>"));
    assert.equal(model.config.hiddenSize, 32);
    const prompt = tokenizer.encode(renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text);
    const [completion] = generate(model, tokenizer, [prompt], {
      maxNewTokens: 12,
      greedy: true,
      stopStrings: ["</guess>"],
    });
    const guess = parseGuess(completion.text);
    assert.ok(
      guess !== null && /^[A-Z]{5}$/.test(guess),
      `greedy completion ${JSON.stringify(completion.text)} parses into a 5-letter guess`,
    );
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sft --resume continues exactly where the checkpoint left off", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-resume-"));
  try {
    const settings = { ...MICRO, steps: 6 };
    await runSft({ settings, runDir: join(dir, "straight"), outDir: join(dir, "m1") });
    let stepsSeen = 0;
    const stopped = await runSft({
      settings,
      runDir: join(dir, "split"),
      outDir: join(dir, "m2"),
      onStep: () => {
        stepsSeen++;
      },
      shouldStop: () => stepsSeen >= 4,
    });
    assert.equal(stopped.stoppedEarly, true);
    assert.equal(stopped.steps, 4);
    const resumed = await runSft({
      settings: MICRO,
      runDir: join(dir, "split"),
      outDir: join(dir, "m2"),
      resume: true,
    });
    assert.equal(resumed.steps, 6);
    const a = rows(join(dir, "straight"));
    const b = rows(join(dir, "split"));
    assert.deepEqual(
      b.map((r) => r.step),
      [1, 2, 3, 4, 5, 6],
    );
    for (let i = 0; i < 6; i++) {
      assert.equal(b[i].games, a[i].games);
      assert.ok(Math.abs(b[i].loss - a[i].loss) < 1e-5, `step ${i + 1}: ${b[i].loss} vs ${a[i].loss}`);
    }
    assert.deepEqual(
      readFileSync(join(dir, "m1", "model.safetensors")).length,
      readFileSync(join(dir, "m2", "model.safetensors")).length,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sft settings are checked before any work", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-bad-"));
  try {
    const run = (s: Partial<SftSettings>) =>
      runSft({ settings: { ...MICRO, ...s }, runDir: join(dir, "r"), outDir: join(dir, "m") });
    await assert.rejects(run({ steps: null, minutes: null }), /exactly one budget/);
    await assert.rejects(run({ steps: 0 }), /--steps must be a positive integer/);
    await assert.rejects(run({ teacher: "oracle" }), /unknown teacher/);
    await assert.rejects(run({ configOverrides: { vocab_size: 10 } }), /vocab_size/);
    await assert.rejects(
      runSft({ settings: MICRO, runDir: join(dir, "none"), outDir: join(dir, "m"), resume: true }),
      /no settings.json/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sft --init-from starts from a model's weights and takes its architecture", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-init-"));
  try {
    await runSft({ settings: { ...MICRO, steps: 20 }, runDir: join(dir, "a"), outDir: join(dir, "m1") });
    const first = rows(join(dir, "a"));
    await runSft({
      settings: { ...MICRO, steps: 2, seed: 8, configOverrides: {}, initFrom: join(dir, "m1") },
      runDir: join(dir, "b"),
      outDir: join(dir, "m2"),
    });
    const second = rows(join(dir, "b"));
    // Fresh weights start near ln(vocab); the continued run starts where the first one ended.
    assert.ok(second[0].loss < first[0].loss - 1, `${second[0].loss} vs ${first[0].loss}`);
    const config = JSON.parse(readFileSync(join(dir, "m2", "config.json"), "utf8")) as {
      hidden_size: number;
    };
    assert.equal(config.hidden_size, 32);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sft --snapshot-steps: a loadable model every N steps, the last one equal to the final model", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-snap-"));
  try {
    const runDir = join(dir, "run");
    await runSft({ settings: { ...MICRO, steps: 6 }, runDir, outDir: join(dir, "m"), snapshotSteps: 3 });
    const snapshots = join(runDir, "snapshots");
    for (const step of [3, 6]) {
      const training = JSON.parse(readFileSync(join(snapshots, `step-${step}`, "training.json"), "utf8")) as {
        steps: number;
        games_seen: number;
      };
      assert.equal(training.steps, step);
      assert.equal(training.games_seen, step * MICRO.batchGames);
    }
    assert.ok(!existsSync(join(snapshots, "step-4")));
    assert.deepEqual(
      readFileSync(join(snapshots, "step-6", "model.safetensors")),
      readFileSync(join(dir, "m", "model.safetensors")),
    );
    const early = await loadModel(join(snapshots, "step-3"), { device: "cpu", dtype: "float32" });
    early.dispose();
    await assert.rejects(
      runSft({ settings: MICRO, runDir: join(dir, "bad"), outDir: join(dir, "m2"), snapshotSteps: 0 }),
      /--snapshot-steps must be a positive integer/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sft refuses to write over an existing model or run directory unless --overwrite", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-overwrite-"));
  try {
    const model = join(dir, "model");
    mkdirSync(model);
    writeFileSync(join(model, "model.safetensors"), "weights worth keeping");
    const cli = (...extra: string[]) =>
      spawnSync(
        process.execPath,
        [
          join(PACKAGE_ROOT, "dist", "src", "cli", "main.js"),
          "sft",
          "--out",
          model,
          "--run-dir",
          join(dir, "run"),
          "--steps",
          "1",
          "--batch-games",
          "2",
          "--config-json",
          '{"hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1}',
          ...extra,
        ],
        { encoding: "utf8" },
      );
    const refused = cli();
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /--out .*model already holds files.*--overwrite/);
    assert.equal(readFileSync(join(model, "model.safetensors"), "utf8"), "weights worth keeping");
    const replaced = cli("--overwrite");
    assert.equal(replaced.status, 0, replaced.stderr);
    assert.ok(existsSync(join(model, "config.json")));
    const again = cli();
    assert.match(
      again.stderr,
      /--out .*model already holds files/,
      "an earlier run's model is protected too",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a second sft on a run directory in use is refused; the first finishes and releases it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-lock-"));
  try {
    const runDir = join(dir, "run");
    const settings = { ...MICRO, steps: 3 };
    // The second run's outcome: its error, or null if it ran (caught at once, so it is not unhandled).
    let second: Promise<Error | null> | null = null;
    const first = await runSft({
      settings,
      runDir,
      outDir: join(dir, "m1"),
      onStep: () => {
        second ??= runSft({ settings, runDir, outDir: join(dir, "m2") }).then(
          () => null,
          (err: Error) => err,
        );
      },
    });
    assert.equal(first.steps, 3);
    const error = await (second as Promise<Error | null> | null);
    assert.match(error?.message ?? "it ran", /is in use/);
    assert.ok(!existsSync(join(dir, "m2")), "the refused run wrote no model");
    assert.ok(!existsSync(join(runDir, ".lock")), "the lock is released");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
