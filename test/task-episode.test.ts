// The model-facing Wordle game (src/task/episode.ts): its rules, and that evaluation and a training
// rollout, which both play by it, play the same games.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { modelPolicy } from "../src/eval/model-policy.js";
import { playGames } from "../src/eval/play-games.js";
import { newGame, playToEnd } from "../src/grpo/rollout/game-play.js";
import {
  DEFAULT_GAME_RETURN,
  gameReturnWeights,
  playContext,
  turnShaping,
} from "../src/grpo/rollout/multi-turn-rollout.js";
import { loadModel } from "../src/model/load.js";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { MODELS_DIR } from "../src/paths.js";
import { WordleEpisode } from "../src/task/episode.js";
import { normalizedInfoGain } from "../src/task/info-gain.js";
import { candidates } from "../src/wordle/candidates.js";
import type { LetterMark } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";
import { rolloutConfig } from "./grpo-trainer-fixture.js";

const ABSENT: LetterMark[] = ["absent", "absent", "absent", "absent", "absent"];

test("an invalid guess costs a turn and is recorded after the scored guesses before it", () => {
  const game = new WordleEpisode("sloth", { maxTurns: 3 });
  assert.deepEqual(game.play("crane"), { valid: true, word: "crane", feedback: ABSENT, won: false });
  assert.deepEqual(game.play("xxxxx"), { valid: false, word: "xxxxx", kind: "not-a-word" });
  assert.deepEqual(game.play(null), { valid: false, word: null, kind: "unparseable" });
  assert.deepEqual(game.refused, [
    { guess: "xxxxx", after: 1 },
    { guess: null, after: 1 },
  ]);
  assert.equal(game.turnsUsed, 3);
  assert.ok(game.over && !game.won, "three turns of three, invalid ones included");
  assert.throws(() => game.play("sloth"), /over/);
});

test("a win ends the game, endOnInvalid ends it at the first invalid guess, hard mode refuses", () => {
  const win = new WordleEpisode("sloth");
  win.play("SLOTH");
  assert.ok(win.won && win.over);
  assert.deepEqual(
    win.history.map((h) => h.guess),
    ["sloth"],
  );
  const strict = new WordleEpisode("sloth", { endOnInvalid: true });
  strict.play("crane");
  assert.ok(!strict.over);
  strict.play("qqqqq");
  assert.ok(strict.over && !strict.won && strict.turnsUsed === 2);
  const hard = new WordleEpisode("sloth", { hardMode: true });
  hard.play("slate"); // S, L green
  assert.equal((hard.play("crane") as { kind?: string }).kind, "hard-mode");
});

test("a game started from another game's position continues its turns and refusals", () => {
  const game = new WordleEpisode(
    "sloth",
    { maxTurns: 6 },
    {
      history: [{ guess: "crane", feedback: ABSENT }],
      refused: [{ guess: "zzzzz", after: 1 }],
      turnsUsed: 2,
    },
  );
  assert.equal(game.turnsUsed, 2);
  game.play("moist");
  assert.equal(game.turnsUsed, 3);
  assert.deepEqual(game.refused, [{ guess: "zzzzz", after: 1 }]);
  assert.throws(
    () => new WordleEpisode("sloth", {}, { history: [{ guess: "qqqqq", feedback: ABSENT }] }),
    /start position/,
  );
});

