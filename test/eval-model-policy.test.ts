import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { modelPolicy } from "../src/eval/model-policy.js";
import { playGames } from "../src/eval/play-games.js";
import { generate } from "../src/model/sampler.js";
import { Tokenizer } from "../src/model/tokenizer.js";
import { buildCharTokenizerJson } from "../src/model/tokenizer-char.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR, MODELS_DIR } from "../src/paths.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { renderPrompt } from "../src/task/prompt.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

// The tiny random Qwen2 fixture (384 ids) with a character tokenizer that covers the compact prompt
// in ChatML: printable ASCII, newline and the feedback marks. Its completions are noise, which is
// exactly what the plumbing (render -> tokenize -> generate -> decode -> parse) must survive.
const model = CausalLM.load(join(FIXTURES_DIR, "qwen2-tiny"));
after(() => model.dispose());

function charTokenizer(): Tokenizer {
  const chars = ["\n", "✓", "×"];
  for (let c = 32; c < 127; c++) chars.push(String.fromCharCode(c));
  for (let cp = 0x4e00; chars.length < 380; cp++) chars.push(String.fromCodePoint(cp));
  const json = buildCharTokenizerJson(chars, ["<pad>", "<bos>", "<eos>"]);
  return new Tokenizer(
    json,
    { pad_token: "<pad>", bos_token: "<bos>", eos_token: "<eos>" },
    { source: "tiny-chars" },
  );
}
const tokenizer = charTokenizer();

const states = [
  { game: 0, turn: 1, history: [] },
  { game: 1, turn: 2, history: [{ guess: "crane", feedback: scoreGuess("crane", "frost") }] },
  {
    game: 2,
    turn: 3,
    history: [
      { guess: "salet", feedback: scoreGuess("salet", "abide") },
      { guess: "dough", feedback: scoreGuess("dough", "abide") },
    ],
  },
];

test("greedy model policy: one batched generate over the rendered prompts, guesses parsed", async () => {
  const policy = modelPolicy({ model, tokenizer, template: "compact", maxNewTokens: 12 });
  assert.equal(policy.decoding, "greedy");
  const moves = await policy.next(states);
  // The same prompts through the sampler directly.
  const prompts = states.map((s) =>
    tokenizer.encode(renderPrompt({ history: s.history }, { template: "compact" }).text),
  );
  const direct = generate(model, tokenizer, prompts, {
    maxNewTokens: 12,
    greedy: true,
    stopStrings: ["</guess>"],
  });
  assert.deepEqual(
    moves.map((m) => m.completion),
    direct.map((c) => c.text),
  );
  for (const m of moves) assert.equal(m.guess, parseGuess(m.completion));
  assert.equal(policy.lastCompletions.length, 3);
  assert.ok(policy.lastCompletions.every((c) => c.length <= 12));
  // The prompt shows the history in the compact notation.
  assert.match(policy.promptText(states[1]), /CRANE C× R✓ A× N× E×\nNext guess\?/);
  // Greedy is deterministic.
  assert.deepEqual(await policy.next(states), moves);
});

test("sampled model policy is reproducible by seed and differs across seeds", async () => {
  const make = (seed: number) =>
    modelPolicy({
      model,
      tokenizer,
      template: "compact",
      greedy: false,
      temperature: 1.5,
      maxNewTokens: 16,
      seed,
    });
  const a = await make(1).next(states);
  const b = await make(1).next(states);
  const c = await make(2).next(states);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.match(make(1).decoding ?? "", /sampled \(T=1\.5, seed 1\)/);
  // playGames resets the policy: a second evaluation with the same object draws the same samples.
  const policy = make(4);
  const first = await playGames(policy, ["frost", "crane"], { maxTurns: 2 });
  const second = await playGames(policy, ["frost", "crane"], { maxTurns: 2 });
  assert.deepEqual(second.games, first.games);
});

test("a random model's games run to the end: every junk completion is an invalid guess costing a turn", async () => {
  const policy = modelPolicy({ model, tokenizer, template: "compact", maxNewTokens: 4 });
  const { games, summary } = await playGames(policy, ["frost", "crane"], { batchSize: 2 });
  for (const game of games) {
    assert.equal(game.turns, 6);
    assert.equal(game.won, false);
  }
  assert.equal(summary.guesses, 12);
  assert.equal(summary.invalidGuesses + summary.validGuesses, 12);
  assert.equal(summary.invalidByKind.unparseable, summary.invalidGuesses);
});

test("model policy option errors name the option", () => {
  assert.throws(
    () => modelPolicy({ model, tokenizer, chat: "model" }),
    /chat "model" needs a chat template, but tiny-chars has none/,
  );
  assert.throws(
    () => modelPolicy({ model, tokenizer, maxNewTokens: 0 }),
    /maxNewTokens must be a positive integer/,
  );
});

test("constrained guessing: the shipped model plays only accepted words that fit the feedback", async () => {
  const { loadModel, loadTokenizer } = await import("../src/model/load.js");
  const dir = join(MODELS_DIR, "wordle-tiny");
  const shipped = await loadModel(dir, { device: "cpu", dtype: "float32" });
  try {
    const secrets = loadWordLists().answers.filter((_, i) => i % 77 === 0);
    const play = (constrain: "none" | "consistent") =>
      playGames(
        modelPolicy({ model: shipped, tokenizer: loadTokenizer(dir), template: "tiny", constrain }),
        secrets,
      );
    const free = await play("none");
    const constrained = await play("consistent");
    assert.ok(
      free.games.some((g) => g.guesses.some((x) => !x.valid)),
      "unconstrained, the model spells some non-words",
    );
    for (const game of constrained.games)
      for (const g of game.guesses) {
        assert.ok(g.valid, `${game.secret}: ${g.word} is an accepted word`);
        assert.equal(g.consistent, true, `${game.secret}: ${g.word} fits the feedback before it`);
      }
    const wins = (r: typeof free) => r.games.filter((g) => g.won).length;
    assert.ok(wins(constrained) > wins(free), `${wins(constrained)} constrained wins vs ${wins(free)}`);
  } finally {
    shipped.dispose();
  }
});
