import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { liveTensorCount, manualSeed, noGrad, randn, scope, tensor, zeros } from "../src/engine/index.js";
import { readSafetensors } from "../src/engine/safetensors.js";
import { tensorValues } from "../src/engine/safetensors-values.js";
import { processLogits, type SamplingSettings } from "../src/model/logits-processors.js";
import { drawFromScores, pickNextTokens } from "../src/model/next-token.js";
import {
  type Completion,
  type GenerateOptions,
  type GenerationStats,
  generate,
} from "../src/model/sampler.js";
import { StopCriteria, type TokenDecoder } from "../src/model/stop-criteria.js";
import { Tokenizer } from "../src/model/tokenizer.js";
import { buildCharTokenizerJson } from "../src/model/tokenizer-char.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR } from "../src/paths.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");
const model = CausalLM.load(TINY);
after(() => model.dispose());

function referenceIds(name: string): number[] {
  const entry = readSafetensors(join(TINY, "reference.safetensors")).tensors.get(name);
  if (!entry) throw new Error(`reference.safetensors has no ${name}`);
  return Array.from(tensorValues(entry.dtype, entry.data) as ArrayLike<number | bigint>, Number);
}

/**
 * A character tokenizer for the tiny model's 384 ids: <pad>=0, <bos>=1, <eos>=2 (as its
 * config.json), <|unk|>=3, then 380 one-character tokens, so every id decodes to one character.
 */
function tinyTokenizer(): Tokenizer {
  const chars = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<>/ "];
  for (let cp = 0x4e00; chars.length < 380; cp++) chars.push(String.fromCodePoint(cp));
  const json = buildCharTokenizerJson(chars, ["<pad>", "<bos>", "<eos>"]);
  return new Tokenizer(
    json,
    { pad_token: "<pad>", bos_token: "<bos>", eos_token: "<eos>" },
    { source: "tiny-chars" },
  );
}

// Prompts of different lengths (so a batch of them is left-padded), ids from the fixture's inputs.
const INPUT_IDS = referenceIds("input_ids"); // [2, 12], row 1 left-padded by 3
const PROMPTS = [INPUT_IDS.slice(0, 12), INPUT_IDS.slice(15, 24), INPUT_IDS.slice(2, 6)];
const NO_EOS = { eosTokenIds: [] as number[] };

/** A completion with its log-probs (the tests ask for them: `logprobs: true`). */
type Scored = Completion & { logprobs: number[]; sampledLogprobs: number[] };

function run(prompts: number[][], options: GenerateOptions, tokenizer: Tokenizer | null = null): Scored[] {
  return generate(model, tokenizer, prompts, { logprobs: true, ...options }) as Scored[];
}

/** log-softmax(logits / T) of a full forward without cache over one unpadded sequence: [S][V]. */
function fullLogProbs(ids: number[], temperature = 1): number[][] {
  return scope(() =>
    noGrad(() => {
      const logits = model.forward(tensor([ids], { dtype: "int64" })).squeeze(0);
      return logits.div(temperature).logSoftmax(-1).tolist() as number[][];
    }),
  );
}

