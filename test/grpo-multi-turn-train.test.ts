/**
 * Multi-turn GRPO in the trainer: turn-level credit by hand, the packed loss rows against one row
 * per completion, and a multi_turn run with the teacher term on the shipped tiny model that,
 * interrupted and resumed, logs exactly the uninterrupted run's rows.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { manualSeed, noGrad, scope } from "../src/engine/index.js";
import {
  creditTurns,
  DEFAULT_GAME_RETURN,
  multiTurnRollout,
} from "../src/grpo/rollout/multi-turn-rollout.js";
import { completionLogProbs } from "../src/grpo/rollout/rollout.js";
import { ADVANTAGE_STD_EPSILON } from "../src/grpo/step/advantages.js";
import { grpoLoss } from "../src/grpo/step/loss.js";
import { type LossItem, type LossRow, oneRowPerItem, packLossRows } from "../src/grpo/step/loss-rows.js";
import { buildLossMicroBatch } from "../src/grpo/step/micro-batch.js";
import { train } from "../src/grpo/trainer.js";
import { loadModel } from "../src/model/load.js";
import { tokenLogProbs } from "../src/model/logprobs.js";
import { generate } from "../src/model/sampler.js";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { MODELS_DIR } from "../src/paths.js";
import { readJsonl } from "../src/run/jsonl.js";
import { constraintWords, guessConstraint, tokenTexts } from "../src/task/guess-constraint.js";
import { renderPrompt } from "../src/task/prompt.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";
import { comparable, rolloutConfig, shippedTinyConfig } from "./grpo-trainer-fixture.js";

test("turn credit: the game's normalised outcome plus the turn's shaping normalised over the group", () => {
  const good = { valid: true, consistent: true, repeated: false };
  const fits = { valid: true, consistent: false, repeated: false };
  const invalid = { valid: false, consistent: false, repeated: false };
  // One group of G = 2: game 0 won in 2 turns, game 1 lost at an invalid second guess.
  const { advantages, returns } = creditTurns(
    [
      [good, good],
      [fits, invalid],
    ],
    [true, false],
    2,
    {
      maxTurns: 6,
      weights: DEFAULT_GAME_RETURN,
      credit: "turn",
      turnWeight: 1,
      scaleRewards: "group",
    },
  );
  // Outcomes 1 + 0.2 * 4 = 1.8 and 0: unbiased std 1.8 / sqrt 2, advantages +-0.9 / std.
  const outcomeStd = 1.8 / Math.SQRT2 + ADVANTAGE_STD_EPSILON;
  const a = 0.9 / outcomeStd;
  // Shaping 0.75, 0.75, 0.25, 0: mean 0.4375, unbiased std 0.375.
  const s = (x: number) => (x - 0.4375) / (0.375 + ADVANTAGE_STD_EPSILON);
  const expected = [
    [a + s(0.75), a + s(0.75)],
    [-a + s(0.25), -a + s(0)],
  ];
  advantages.forEach((game, g) => {
    game.forEach((v, t) => {
      assert.ok(Math.abs(v - expected[g][t]) < 1e-12, `game ${g} turn ${t}: ${v} vs ${expected[g][t]}`);
    });
  });
  assert.ok(Math.abs(returns[0] - (1.8 + 0.75)) < 1e-12);
  assert.ok(Math.abs(returns[1] - 0.125) < 1e-12);
  // "game" credit: one advantage per game, shared by its turns.
  const byGame = creditTurns(
    [
      [good, good],
      [fits, invalid],
    ],
    [true, false],
    2,
    {
      maxTurns: 6,
      weights: DEFAULT_GAME_RETURN,
      credit: "game",
      turnWeight: 1,
      scaleRewards: "group",
    },
  ).advantages;
  assert.equal(byGame[0][0], byGame[0][1]);
  assert.ok(Math.abs(byGame[0][0] + byGame[1][0]) < 1e-12);
});

test("packLossRows: a game's turns share a row; identical turns keep their own positions", () => {
  const item = (promptIds: number[], tokenIds: number[], advantage: number): LossItem => ({
    promptIds,
    tokenIds,
    advantage,
    counts: true,
    oldLogps: null,
    refLogps: null,
  });
  const items = [
    item([1, 2], [3, 4], 0.5), // game A turn 1
    item([1, 2, 3, 4, 9], [5, 6], -1), // game A turn 2: its prompt extends turn 1
    item([1, 2], [3, 4], 2), // game B turn 1: the same tokens as game A's
    item([1, 2, 3, 4, 8], [7], 1), // game B turn 2
    item([1, 2, 3, 4, 9], [6, 6], 3), // an invalid retry after game A's turn 1 prompt... of another game
  ];
  const rows = packLossRows(items);
  const placed = rows.flatMap((r) => r.items).sort();
  assert.deepEqual(placed, [0, 1, 2, 3, 4]);
  assert.equal(rows.length, 3);
  for (const row of rows) {
    const scored = row.scored.reduce((a, b) => a + b, 0);
    assert.equal(
      scored,
      row.items.reduce((n, i) => n + items[i].tokenIds.length, 0),
      "no two items overlap",
    );
    for (const i of row.items) {
      const offset = items[i].promptIds.length - row.prompt.length;
      const sequence = [...row.prompt, ...row.completion];
      assert.deepEqual(sequence.slice(0, items[i].promptIds.length), items[i].promptIds);
      items[i].tokenIds.forEach((t, k) => {
        assert.equal(row.completion[offset + k], t);
        assert.equal(row.advantage[offset + k], items[i].advantage);
      });
    }
  }
  assert.throws(() => packLossRows([item([], [1], 0)]), /empty prompt/);
});

test("packed rows give the same log-probs and dapo loss as one row per completion", async () => {
  // The shipped model: it plays real words, so later turns extend earlier ones (a random model's
  // guesses are all invalid and nothing would pack).
  const dir = join(MODELS_DIR, "wordle-tiny");
  const tokenizer = loadTokenizer(dir);
  manualSeed(3);
  const model = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    const batch = multiTurnRollout({
      model,
      tokenizer,
      config: rolloutConfig({ num_generations: 3, multi_turn: { credit: "turn" } }),
      secrets: ["sloth", "crane"],
      temperature: 1,
      progress: 0,
      seed: 11,
    });
    const items: LossItem[] = batch.completions.map((c) => ({
      promptIds: c.promptIds,
      tokenIds: c.tokenIds,
      advantage: c.advantage,
      counts: true,
      oldLogps: null,
      refLogps: null,
    }));
    const numItems = items.reduce((n, it) => n + it.tokenIds.length, 0);
    const score = (rows: LossRow[]) =>
      scope(() =>
        noGrad(() => {
          const mb = buildLossMicroBatch(rows, tokenizer.padTokenId, "cpu", model.config.vocabSize);
          const hidden = model.forward(mb.inputIds, {
            attentionMask: mb.attentionMask,
            positionIds: mb.positionIds,
            hiddenOnly: true,
          });
          const scored = hidden.narrow(1, mb.promptWidth - 1, mb.completionWidth);
          const logps = tokenLogProbs(model, scored, mb.targets, { temperature: 1 }).logprobs;
          const loss = grpoLoss(
            { logps, advantages: mb.advantages, mask: mb.lossMask },
            { lossType: "dapo", beta: 0, epsilon: 0.2, maxCompletionLength: 8, numItemsInBatch: numItems },
          ).loss.item();
          const values = logps.toFloat32Array();
          const perItem = new Map<number, number[]>();
          rows.forEach((row, r) => {
            for (const i of row.items) {
              const offset = items[i].promptIds.length - row.prompt.length;
              perItem.set(
                i,
                items[i].tokenIds.map((_, k) => values[r * mb.completionWidth + offset + k]),
              );
            }
          });
          return { loss, perItem };
        }),
      );
    const packedRows = packLossRows(items);
    assert.ok(packedRows.length < items.length, `${packedRows.length} rows for ${items.length} completions`);
    const packed = score(packedRows);
    const plain = score(oneRowPerItem(items));
    items.forEach((_, i) => {
      const a = packed.perItem.get(i) as number[];
      const b = plain.perItem.get(i) as number[];
      a.forEach((v, k) => {
        assert.ok(Math.abs(v - b[k]) < 1e-5, `item ${i} token ${k}: ${v} vs ${b[k]}`);
      });
    });
    assert.ok(Math.abs(packed.loss - plain.loss) < 1e-6, `${packed.loss} vs ${plain.loss}`);
  } finally {
    model.dispose();
  }
});

test("multi_turn run with the teacher term and refusals shown resumes to the uninterrupted run's rows", async () => {
  const root = mkdtempSync(join(tmpdir(), "wordle-grpo-mt-"));
  const configFor = (out: string) =>
    shippedTinyConfig(out, {
      max_steps: 4,
      multi_turn: { secrets_per_step: 2, show_refused: true, invalid_ends_game: false },
      sft_mix: { weight: 0.5, games: 3 },
      eval: { games: 2 },
    });
  const strip = (dir: string, file: string) => comparable(readJsonl(join(dir, file)).rows);
  try {
    const a = join(root, "a");
    const whole = await train({ config: configFor(a), threads: 1 });
    assert.equal(whole.reason, "completed");
    const all = readJsonl(join(a, "metrics.jsonl")).rows;
    const rows = all.filter((r) => !("eval/win_rate" in r));
    assert.equal(rows.length, 4);
    assert.equal(all.length, 5, "and the closing evaluation's row");
    for (const key of ["games/win_rate", "games/invalid_rate", "rewards/consistent/mean", "sft_loss", "loss"])
      assert.ok(
        Number.isFinite(rows[0][key] as number),
        `${key} in ${JSON.stringify(rows[0]).slice(0, 200)}`,
      );
    const sample = readJsonl(join(a, "samples.jsonl")).rows[0];
    assert.match(String(sample.prompt_id), /-game\d+-turn\d+$/);
    // The adapter says how it was trained to be prompted, for `eval --adapter RUN/final`.
    assert.deepEqual(JSON.parse(readFileSync(join(a, "final", "training.json"), "utf8")), {
      made_by: "wordle-grpo train",
      step: 4,
      prompt_template: "tiny",
      show_refused: true,
      constrain: "none",
    });

    const b = join(root, "b");
    let checks = 0;
    const first = await train({ config: configFor(b), threads: 1, shouldStop: () => ++checks > 3 });
    assert.equal(first.reason, "interrupted");
    assert.equal(first.steps, 3);
    const second = await train({ config: configFor(b), resume: "latest", threads: 1 });
    assert.equal(second.steps, 4);
    assert.deepEqual(strip(b, "metrics.jsonl"), strip(a, "metrics.jsonl"));
    assert.deepEqual(strip(b, "samples.jsonl"), strip(a, "samples.jsonl"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("constrained rollouts: the loss scores every token under the distribution it was drawn from", async () => {
  const dir = join(MODELS_DIR, "wordle-tiny");
  const tokenizer = loadTokenizer(dir);
  const model = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    const accepted = loadWordLists().allowed;
    const positions = [
      [],
      [{ guess: "crane", feedback: scoreGuess("crane", "frost") }],
      [
        { guess: "slate", feedback: scoreGuess("slate", "pizza") },
        { guess: "audio", feedback: scoreGuess("audio", "pizza") },
      ],
    ];
    const words = positions.map((h) => constraintWords("consistent", h, accepted));
    const prompts = positions.map((history) =>
      tokenizer.encode(renderPrompt({ history }, { template: "tiny", tokenizer }).text),
    );
    const temperature = 1.7;
    const completions = generate(model, tokenizer, prompts, {
      numReturnSequences: 4,
      maxNewTokens: 8,
      temperature,
      seed: 9,
      logprobs: true,
      stopStrings: ["</guess>"],
      constrain: guessConstraint(tokenTexts(tokenizer), (row) => words[Math.floor(row / 4)], true),
    });
    const rowPrompts = completions.map((c) => prompts[c.promptIndex]);
    const ids = completions.map((c) => c.tokenIds);
    const filters = completions.map((c) => c.tokenFilters);
    assert.ok(filters.every((f, i) => f?.length === ids[i].length && f.every((x) => x !== null)));
    const pad = tokenizer.padTokenId;
    const masked = completionLogProbs(model, rowPrompts, ids, pad, temperature, 5, filters);
    const free = completionLogProbs(model, rowPrompts, ids, pad, temperature, 5);
    completions.forEach((c, i) => {
      c.sampledLogprobs?.forEach((want, k) => {
        assert.ok(
          Math.abs(masked[i][k] - want) < 1e-4,
          `completion ${i} token ${k}: ${masked[i][k]} vs ${want}`,
        );
        assert.ok(free[i][k] <= want + 1e-6, "the unconstrained log-prob is never higher");
      });
    });
    assert.ok(
      masked.some((lps, i) => lps.some((lp, k) => lp - free[i][k] > 0.01)),
      "the mask changes log-probs",
    );
  } finally {
    model.dispose();
  }
});
