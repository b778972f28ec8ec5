import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { liveTensorCount } from "../src/engine/index.js";
import { readSafetensors } from "../src/engine/safetensors.js";
import { tensorValues } from "../src/engine/safetensors-values.js";
import { modelPolicy } from "../src/eval/model-policy.js";
import { playGames } from "../src/eval/play-games.js";
import {
  applyCompletion,
  generateGuesses,
  newGame,
  playToEnd,
  renderGamePrompt,
  turnsPlayed,
} from "../src/grpo/rollout/game-play.js";
import { playContext } from "../src/grpo/rollout/multi-turn-rollout.js";
import { loadModel } from "../src/model/load.js";
import { PromptCache } from "../src/model/prompt-cache.js";
import {
  type Completion,
  type GenerateOptions,
  type GenerationStats,
  generate,
} from "../src/model/sampler.js";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR, MODELS_DIR } from "../src/paths.js";
import { rolloutConfig } from "./grpo-trainer-fixture.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");
const model = CausalLM.load(TINY);
after(() => model.dispose());

const entry = readSafetensors(join(TINY, "reference.safetensors")).tensors.get("input_ids");
if (!entry) throw new Error("reference.safetensors has no input_ids");
const INPUT_IDS = Array.from(tensorValues(entry.dtype, entry.data) as ArrayLike<number | bigint>, Number);
const P = [INPUT_IDS.slice(0, 12), INPUT_IDS.slice(15, 24), INPUT_IDS.slice(2, 6)];

function fresh(prompts: number[][], options: GenerateOptions): Completion[] {
  return generate(model, null, prompts, options);
}

function assertSame(cached: Completion[], expected: Completion[], label: string): void {
  assert.equal(cached.length, expected.length, label);
  cached.forEach((c, i) => {
    assert.deepEqual(c.tokenIds, expected[i].tokenIds, `${label}: row ${i}`);
    assert.ok(
      c.logprobs !== undefined && expected[i].logprobs !== undefined,
      `${label}: log-probs asked for`,
    );
    c.logprobs.forEach((v, k) => {
      const e = (expected[i].logprobs as number[])[k] as number;
      assert.ok(Math.abs(v - e) < 1e-4, `${label}: row ${i} logprob ${k}: ${v}`);
    });
  });
}

test("a prompt cache continues rows across calls exactly as fresh prefills would", () => {
  const live = liveTensorCount();
  const cache = new PromptCache({ capacity: 8 }); // small: the buffers must grow across calls
  const greedy = { greedy: true, maxNewTokens: 5, eosTokenIds: [] as number[], logprobs: true };
  const stats: GenerationStats[] = [];
  try {
    // Call 1: three new rows, a plain prefill.
    const first = generate(model, null, P, { ...greedy, promptCache: { cache, keys: [10, 11, 12] } });
    assertSame(first, fresh(P, greedy), "call 1");

    // Call 2: row 11 is dropped, the others come in another order. Row 12's prompt keeps only the
    // first generated token and then differs (its cached second token must be hidden); row 10's
    // extends its prompt and completion. An EOS ends row 10 early while row 12 decodes on.
    const row12 = [...P[2], first[2].tokenIds[0], 7, 9];
    const row10 = [...P[0], ...first[0].tokenIds, 5, 6, 7];
    const second = [row12, row10];
    const stopEarly = fresh([row10], greedy)[0].tokenIds[1];
    const withEos = { ...greedy, eosTokenIds: [stopEarly] };
    const cached = generate(model, null, second, {
      ...withEos,
      promptCache: { cache, keys: [12, 10] },
      onStats: (s) => stats.push(s),
    });
    assertSame(cached, fresh(second, withEos), "call 2");
    assert.equal(cached[1].stopReason, "eos");
    assert.equal(stats[0].prompts, 2);

    // Call 3: row 10 again with an unchanged prompt (its last token is fed once more).
    const third = generate(model, null, [row10], { ...greedy, promptCache: { cache, keys: [10] } });
    assertSame(third, fresh([row10], greedy), "call 3");

    // Call 4: a new key beside a continued one (a refilled slot): its row starts empty.
    const fourth = [[...row10, ...third[0].tokenIds, 3], P[1]];
    const refilled = generate(model, null, fourth, { ...greedy, promptCache: { cache, keys: [10, 13] } });
    assertSame(refilled, fresh(fourth, greedy), "call 4");

    // A cache that would grow past maxColumns starts over with a plain prefill.
    const small = new PromptCache({ maxColumns: 20 });
    try {
      const a = generate(model, null, [P[0]], { ...greedy, promptCache: { cache: small, keys: [0] } });
      const next = [[...P[0], ...a[0].tokenIds, 1, 2, 3, 4]];
      assertSame(
        generate(model, null, next, { ...greedy, promptCache: { cache: small, keys: [0] } }),
        fresh(next, greedy),
        "restarted",
      );
      assert.equal(
        small.cache.length,
        next[0].length + greedy.maxNewTokens - 1,
        "one plain prefill + decode",
      );
    } finally {
      small.dispose();
    }
    assert.throws(
      () =>
        generate(model, null, [P[0]], {
          ...greedy,
          numReturnSequences: 2,
          promptCache: { cache, keys: [10] },
        }),
      /numReturnSequences 1/,
    );
  } finally {
    cache.dispose();
  }
  assert.equal(liveTensorCount(), live, "no tensor leaked");
});