function assertAllClose(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test("drawFromScores draws each column with its softmax probability, never a zero one", () => {
  manualSeed(11);
  const probs = [0.5, 0.3, 0.15, 0.05, 0];
  const rows = 40000;
  const counts = scope(() => {
    const scores = tensor([probs.map(Math.log)])
      .expand(rows, probs.length)
      .contiguous();
    const drawn = drawFromScores(scores, scores.logsumexp(-1, true));
    assert.deepEqual(drawn.shape, [rows, 1]);
    assert.equal(drawn.dtype, "int64");
    return drawn.oneHot(probs.length).sum(0).toArray();
  });
  // Binomial standard deviation of a frequency is at most 0.0025 here: allow 4 of them.
  for (const [i, p] of probs.entries())
    assert.ok(Math.abs(counts[i] / rows - p) <= 0.01, `column ${i}: ${counts[i] / rows} vs ${p}`);
  assert.equal(counts[4], 0);
});

test("each step samples from exactly the HF-processed distribution (top-k fast path included)", () => {
  manualSeed(5);
  const vocab = 300;
  const settingsList: SamplingSettings[] = [
    { temperature: 0.7, topK: 20, topP: 0.8, minP: 0.05, repetitionPenalty: 1.3 },
    { temperature: 1.3, topP: 0.9, minP: 0.02, repetitionPenalty: 1.3 },
    { temperature: 0.5, topK: 40 },
    { topK: 50, minP: 0.3, repetitionPenalty: 0.7 },
    { temperature: 0.9 },
  ];
  for (const settings of settingsList) {
    scope(() => {
      const scores = randn([6, vocab]).mul(3);
      const seen = zeros([6, vocab], { dtype: "bool" }).scatter(
        1,
        tensor(
          [
            [0, 5, 7],
            [1, 2, 3],
            [4, 4, 4],
            [9, 8, 7],
            [10, 11, 12],
            [13, 14, 15],
          ],
          { dtype: "int64" },
        ),
        tensor(new Array(18).fill(true), { dtype: "bool", shape: [6, 3] }),
      );
      const reference = processLogits(scores, settings, { seen }).logSoftmax(-1).tolist() as number[][];
      const atTemperature = scores
        .div(settings.temperature ?? 1)
        .logSoftmax(-1)
        .tolist() as number[][];
      for (let draw = 0; draw < 5; draw++) {
        const picked = pickNextTokens(scores, settings, seen, false).tolist() as number[][];
        picked.forEach(([id, logp, sampledLogp], row) => {
          assert.ok(Number.isFinite(reference[row][id]), `row ${row}: token ${id} was filtered out`);
          assert.ok(
            Math.abs(sampledLogp - reference[row][id]) < 1e-5,
            `row ${row}: ${sampledLogp} vs ${reference[row][id]}`,
          );
          assert.ok(
            Math.abs(logp - atTemperature[row][id]) < 1e-5,
            `row ${row}: ${logp} vs ${atTemperature[row][id]}`,
          );
        });
      }
    });
  }
});

test("greedy generation reproduces transformers' greedy_output on qwen2-tiny", () => {
  const prompt = referenceIds("greedy_prompt");
  const expected = referenceIds("greedy_output").slice(prompt.length);
  const [c] = run([prompt], { maxNewTokens: 10, greedy: true, ...NO_EOS });
  assert.deepEqual(c.tokenIds, expected);
  assert.equal(c.length, 10);
  assert.equal(c.truncated, true);
  assert.equal(c.stopReason, "max_new_tokens");
});

test("KV-cache decoding equals a full forward without cache (greedy and sampled, with temperature)", () => {
  const cases: GenerateOptions[] = [
    { greedy: true, maxNewTokens: 12, ...NO_EOS },
    { temperature: 0.7, seed: 3, maxNewTokens: 12, ...NO_EOS },
  ];
  for (const options of cases) {
    const completions = run(PROMPTS, options);
    completions.forEach((c, i) => {
      const prompt = PROMPTS[c.promptIndex];
      const full = fullLogProbs([...prompt, ...c.tokenIds], options.temperature ?? 1);
      const expected = c.tokenIds.map((id, t) => full[prompt.length - 1 + t][id]);
      assertAllClose(c.logprobs, expected, 1e-4, `completion ${i} logprobs`);
      assert.deepEqual(c.sampledLogprobs, c.logprobs, "only temperature: sampled == logprobs");
      if (options.greedy) {
        c.tokenIds.forEach((id, t) => {
          const row = full[prompt.length - 1 + t];
          assert.equal(id, row.indexOf(Math.max(...row)), `completion ${i} token ${t} is the argmax`);
        });
      }
    });
  }
});

test("left-padded batch rows equal their unpadded single-row generation", () => {
  const batch = run(PROMPTS, { greedy: true, maxNewTokens: 10, ...NO_EOS });
  PROMPTS.forEach((prompt, p) => {
    const [alone] = run([prompt], { greedy: true, maxNewTokens: 10, ...NO_EOS });
    assert.deepEqual(batch[p].tokenIds, alone.tokenIds, `prompt ${p}`);
    assertAllClose(batch[p].logprobs, alone.logprobs, 1e-4, `prompt ${p} logprobs`);
  });
});

test("G completions sharing one prefill equal running each copy separately", () => {
  const group = 3;
  const shared = run(PROMPTS, { greedy: true, maxNewTokens: 8, numReturnSequences: group, ...NO_EOS });
  assert.equal(shared.length, PROMPTS.length * group);
  const separate = run(
    PROMPTS.flatMap((p) => Array.from({ length: group }, () => p)),
    { greedy: true, maxNewTokens: 8, ...NO_EOS },
  );
  shared.forEach((c, i) => {
    assert.equal(c.promptIndex, Math.floor(i / group));
    assert.deepEqual(c.tokenIds, separate[i].tokenIds, `completion ${i}`);
    assertAllClose(c.logprobs, separate[i].logprobs, 1e-4, `completion ${i} logprobs`);
  });
});

test("equal prompts are prefilled once; their rows equal each prompt run alone (penalty included)", () => {
  const prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[2], PROMPTS[1]];
  const stats: GenerationStats[] = [];
  const options = { greedy: true, maxNewTokens: 8, repetitionPenalty: 1.3, ...NO_EOS };
  const batch = run(prompts, { ...options, numReturnSequences: 2, onStats: (s) => stats.push(s) });
  assert.equal(stats[0].prompts, 3, "three distinct prompts prefilled");
  assert.equal(stats[0].completions, 10);
  prompts.forEach((prompt, p) => {
    const [alone] = run([prompt], options);
    for (const c of batch.slice(2 * p, 2 * p + 2)) {
      assert.equal(c.promptIndex, p);
      assert.deepEqual(c.tokenIds, alone.tokenIds, `prompt ${p}`);
      assertAllClose(c.logprobs, alone.logprobs, 1e-4, `prompt ${p} logprobs`);
    }
  });
});