test("evaluation and a training rollout play the same greedy games: histories, refusals, rewards", async () => {
  const dir = join(MODELS_DIR, "wordle-tiny");
  const tokenizer = loadTokenizer(dir);
  const model = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    const secrets = ["sloth", "crane", "pizza", "fjord", "jazzy", "nymph", "vivid", "queue"];
    const maxNewTokens = 24;
    // Evaluation: the model policy, greedy, refused guesses shown.
    const policy = modelPolicy({
      model,
      tokenizer,
      template: "tiny",
      showRefused: true,
      maxNewTokens,
      greedy: true,
    });
    const evaluated = await playGames(policy, secrets, { batchSize: 3 });
    // Training: the multi-turn rollout's game loop, greedy, the same prompt settings.
    const config = rolloutConfig({ max_completion_length: maxNewTokens, multi_turn: { show_refused: true } });
    const ctx = playContext({ model, tokenizer, config });
    const played = secrets.map((secret) => newGame(ctx, secret));
    playToEnd(ctx, played, { greedy: true, temperature: 1 });

    let invalid = 0;
    evaluated.games.forEach((e, g) => {
      const t = played[g] as (typeof played)[number];
      assert.equal(e.won, t.won, `${e.secret}: won`);
      assert.equal(e.turns, t.turns.length, `${e.secret}: turns`);
      e.guesses.forEach((record, k) => {
        const turn = t.turns[k] as (typeof t.turns)[number];
        assert.equal(record.word, turn.guess, `${e.secret} turn ${k + 1}: guess`);
        assert.equal(record.valid, turn.valid, `${e.secret} turn ${k + 1}: valid`);
        if (record.valid)
          assert.equal(record.consistent, turn.consistent, `${e.secret} turn ${k + 1}: consistent`);
        else invalid++;
        // The training reward of the turn, from evaluation's judgement of it.
        const repeated = record.valid && e.guesses.slice(0, k).some((r) => r.valid && r.word === record.word);
        const judged = {
          valid: record.valid,
          consistent: record.valid && Boolean(record.consistent),
          repeated,
        };
        assert.equal(turnShaping(judged, DEFAULT_GAME_RETURN), turnShaping(turn, DEFAULT_GAME_RETURN));
      });
      const refusedInEval = e.guesses.flatMap((r, k) =>
        r.valid ? [] : [{ guess: r.word, after: e.guesses.slice(0, k).filter((x) => x.valid).length }],
      );
      assert.deepEqual(t.refused, refusedInEval, `${e.secret}: refusals`);
    });
    assert.ok(
      evaluated.games.some((g) => g.guesses.length > 1),
      "games of several turns were compared",
    );
    // The shipped model has guesses refused in these games (3 here), so refusals are compared too.
    assert.ok(invalid > 0, "some refused guesses were compared");
  } finally {
    model.dispose();
  }
});

test("constrained rollouts play only consistent words, and information shaping scores each guess's expected information", async () => {
  const dir = join(MODELS_DIR, "wordle-tiny");
  const tokenizer = loadTokenizer(dir);
  const model = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    const config = rolloutConfig({
      max_completion_length: 24,
      multi_turn: { constrain: "consistent", credit: "turn", information: 2, consistency: 0, validity: 0 },
    });
    const ctx = playContext({ model, tokenizer, config });
    const secrets = ["sloth", "crane", "pizza", "fjord", "jazzy", "nymph", "vivid", "queue"];
    const games = secrets.map((secret) => newGame(ctx, secret));
    // T = 3 spreads the model over junk (text before the tag, lower case, non-words): the mask
    // must keep every turn a consistent word in the tiny format all the same.
    playToEnd(ctx, games, { greedy: false, temperature: 3, seed: 4 });
    const weights = gameReturnWeights(config.multi_turn);
    for (const game of games)
      for (const turn of game.turns) {
        assert.ok(turn.valid && turn.consistent, `${game.secret}: ${turn.text}`);
        assert.match(turn.text, /^<guess>[A-Z]{5}<\/guess>$/);
        const remaining = candidates(turn.historyBefore, loadWordLists().answers);
        const gain = normalizedInfoGain(turn.guess as string, remaining);
        assert.equal(turn.information, gain);
        assert.equal(turnShaping(turn, weights), 2 * gain - 0.5 * Number(turn.repeated));
      }
    assert.ok(
      games.some((g) => g.turns.some((t) => (t.information ?? 0) > 0.5)),
      "opening guesses carry information",
    );
  } finally {
    model.dispose();
  }
});
