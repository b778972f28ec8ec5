import assert from "node:assert/strict";
import { test } from "node:test";
import { renderChatTemplate } from "../src/model/chat-template.js";
import { Tokenizer } from "../src/model/tokenizer.js";
import { CharEncoder, gameSequence, SequenceBuilder } from "../src/sft/game-sequence.js";
import { parseTeacherSpec, TeacherGames } from "../src/sft/teacher.js";
import { buildTinyTokenizerFiles, renderTinyChat, TINY_CHAT_TEMPLATE } from "../src/sft/tiny-tokenizer.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { promptMessages, renderPrompt } from "../src/task/prompt.js";
import { rewardPreset } from "../src/task/rewards/presets.js";
import { Rng } from "../src/util/rng.js";
import { scoreGuess } from "../src/wordle/score.js";

const files = buildTinyTokenizerFiles();
const tokenizer = new Tokenizer(files.tokenizer, files.tokenizerConfig, {
  source: "tiny",
  chatTemplate: TINY_CHAT_TEMPLATE,
});
const history = [
  { guess: "crane", feedback: scoreGuess("crane", "sloth") },
  { guess: "sloth", feedback: scoreGuess("sloth", "sloth") },
];

test("tiny template: a short multi-turn conversation ending where the model's guess starts", () => {
  assert.equal(renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text, "Wordle\n");
  const prompt = renderPrompt({ history }, { template: "tiny", tokenizer });
  assert.equal(
    prompt.text,
    "Wordle\n<guess>CRANE</guess><|im_end|>×××××\n<guess>SLOTH</guess><|im_end|>✓✓✓✓✓\n",
  );
  assert.equal(prompt.assistantPrefill, "");
  // Without Jinja the same text (the training hot path).
  assert.equal(renderTinyChat(promptMessages({ history }, "tiny")), prompt.text);
  // transformers' add_generation_prompt adds nothing: the assistant turn starts right away.
  const messages = promptMessages({ history }, "tiny");
  assert.equal(renderChatTemplate(TINY_CHAT_TEMPLATE, messages, { addGenerationPrompt: true }), prompt.text);
});