test("EOS stops a row (EOS kept), other rows go on; dropping finished rows changes nothing", () => {
  const free = run(PROMPTS, { greedy: true, maxNewTokens: 10, ...NO_EOS });
  // Make the 4th token of prompt 0's greedy continuation an EOS id.
  const eos = free[0].tokenIds[3];
  for (const compactFraction of [0.25, 1]) {
    const stopped = run(PROMPTS, { greedy: true, maxNewTokens: 10, eosTokenIds: [eos], compactFraction });
    stopped.forEach((c, i) => {
      const firstEos = free[i].tokenIds.indexOf(eos);
      const expectedLength = firstEos < 0 ? 10 : firstEos + 1;
      assert.deepEqual(
        c.tokenIds,
        free[i].tokenIds.slice(0, expectedLength),
        `row ${i} (compact ${compactFraction})`,
      );
      assertAllClose(c.logprobs, free[i].logprobs.slice(0, expectedLength), 1e-4, `row ${i} logprobs`);
      assert.equal(c.stopReason, firstEos < 0 ? "max_new_tokens" : "eos");
      assert.equal(c.truncated, firstEos < 0);
    });
    assert.equal(stopped[0].length, 4);
    assert.equal(stopped[0].tokenIds[3], eos);
  }
});

test("stop strings cut the completion right after the string and set the flags", () => {
  const tokenizer = tinyTokenizer();
  const [free] = run([PROMPTS[0]], { greedy: true, maxNewTokens: 16, ...NO_EOS }, tokenizer);
  assert.equal(free.text.length, 16, "one character per token");
  // A stop string spanning three tokens (positions 5..7) of the free continuation.
  const stopString = free.text.slice(5, 8);
  const end = free.text.indexOf(stopString) + stopString.length;
  const [c] = run(
    [PROMPTS[0]],
    { greedy: true, maxNewTokens: 16, stopStrings: ["@never@", stopString], ...NO_EOS },
    tokenizer,
  );
  assert.equal(c.stopReason, "stop_string");
  assert.equal(c.stopString, stopString);
  assert.equal(c.truncated, false);
  assert.equal(c.length, end);
  assert.deepEqual(c.tokenIds, free.tokenIds.slice(0, end));
  assert.equal(c.text, free.text.slice(0, end));
  assert.ok(c.text.endsWith(stopString));
  // A stop string that never appears leaves the completion truncated at maxNewTokens.
  const [none] = run(
    [PROMPTS[0]],
    { greedy: true, maxNewTokens: 16, stopStrings: ["@never@"], ...NO_EOS },
    tokenizer,
  );
  assert.equal(none.truncated, true);
  assert.equal(none.stopString, null);
  assert.equal(none.text, free.text);
});

test("stop strings are found when the last token carries characters past them, or spans several tokens", () => {
  // A toy vocabulary with multi-character tokens.
  const vocab = ["<g", "uess>", "x", "</", "guess>\n", "</guess>", "é"];
  const decoder: TokenDecoder = { decode: (ids) => ids.map((id) => vocab[id]).join("") };
  const stop = new StopCriteria({ stopStrings: ["</guess>"], maxNewTokens: 50, eosTokenIds: [99] }, decoder);
  const seq = [0, 1, 2, 2, 3, 4]; // "<guess>xx</guess>\n": completes at the last token, with "\n" after
  for (let n = 1; n < seq.length; n++) assert.equal(stop.check(seq.slice(0, n)), null, `prefix ${n}`);
  assert.equal(stop.check(seq), "stop_string");
  assert.equal(stop.matchTail(seq), "</guess>");
  assert.equal(stop.cutAfter("<guess>xx</guess>\n", "</guess>"), "<guess>xx</guess>");
  // A long run of tokens before the match does not hide it (only the tail is decoded).
  const long = [...new Array(200).fill(2), 5];
  assert.equal(stop.check(long), "stop_string");
  assert.equal(stop.check([2, 99]), "eos");
  assert.equal(stop.check(new Array(50).fill(6)), "max_new_tokens");
  assert.throws(() => new StopCriteria({ stopStrings: ["x"], maxNewTokens: 5 }), /tokenizer/);
  assert.throws(() => new StopCriteria({ stopStrings: [""], maxNewTokens: 5 }, decoder), /empty/);
  assert.throws(() => new StopCriteria({ maxNewTokens: 0 }), /maxNewTokens/);
});

