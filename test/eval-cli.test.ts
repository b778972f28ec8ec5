import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { checkEvalGame } from "../src/dashboard/validate-rows.js";
import { FIXTURES_DIR, PACKAGE_ROOT } from "../src/paths.js";
import { writeTinyModelDir } from "./helpers/tiny-model-dir.js";

/** Run the CLI: the compiled one under dist/, or the TypeScript one through tsx. */
function cli(args: string[]) {
  const here = fileURLToPath(import.meta.url);
  const compiled = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
  const argv =
    here.includes(`${join("dist", "test")}`) && existsSync(compiled)
      ? [compiled, ...args]
      : ["--import", "tsx", join(PACKAGE_ROOT, "src", "cli", "main.ts"), ...args];
  return spawnSync(process.execPath, argv, {
    cwd: PACKAGE_ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
}

/** The tiny Qwen2 fixture as a full model directory: its weights plus a character tokenizer. */
function tinyModelDir(): string {
  return writeTinyModelDir(mkdtempSync(join(tmpdir(), "eval-cli-model-")));
}

test("CLI: eval --solver entropy --json on a word list, with baselines", () => {
  const r = cli(["eval", "--solver", "entropy", "--set", "words:frost,crane", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.policy, "entropy (salet)");
  assert.equal(out.sets[0].summary.games, 2);
  assert.equal(out.sets[0].metrics["eval/win_rate"], 1);
  assert.deepEqual(
    out.sets[0].baselines.map((b: { solver: string }) => b.solver),
    ["entropy", "random-consistent"],
  );
});

test("CLI: eval --games takes FILE.lock for its run: a second eval writing the same file is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "eval-cli-lock-"));
  const games = join(dir, "games.jsonl");
  const holder = spawn("sleep", ["30"]);
  try {
    // A live eval holds the file (as its lock says): this one stops before playing, naming it.
    writeFileSync(`${games}.lock`, JSON.stringify({ pid: holder.pid, started: null, command: "eval" }));
    const refused = cli(["eval", "--solver", "entropy", "--set", "words:frost", "--games", games]);
    assert.notEqual(refused.status, 0);
    assert.match(
      refused.stderr,
      new RegExp(`games\\.jsonl is in use by process ${holder.pid} \\(eval\\).*--games`),
    );
    assert.equal(existsSync(games), false);
  } finally {
    holder.kill("SIGKILL");
  }
  // Its holder gone, the lock is taken over; the file is written whole and the lock released.
  const r = cli(["eval", "--solver", "entropy", "--set", "words:frost", "--games", games]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(games, "utf8").trim().split("\n").length, 1);
  assert.equal(existsSync(`${games}.lock`), false);
});

test("CLI: play --solver entropy prints plain tiles when not on a terminal", () => {
  const r = cli(["play", "--solver", "entropy", "--secret", "frost"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /turn 1\n {2}S~ A× L× E× T✓\n/);
  assert.match(r.stdout, /F✓ R✓ O✓ S✓ T✓\nwon in 3 turns\n$/);
  assert.ok(!r.stdout.includes("\u001b["), "no ANSI codes in piped output");
});

test("CLI: eval and play with a model directory and a LoRA adapter", () => {
  const dir = tinyModelDir();
  const games = join(dir, "games.jsonl");
  const common = [
    "--model",
    dir,
    "--adapter",
    join(FIXTURES_DIR, "qwen2-tiny-lora"),
    "--template",
    "compact",
  ];
  const r = cli([
    "eval",
    ...common,
    "--set",
    "words:frost,crane",
    "--max-new-tokens",
    "4",
    "--no-baselines",
    "--before",
    "--games",
    games,
    "--json",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.policy, "model + adapter");
  assert.equal(out.decoding, "greedy");
  assert.match(out.player, /qwen2-tiny-lora/);
  assert.equal(out.sets[0].summary.guesses, 12, "a random model loses both games in 6 turns");
  // --before: the same games with the adapter switched off come first.
  assert.equal(out.before.sets[0].summary.guesses, 12);
  const lines = readFileSync(games, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  assert.deepEqual(
    lines.map((l) => `${l.player}:${l.secret}`),
    ["base:frost", "base:crane", "policy:frost", "policy:crane"],
  );
  for (const line of lines) assert.equal(checkEvalGame(line), null);

  const p = cli(["play", ...common, "--secret", "frost", "--max-new-tokens", "3", "--prompt"]);
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stdout, /prompt for turn 1:\n {4}│ <\|im_start\|>system/);
  assert.match(p.stdout, /turn 6\n/);
  assert.match(p.stdout, /lost \(6 invalid\): the word was FROST\n$/);
});

test("CLI: clear errors for a bad set, a bad secret and conflicting flags", () => {
  const bad = cli(["eval", "--solver", "entropy", "--set", "words:qqqqq"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /"qqqqq" is not one of the 2,315 Wordle answers/);
  const both = cli(["eval", "--solver", "entropy", "--greedy", "--temperature", "0.7"]);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /--greedy and --temperature exclude each other/);
  const missing = cli(["play", "--model", join(FIXTURES_DIR, "nope")]);
  assert.match(missing.stderr, /--model .*nope: no config\.json there/);
  const threads = cli(["eval", "--solver", "entropy", "--threads", "0"]);
  assert.equal(threads.status, 1);
  assert.match(threads.stderr, /--threads expects an integer >= 1/);
});

test("CLI: the shipped consistent pair decodes consistent words by default, as its training.json says", () => {
  const adapter = join(PACKAGE_ROOT, "models", "wordle-tiny-consistent");
  const secrets = "words:frost,jazzy,nymph,vivid,queue,fjord,baste,crane";
  const run = (extra: string[]) =>
    cli(["eval", "--adapter", adapter, "--set", secrets, "--no-baselines", "--json", ...extra]);
  const auto = run([]);
  assert.equal(auto.status, 0, auto.stderr);
  const out = JSON.parse(auto.stdout);
  assert.equal(out.decoding, "greedy, consistent words only");
  const summary = out.sets[0].summary;
  assert.equal(summary.invalidRate, 0);
  assert.equal(summary.consistentRate, 1);
  const free = JSON.parse(run(["--constrain", "none"]).stdout);
  assert.equal(free.decoding, "greedy");
  const p = cli(["play", "--adapter", adapter, "--secret", "frost"]);
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stdout, /won in [1-6] turns?\n$/);
});