test("tiny tokenizer: a completion is 7 tokens and a turn of play 14; decode inverts encode", () => {
  const completion = tokenizer.encode("<guess>CRANE</guess>");
  assert.deepEqual(
    completion.map((id) => tokenizer.idToToken(id)),
    ["<guess>", "C", "R", "A", "N", "E", "</guess>"],
  );
  const one = renderPrompt({ history: history.slice(0, 1) }, { template: "tiny", tokenizer }).text;
  const zero = renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text;
  assert.equal(tokenizer.encode(one).length - tokenizer.encode(zero).length, 14);
  const text = renderPrompt({ history }, { template: "tiny", tokenizer }).text;
  assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  assert.deepEqual(new CharEncoder(tokenizer).encode(text), tokenizer.encode(text));
  assert.equal(tokenizer.eosTokenId, tokenizer.encode("<|im_end|>")[0]);
  for (const special of ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<guess>", "</guess>"])
    assert.equal(tokenizer.encode(special).length, 1, special);
});

test("a whole game is one sequence: every turn's prompt is a prefix, followed by the learned guess", () => {
  const games = new TeacherGames(parseTeacherSpec("mix:random-consistent=0.7,random-word=0.3"));
  const rng = new Rng(3);
  let noise = 0;
  for (let g = 0; g < 40; g++) {
    const turns = games.play(games.table.answers[rng.int(games.table.answers.length)], rng);
    const seq = gameSequence(tokenizer, turns);
    assert.equal(seq.turns, turns.length);
    for (let k = 0; k < turns.length; k++) {
      const prompt = tokenizer.encode(
        renderPrompt({ history: turns.slice(0, k) }, { template: "tiny", tokenizer }).text,
      );
      assert.deepEqual(seq.ids.slice(0, prompt.length), prompt, `turn ${k + 1} prompt is a prefix`);
      const answer = tokenizer.encode(`<guess>${turns[k].guess.toUpperCase()}</guess><|im_end|>`);
      assert.deepEqual(seq.ids.slice(prompt.length, prompt.length + answer.length), answer);
      const learned = [...seq.learn.slice(prompt.length, prompt.length + answer.length)];
      assert.deepEqual(
        learned,
        answer.map(() => (turns[k].learn ? 1 : 0)),
      );
      if (!turns[k].learn) noise++;
    }
    // Only guess tokens are learned: prompt text and feedback never are.
    const learnedCount = seq.learn.reduce((a, b) => a + b, 0);
    assert.equal(learnedCount, turns.filter((t) => t.learn).length * 8);
    assert.equal(seq.ids.length, 7 + 14 * turns.length - 6);
  }
  assert.ok(noise > 0, "the mix played some noise turns");
  // The fast builder checks itself against the reference path and agrees.
  const builder = new SequenceBuilder(tokenizer, 10);
  const turns = games.play("sloth", rng);
  assert.deepEqual(builder.build(turns).ids, gameSequence(tokenizer, turns).ids);
});

test("teacher specs: mixes normalise, errors name the problem", () => {
  assert.deepEqual(parseTeacherSpec("mix:random-consistent=0.8,random-word=0.2"), {
    teachers: [
      { teacher: "random-consistent", weight: 0.8 },
      { teacher: "random-word", weight: 0.2 },
    ],
    branch: false,
  });
  assert.deepEqual(parseTeacherSpec("mix:entropy=3,random-consistent=1").teachers[0], {
    teacher: "entropy",
    weight: 0.75,
  });
  assert.throws(() => parseTeacherSpec("greedy"), /unknown teacher "greedy"/);
  assert.throws(() => parseTeacherSpec("random-word"), /noise/);
  assert.throws(() => parseTeacherSpec("mix:entropy=x"), /NAME=WEIGHT/);
  assert.throws(() => parseTeacherSpec("mix:random-word=1"), /learned/);
  assert.deepEqual(parseTeacherSpec("branch:random-consistent=0.25"), {
    teachers: [
      { teacher: "entropy", weight: 0.75 },
      { teacher: "random-consistent", weight: 0.25 },
    ],
    branch: true,
  });
  for (const bad of ["branch:random-consistent=1", "branch:random-word=0.2", "branch:entropy=0.5", "branch:"])
    assert.throws(() => parseTeacherSpec(bad), /branch:random-consistent=P with 0 < P < 1/, bad);
});

test("branch teacher: the entropy solver's moves until the game leaves its path, then consistent moves to the end", () => {
  const games = new TeacherGames(parseTeacherSpec("branch:random-consistent=0.3"));
  const solver = new TeacherGames(parseTeacherSpec("entropy"));
  const rng = new Rng(11);
  let branched = 0;
  for (let g = 0; g < 300; g++) {
    const secret = games.table.answers[rng.int(games.table.answers.length)];
    const turns = games.play(secret, rng);
    const path = solver.play(secret, rng);
    const leaves = turns.findIndex((t) => t.teacher !== "entropy");
    const onPath = leaves < 0 ? turns : turns.slice(0, leaves);
    // On the path: exactly the solver's own game (it is deterministic).
    assert.deepEqual(
      onPath.map((t) => t.guess),
      path.slice(0, onPath.length).map((t) => t.guess),
    );
    if (leaves < 0) continue;
    branched++;
    // Off the path: only random-consistent, every guess still possible, all of them learned.
    const history: { guess: string; feedback: ReturnType<typeof scoreGuess> }[] = [];
    for (const [i, t] of turns.entries()) {
      if (i >= leaves) {
        assert.equal(t.teacher, "random-consistent");
        assert.ok(t.learn);
        for (const h of history) assert.deepEqual(scoreGuess(h.guess, t.guess), h.feedback);
      }
      history.push({ guess: t.guess, feedback: t.feedback });
    }
  }
  // P(leave within the first turn or two) is high enough that most games branch at some point.
  assert.ok(branched > 100 && branched < 300, `${branched} of 300 games branched`);
});

test("teacher games follow the rules: feedback is the real score, the game stops at a win", () => {
  const games = new TeacherGames(parseTeacherSpec("random-consistent"));
  const rng = new Rng(5);
  let wins = 0;
  for (let g = 0; g < 200; g++) {
    const secret = games.table.answers[rng.int(games.table.answers.length)];
    const turns = games.play(secret, rng);
    for (const t of turns) assert.deepEqual(t.feedback, scoreGuess(t.guess, secret));
    assert.ok(turns.length <= 6);
    if (turns[turns.length - 1].guess === secret) wins++;
    for (const t of turns.slice(0, -1)) assert.notEqual(t.guess, secret);
  }
  assert.ok(wins >= 190, `random-consistent wins ~99% (got ${wins}/200)`);
});

test("exact rewards score tiny completions: full format credit with thinking: false", () => {
  const state = { secret: "sloth", history: history.slice(0, 1) };
  const withThink = rewardPreset("exact");
  const tiny = rewardPreset("exact", { thinking: false });
  const completion = "<guess>SLOTH</guess>";
  assert.equal(parseGuess(completion), "SLOTH");
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(withThink.score(state, completion, 0).values.format, 0.6);
  close(tiny.score(state, completion, 0).values.format, 0.8);
  assert.equal(tiny.score(state, completion, 0).values.win, 1);
  assert.equal(tiny.score(state, "<guess>XQZVK</guess>", 1).values.format < 0.4, true);
  assert.equal(tiny.score(state, "CRANE", 0).values.format, 0);
  assert.throws(() => rewardPreset("seed", { thinking: false }), /only available for the exact preset/);
});
