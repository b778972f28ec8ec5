/**
 * `serve` driven by the official `openai` npm client, as a user's code would drive it: the greedy
 * reply is the local generate's, streaming yields the same text, 16 concurrent requests are all
 * answered, and bad requests come back as the client's API errors while the server stays up.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { loadLora, loadModel, loadTokenizer, type Model } from "../src/model/load.js";
import { generate } from "../src/model/sampler.js";
import type { Tokenizer } from "../src/model/tokenizer.js";
import { MODELS_DIR } from "../src/paths.js";
import { type RunningServer, startServer } from "../src/serve/server.js";
import { renderPrompt } from "../src/task/prompt.js";

const NAME = "wordle-tiny-grpo";
let model: Model;
let tokenizer: Tokenizer;
let server: RunningServer;
let client: OpenAI;

before(async () => {
  model = await loadModel(join(MODELS_DIR, "wordle-tiny"), { device: "cpu", dtype: "float32" });
  loadLora(model, join(MODELS_DIR, "wordle-tiny-grpo"));
  model.training = false;
  tokenizer = loadTokenizer(join(MODELS_DIR, "wordle-tiny"));
  server = await startServer({ model, tokenizer, modelName: NAME, limits: { maxTokens: 64 } });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-needed", maxRetries: 0 });
});

after(async () => {
  await server.close();
  model.dispose();
});

const OPENING: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "Wordle" }];

function localGreedy(): string {
  const prompt = renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text;
  const [c] = generate(model, tokenizer, [tokenizer.encode(prompt)], { maxNewTokens: 16, greedy: true });
  return c!.text;
}

test("openai client: a greedy chat completion is the local greedy completion", async () => {
  const reply = await client.chat.completions.create({
    model: NAME,
    messages: OPENING,
    temperature: 0,
    max_tokens: 16,
  });
  assert.equal(reply.choices[0]?.message.content, localGreedy());
  assert.match(reply.choices[0]?.message.content ?? "", /^<guess>[A-Z]{5}<\/guess>$/);
  assert.equal(reply.model, NAME);
  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    [NAME],
  );
});

test("openai client: streaming yields the same text", async () => {
  const stream = await client.chat.completions.create({
    model: NAME,
    messages: OPENING,
    temperature: 0,
    max_tokens: 16,
    stream: true,
  });
  let text = "";
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, localGreedy());
  assert.equal(finish, "stop");
});

test("openai client: 16 concurrent requests are all answered", async () => {
  const replies = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      client.chat.completions.create({
        model: NAME,
        messages: OPENING,
        temperature: 0.8,
        seed: i,
        max_tokens: 16,
      }),
    ),
  );
  assert.equal(replies.length, 16);
  for (const reply of replies) assert.match(reply.choices[0]?.message.content ?? "", /<guess>/);
});

test("openai client: bad requests are 4xx API errors and the server stays up", async () => {
  const status = async (request: Promise<unknown>): Promise<number> => {
    try {
      await request;
    } catch (error) {
      assert.ok(error instanceof OpenAI.APIError, String(error));
      return error.status as number;
    }
    assert.fail("the request was accepted");
  };
  const base = { messages: OPENING, temperature: 0 };
  assert.equal(await status(client.chat.completions.create({ ...base, model: "gpt-5" })), 404);
  assert.equal(await status(client.chat.completions.create({ ...base, model: NAME, max_tokens: 1e9 })), 400);
  assert.equal(await status(client.chat.completions.create({ ...base, model: NAME, n: 0 })), 400);
  const malformed = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{not json",
  });
  assert.equal(malformed.status, 400);
  // Still serving.
  const again = await client.chat.completions.create({ ...base, model: NAME, max_tokens: 16 });
  assert.equal(again.choices[0]?.message.content, localGreedy());
});
