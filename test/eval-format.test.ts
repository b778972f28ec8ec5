import assert from "node:assert/strict";
import { test } from "node:test";
import { checkEvalGame } from "../src/dashboard/validate-rows.js";
import { evaluate } from "../src/eval/evaluate.js";
import { evalGameLines, evalMetrics, formatEvalTable, formatReport, reportJson } from "../src/eval/format.js";
import type { GuessPolicy } from "../src/eval/policy.js";
import { resolveEvalSet } from "../src/eval/secrets.js";
import { renderGuess, renderTiles } from "../src/eval/tiles.js";

/** Plays CRANE, then junk: wins only when the secret is CRANE. */
const craneThenJunk: GuessPolicy = {
  name: "crane-then-junk",
  decoding: "scripted",
  next: async (states) =>
    states.map((s) =>
      s.turn === 1
        ? { completion: "<guess>CRANE</guess>", guess: "CRANE" }
        : { completion: "??", guess: null },
    ),
};

test("evaluate plays the policy and both baselines on the same secrets", async () => {
  const report = await evaluate({ policy: craneThenJunk, sets: [resolveEvalSet("words:crane,frost,abide")] });
  assert.equal(report.policy, "crane-then-junk");
  assert.equal(report.decoding, "scripted");
  const [set] = report.sets;
  assert.equal(set.set, "words");
  assert.equal(set.summary.wins, 1);
  assert.equal(set.summary.invalidGuesses, 10); // frost and abide: 5 junk turns each
  assert.deepEqual(
    set.baselines.map((b) => [b.solver, b.label, b.summary.games]),
    [
      ["entropy", "entropy (salet)", 3],
      ["random-consistent", "random-consistent", 3],
    ],
  );
  assert.equal(set.baselines[0].summary.winRate, 1);

  const metrics = evalMetrics(set.summary, set.baselines);
  assert.equal(metrics["eval/win_rate"], 1 / 3);
  assert.equal(metrics["eval/mean_guesses"], 1);
  assert.equal(metrics["eval/invalid_rate"], 10 / 13);
  assert.equal(metrics["eval/games"], 3);
  assert.equal(metrics["eval/baseline/entropy/win_rate"], 1);
  assert.ok(typeof metrics["eval/baseline/random-consistent/mean_guesses"] === "number");
  for (const key of Object.keys(metrics)) assert.ok(key.startsWith("eval/"), key);

  // eval-games.jsonl lines: the dashboard's reader accepts every one (unparseable word -> "").
  const lines = evalGameLines(200, set.games);
  for (const line of lines) assert.equal(checkEvalGame(JSON.parse(JSON.stringify(line))), null);
  assert.deepEqual(lines[1].guesses[1], {
    word: "",
    feedback: null,
    invalid: true,
    invalid_kind: "unparseable",
    completion: "??",
  });
  assert.deepEqual(lines[0].guesses, [
    { word: "crane", feedback: "ccccc", completion: "<guess>CRANE</guess>" },
  ]);
  assert.equal(evalGameLines(1, set.games, { completions: false })[0].guesses[0].completion, undefined);

  const json = JSON.parse(JSON.stringify(reportJson(report)));
  assert.equal(json.sets[0].summary.games, 3);
  assert.equal(json.sets[0].metrics["eval/win_rate"], 1 / 3);

  const text = formatReport(report, { before: report });
  assert.match(text, /Evaluation on words \(3 secrets, scripted\)/);
  assert.match(text, /crane-then-junk \(before\)/);
  assert.match(text, /crane-then-junk \(after\)/);
  assert.match(text, /entropy \(salet\)\s+3\s+100\.0%/);
  assert.match(text, /optimum 3\.421/);
});

test("the table aligns columns and shows '-' for undefined figures", () => {
  const summary = {
    games: 0,
    wins: 0,
    winRate: null,
    meanGuesses: null,
    distribution: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, fail: 0 },
    guesses: 0,
    invalidGuesses: 0,
    invalidRate: null,
    invalidByKind: { unparseable: 0, format: 0, "not-a-word": 0, "hard-mode": 0 },
    validGuesses: 0,
    consistentRate: null,
    deadLetterReuseRate: null,
  };
  const lines = formatEvalTable("t", [{ label: "nobody", summary }], { reference: false }).split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[3], /^nobody\s+0\s+-\s+-\s+-\s+-\s+-\s+0 0 0 0 0 0 \| 0$/);
  assert.equal(lines[1].indexOf("games") + "games".length, lines[3].indexOf("0") + 1);
});

test("tiles: ANSI green/yellow/grey cells on a terminal, symbols otherwise, invalid guesses explained", () => {
  const ESC = "\u001b";
  assert.equal(
    renderTiles("crane", "cpaaa", true),
    `${ESC}[1;30;42m C ${ESC}[0m${ESC}[1;30;43m R ${ESC}[0m${ESC}[1;97;100m A ${ESC}[0m` +
      `${ESC}[1;97;100m N ${ESC}[0m${ESC}[1;97;100m E ${ESC}[0m`,
  );
  assert.equal(renderTiles("crane", "cpaaa", false), "C✓ R~ A× N× E×");
  assert.equal(
    renderGuess(
      { word: "xxxxx", completion: "", feedback: null, valid: false, invalid: "not-a-word" },
      false,
    ),
    "invalid guess, XXXXX: not an accepted word (costs a turn)",
  );
  assert.equal(
    renderGuess({ word: null, completion: "", feedback: null, valid: false, invalid: "unparseable" }, true),
    "invalid guess, no <guess>...</guess> in the completion (costs a turn)",
  );
});
