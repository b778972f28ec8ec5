import assert from "node:assert/strict";
import { test } from "node:test";
import { manualSeed } from "../src/engine/index.js";
import { configSchema } from "../src/grpo/config/schema.js";
import {
  DEFAULT_GAME_RETURN,
  gameReturn,
  multiTurnRollout,
  playContext,
  sampledDecoding,
} from "../src/grpo/rollout/multi-turn-rollout.js";
import { parseHfConfig } from "../src/model/hf-config.js";
import { Tokenizer } from "../src/model/tokenizer.js";
import { CausalLM } from "../src/model/transformer.js";
import { initWeights } from "../src/sft/init-weights.js";
import { tinyModelConfigJson } from "../src/sft/model-files.js";
import { buildTinyTokenizerFiles, TINY_CHAT_TEMPLATE } from "../src/sft/tiny-tokenizer.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { renderPrompt, TINY_REFUSED_MARKS } from "../src/task/prompt.js";
import { loadWordLists } from "../src/wordle/words.js";
import { rolloutConfig } from "./grpo-trainer-fixture.js";

test("game return: a win pays more the sooner it comes; shaping rewards consistent, valid, new guesses", () => {
  const good = { valid: true, consistent: true, repeated: false };
  const w = DEFAULT_GAME_RETURN;
  const winIn2 = gameReturn([good, good], true, 6, w);
  const winIn5 = gameReturn([good, good, good, good, good], true, 6, w);
  const loss = gameReturn(Array(6).fill(good), false, 6, w);
  assert.ok(winIn2 > winIn5 && winIn5 > loss);
  assert.ok(Math.abs(winIn2 - (1 + 0.2 * 4 + 0.75)) < 1e-12);
  const sloppy = gameReturn([{ valid: true, consistent: false, repeated: true }], false, 6, w);
  assert.ok(Math.abs(sloppy - (0.25 - 0.5)) < 1e-12);
  assert.equal(gameReturn([{ valid: false, consistent: false, repeated: false }], false, 6, w), 0);
});

/** A random 1-layer model on the tiny tokenizer: its guesses are mostly junk the game refuses. */
function randomTinyModel(): { model: CausalLM; tokenizer: Tokenizer } {
  const files = buildTinyTokenizerFiles();
  const tokenizer = new Tokenizer(files.tokenizer, files.tokenizerConfig, {
    source: "tiny",
    chatTemplate: TINY_CHAT_TEMPLATE,
  });
  const config = parseHfConfig(
    tinyModelConfigJson({
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
    }),
  );
  manualSeed(1);
  return { model: new CausalLM(config, initWeights(config), "float32", "cpu"), tokenizer };
}

test("multi-turn rollout: G games per secret, every turn credited with its game's advantage and own prompt", () => {
  const { model, tokenizer } = randomTinyModel();
  try {
    const batch = multiTurnRollout({
      model,
      tokenizer,
      config: rolloutConfig({ num_generations: 3, multi_turn: { credit: "game" } }),
      secrets: ["sloth", "crane"],
      temperature: 1,
      progress: 0,
      seed: 4,
    });
    assert.equal(batch.games.length, 6);
    assert.deepEqual(
      batch.games.map((g) => g.secret),
      ["sloth", "sloth", "sloth", "crane", "crane", "crane"],
    );
    assert.equal(
      batch.completions.length,
      batch.games.reduce((n, g) => n + g.turns, 0),
    );
    for (const c of batch.completions) {
      const game = batch.games[c.game];
      assert.equal(c.reward, game.return);
      assert.equal(c.prompt, Math.floor(c.game / 3));
      // Every completion of a game shares the game's advantage.
      const first = batch.completions.find((d) => d.game === c.game);
      assert.equal(c.advantage, first?.advantage);
      assert.ok(c.tokenIds.length >= 1 && c.tokenIds.length <= 8);
    }
    // The first turn's prompt is the empty-history prompt; later turns extend it.
    const start = tokenizer.encode(renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text);
    for (const c of batch.completions.filter((d) => d.turn === 1)) assert.deepEqual(c.promptIds, start);
    for (const c of batch.completions.filter((d) => d.turn > 1))
      assert.deepEqual(c.promptIds.slice(0, start.length), start);
    // Group-normalised: advantages of one secret's games sum to zero.
    for (const group of [0, 1]) {
      const sum = [0, 1, 2].reduce(
        (s, k) => s + (batch.completions.find((c) => c.game === group * 3 + k)?.advantage ?? 0),
        0,
      );
      assert.ok(Math.abs(sum) < 1e-9, `group ${group} advantages sum to ${sum}`);
    }
    assert.ok(batch.stats["games/win_rate"] >= 0 && batch.stats["games/win_rate"] <= 1);
  } finally {
    model.dispose();
  }
  assert.throws(
    () =>
      multiTurnRollout({
        model,
        tokenizer,
        config: rolloutConfig({ num_generations: 2 }),
        secrets: ["zzzzz"],
        temperature: 1,
        progress: 0,
      }),
    /not an answer/,
  );
});