test("seeded sampling is reproducible; different seeds give different completions", () => {
  const options = { temperature: 1.5, maxNewTokens: 10, numReturnSequences: 4, ...NO_EOS };
  const ids = (cs: Completion[]) => cs.map((c) => c.tokenIds);
  const a = run(PROMPTS, { ...options, seed: 7 });
  const b = run(PROMPTS, { ...options, seed: 7 });
  const c = run(PROMPTS, { ...options, seed: 8 });
  assert.deepEqual(ids(a), ids(b));
  assert.notDeepEqual(ids(a), ids(c));
  // The G samples of one prompt differ from each other (they share the prefill, not the draws).
  assert.notDeepEqual(a[0].tokenIds, a[1].tokenIds);
});

test("top-k 1 sampling is greedy, with sampled log-probs of 0", () => {
  const greedy = run(PROMPTS, { greedy: true, maxNewTokens: 6, ...NO_EOS });
  const topOne = run(PROMPTS, { topK: 1, seed: 1, maxNewTokens: 6, ...NO_EOS });
  topOne.forEach((c, i) => {
    assert.deepEqual(c.tokenIds, greedy[i].tokenIds);
    assertAllClose(c.logprobs, greedy[i].logprobs, 1e-5, `row ${i} logprobs`);
    assert.ok(c.sampledLogprobs.every((v) => v === 0));
  });
});

test("a huge repetition penalty keeps greedy decoding off every token already seen", () => {
  const [c] = run([PROMPTS[0]], { greedy: true, repetitionPenalty: 1e9, maxNewTokens: 20, ...NO_EOS });
  const seen = new Set(PROMPTS[0]);
  for (const id of c.tokenIds) {
    assert.ok(!seen.has(id), `token ${id} repeats`);
    seen.add(id);
  }
  // The penalty changes the distribution sampled from: sampled log-probs differ from the model's.
  assert.notDeepEqual(c.sampledLogprobs, c.logprobs);
});

test("onStats reports the prefill, the decode steps and the tokens generated", () => {
  const free = run(PROMPTS, { greedy: true, maxNewTokens: 6, ...NO_EOS });
  const eos = free[1].tokenIds[2];
  let stats: GenerationStats | undefined;
  const completions = run(PROMPTS, {
    greedy: true,
    maxNewTokens: 6,
    numReturnSequences: 2,
    eosTokenIds: [eos],
    onStats: (s) => {
      stats = s;
    },
  });
  assert.ok(stats);
  assert.equal(stats.prompts, 3);
  assert.equal(stats.completions, 6);
  assert.equal(stats.steps, Math.max(...completions.map((c) => c.length)));
  assert.equal(
    stats.generatedTokens,
    completions.reduce((n, c) => n + c.length, 0),
  );
  assert.ok(stats.generatedTokens < 6 * 6, "the EOS row stopped early");
  assert.ok(stats.prefillSeconds > 0 && stats.decodeSeconds > 0);
});

test("generate frees every tensor it makes, and rejects bad input with a clear message", () => {
  const before = liveTensorCount();
  run(PROMPTS, {
    temperature: 0.9,
    topP: 0.9,
    topK: 50,
    minP: 0.01,
    repetitionPenalty: 1.2,
    seed: 2,
    maxNewTokens: 5,
    numReturnSequences: 2,
    ...NO_EOS,
  });
  assert.equal(liveTensorCount(), before);
  assert.throws(() => run([[1, 2], []], { maxNewTokens: 3 }), /prompt 1 is empty/);
  assert.throws(() => run([[1, 999]], { maxNewTokens: 3 }), /prompt 0 token 1 is 999/);
  assert.throws(() => run([[1, 2]], { maxNewTokens: 0 }), /maxNewTokens/);
  assert.throws(() => run([[1, 2]], { maxNewTokens: 3, numReturnSequences: 0 }), /numReturnSequences/);
  assert.throws(() => run([[1, 2]], { maxNewTokens: 3, temperature: -1 }), /temperature/);
  assert.throws(() => run([[1, 2]], { maxNewTokens: 3, stopStrings: ["x"] }), /tokenizer/);
});