test("greedy games played with the prompt cache equal games re-prefilled every turn (shipped model)", async () => {
  const tokenizer = loadTokenizer(join(MODELS_DIR, "wordle-tiny"));
  const tiny = await loadModel(join(MODELS_DIR, "wordle-tiny"), { device: "cpu", dtype: "float32" });
  try {
    const ctx = playContext({
      model: tiny,
      tokenizer,
      config: rolloutConfig({ multi_turn: { show_refused: true, credit: "game" } }),
    });
    const decoding = { greedy: true, temperature: 1 };
    const secrets = ["sloth", "crane", "pizza", "fjord", "jazzy", "nymph", "vivid", "queue"];
    const cached = secrets.map((s) => newGame(ctx, s));
    playToEnd(ctx, cached, decoding);
    // The reference: every turn a fresh generate over the whole prompt.
    const plain = secrets.map((s) => newGame(ctx, s));
    for (let round = 0; ; round++) {
      const active = plain.filter((g) => !g.over && turnsPlayed(g) < ctx.maxTurns);
      if (active.length === 0) break;
      const prompts = active.map((g) => renderGamePrompt(ctx, g));
      const histories = active.map((g) => g.history);
      generateGuesses(ctx, prompts, histories, decoding, round).forEach((c, i) => {
        applyCompletion(ctx, active[i], prompts[i], c);
      });
    }
    const turns = (games: typeof plain) => games.map((g) => g.turns.map((t) => [t.text, t.promptIds.length]));
    assert.deepEqual(turns(cached), turns(plain));
    assert.ok(
      cached.some((g) => g.turns.length > 2),
      "some game lasts several turns",
    );
  } finally {
    tiny.dispose();
  }
});

test("evaluation with the prompt cache (slots refilled as games end) plays the games of one without", async () => {
  const tokenizer = loadTokenizer(join(MODELS_DIR, "wordle-tiny"));
  const tiny = await loadModel(join(MODELS_DIR, "wordle-tiny"), { device: "cpu", dtype: "float32" });
  try {
    const secrets = [
      "sloth",
      "crane",
      "pizza",
      "fjord",
      "jazzy",
      "nymph",
      "vivid",
      "queue",
      "adore",
      "blimp",
    ];
    const play = (promptCache: boolean) =>
      playGames(
        modelPolicy({
          model: tiny,
          tokenizer,
          template: "tiny",
          maxNewTokens: 8,
          showRefused: true,
          promptCache,
        }),
        secrets,
        { batchSize: 4 },
      );
    const live = liveTensorCount();
    const cached = await play(true);
    assert.equal(liveTensorCount(), live, "the policy's cache is freed when the games end");
    const plain = await play(false);
    const moves = (r: typeof plain) => r.games.map((g) => g.guesses.map((x) => x.completion));
    assert.deepEqual(moves(cached), moves(plain));
    assert.deepEqual(cached.summary, plain.summary);
  } finally {
    tiny.dispose();
  }
});