test("show_refused: each later prompt shows the game's refused guesses; without it the prompt stays put", () => {
  const { model, tokenizer } = randomTinyModel();
  const { allowedSet } = loadWordLists();
  try {
    for (const showRefused of [true, false]) {
      const batch = multiTurnRollout({
        model,
        tokenizer,
        config: rolloutConfig({
          num_generations: 2,
          multi_turn: { credit: "game", show_refused: showRefused },
        }),
        secrets: ["sloth"],
        temperature: 1,
        progress: 0,
        seed: 7,
      });
      for (let game = 0; game < 2; game++) {
        const turns = batch.completions.filter((c) => c.game === game).sort((a, b) => a.turn - b.turn);
        let refused = 0;
        for (const c of turns) {
          const shown =
            tokenizer.decode(c.promptIds, { skipSpecialTokens: true }).split(TINY_REFUSED_MARKS).length - 1;
          assert.equal(shown, showRefused ? refused : 0, `game ${game} turn ${c.turn}`);
          const guess = parseGuess(c.text)?.toLowerCase();
          if (!(guess !== undefined && allowedSet.has(guess))) refused++;
        }
        assert.ok(refused >= 2, "the random model had guesses refused");
      }
    }
  } finally {
    model.dispose();
  }
});

test("the rollouts take their defaults from the config schema, stated nowhere else", () => {
  const { model, tokenizer } = randomTinyModel();
  try {
    const config = configSchema.parse({});
    const mt = config.multi_turn;
    const ctx = playContext({ model, tokenizer, config });
    assert.equal(ctx.template, config.prompt_template);
    assert.equal(ctx.maxNewTokens, config.max_completion_length);
    assert.equal(ctx.maxTurns, mt.max_turns);
    assert.equal(ctx.endOnInvalid, mt.invalid_ends_game);
    assert.equal(ctx.showRefused, mt.show_refused);
    assert.equal(ctx.letterWeights === null, mt.credit !== "letter");
    assert.deepEqual(DEFAULT_GAME_RETURN, {
      winBonus: mt.win_bonus,
      savedBonus: mt.saved_bonus,
      consistency: mt.consistency,
      validity: mt.validity,
      repeatPenalty: mt.repeat_penalty,
      information: mt.information,
    });
    assert.equal(ctx.constrain, mt.constrain);
    assert.equal(ctx.judgeInformation, mt.information !== 0);
    const decoding = sampledDecoding({ config, temperature: 0.7 });
    assert.deepEqual(decoding, {
      greedy: false,
      temperature: 0.7,
      topK: config.top_k ?? undefined,
      topP: config.top_p,
      minP: config.min_p ?? undefined,
      repetitionPenalty: config.repetition_penalty,
      seed: undefined,
    });
  } finally {
    model.dispose();
  }
});