test("log-probs are computed only when asked for, and asking changes no token", () => {
  for (const options of [
    { temperature: 0.7, topK: 20, seed: 5, maxNewTokens: 8, ...NO_EOS },
    { temperature: 1.3, topP: 0.9, seed: 6, maxNewTokens: 8, ...NO_EOS },
    { greedy: true, repetitionPenalty: 1.2, maxNewTokens: 8, ...NO_EOS },
  ] as GenerateOptions[]) {
    const plain = generate(model, null, PROMPTS, options);
    const scored = run(PROMPTS, options);
    plain.forEach((c, i) => {
      assert.equal(c.logprobs, undefined);
      assert.equal(c.sampledLogprobs, undefined);
      assert.deepEqual(c.tokenIds, scored[i]?.tokenIds, `row ${i}`);
    });
  }
});

test("keyed streams: a row samples the same tokens whatever rows share its batch", () => {
  const G = 3;
  const options = { ...NO_EOS, maxNewTokens: 10, temperature: 1.3, topK: 50, numReturnSequences: G };
  const keys = (prompts: number[]) => prompts.flatMap((p) => [0, 1, 2].map((g) => 100 + p * G + g));
  const together = run(PROMPTS, { ...options, streams: { seed: 7, rowKeys: keys([0, 1, 2]) } });
  // The same rows in two calls (as two ranks would play them), the device generator reseeded in between.
  const first = run(PROMPTS.slice(0, 1), { ...options, seed: 1, streams: { seed: 7, rowKeys: keys([0]) } });
  const rest = run(PROMPTS.slice(1), { ...options, seed: 2, streams: { seed: 7, rowKeys: keys([1, 2]) } });
  assert.deepEqual(
    [...first, ...rest].map((c) => c.tokenIds),
    together.map((c) => c.tokenIds),
  );
  // Another stream seed gives other tokens; rows of one prompt differ from each other.
  const other = run(PROMPTS, { ...options, streams: { seed: 8, rowKeys: keys([0, 1, 2]) } });
  assert.notDeepEqual(
    other.map((c) => c.tokenIds),
    together.map((c) => c.tokenIds),
  );
  assert.notDeepEqual(together[0]?.tokenIds, together[1]?.tokenIds);
  assert.throws(
    () => run(PROMPTS, { ...options, streams: { seed: 7, rowKeys: [1, 2] } }),
    /streams\.rowKeys has 2 keys for 9 completion rows/,
  );
});

test("a token constraint decides each constrained row's picks; the rows it leaves free decode as without it", () => {
  const tokenizer = tinyTokenizer();
  const forced = tokenizer.encode("<guess>xylyl</guess>");
  const free = run(PROMPTS, { greedy: true, maxNewTokens: forced.length, ...NO_EOS }, tokenizer);
  for (const greedy of [true, false]) {
    const asked: number[] = [];
    const constrained = run(
      PROMPTS,
      {
        greedy,
        temperature: greedy ? undefined : 1.5,
        seed: 3,
        maxNewTokens: forced.length,
        ...NO_EOS,
        constrain: (row, generated) => {
          asked.push(row);
          return row === 1 ? { allow: [forced[generated.length]] } : null;
        },
      },
      tokenizer,
    );
    assert.deepEqual(constrained[1].tokenIds, forced, "the allowed token is the only one picked");
    assert.equal(constrained[1].sampledLogprobs.at(-1), 0, "it had all the probability left");
    if (greedy) {
      assert.deepEqual(constrained[0].tokenIds, free[0].tokenIds);
      assert.deepEqual(constrained[2].tokenIds, free[2].tokenIds);
    }
    assert.equal(asked.filter((r) => r === 1).length, forced.length, "asked once per step per running row");
  }
  // A block list removes tokens wherever sampling would have drawn them.
  const letters = [..."aeiou"].map((c) => tokenizer.encode(c)[0]);
  const blocked = run(
    PROMPTS,
    {
      temperature: 3,
      seed: 5,
      maxNewTokens: 40,
      numReturnSequences: 4,
      ...NO_EOS,
      constrain: () => ({ block: letters }),
    },
    tokenizer,
  );
  for (const c of blocked)
    assert.ok(
      c.tokenIds.every((id) => !letters.includes(id)),
      c.text,
    );
});
