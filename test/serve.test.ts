import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadLora, loadModel, loadTokenizer, type Model } from "../src/model/load.js";
import { generate } from "../src/model/sampler.js";
import type { Tokenizer } from "../src/model/tokenizer.js";
import { MODELS_DIR } from "../src/paths.js";
import { type RunningServer, startServer } from "../src/serve/server.js";
import { renderPrompt } from "../src/task/prompt.js";

// The shipped tiny model with its GRPO adapter: a chat template, and it plays real Wordle.
const MODEL = join(MODELS_DIR, "wordle-tiny");
const ADAPTER = join(MODELS_DIR, "wordle-tiny-grpo");
const NAME = "wordle-tiny-grpo";

let model: Model;
let tokenizer: Tokenizer;
let server: RunningServer;
const batches: number[] = [];

before(async () => {
  model = await loadModel(MODEL, { device: "cpu", dtype: "float32" });
  loadLora(model, ADAPTER);
  model.training = false;
  tokenizer = loadTokenizer(MODEL);
  server = await startServer({
    model,
    tokenizer,
    modelName: NAME,
    limits: { maxTokens: 64, maxBodyBytes: 4096 },
    batchWindowMs: 20,
    onBatch: (n) => batches.push(n),
  });
});

after(async () => {
  await server.close();
  model.dispose();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

const OPENING = [{ role: "user", content: "Wordle" }];
const chat = (extra: Record<string, unknown> = {}) => ({
  model: NAME,
  messages: OPENING,
  temperature: 0,
  max_tokens: 16,
  ...extra,
});

/** The local greedy completion of the same prompt, as eval's model policy renders it. */
function localGreedy(stop: string[]): { text: string; tokens: number } {
  const prompt = renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text;
  const [c] = generate(model, tokenizer, [tokenizer.encode(prompt)], {
    maxNewTokens: 16,
    greedy: true,
    stopStrings: stop,
  });
  return { text: c!.text, tokens: c!.length };
}

test("serve: GET /v1/models lists the served model", async () => {
  const res = await fetch(`${server.url}/v1/models`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as any;
  assert.equal(body.object, "list");
  assert.deepEqual(
    body.data.map((m: any) => [m.id, m.object]),
    [[NAME, "model"]],
  );
});

test("serve: a greedy chat completion has OpenAI's shape and the local generate's text", async () => {
  const { status, json } = await post("/v1/chat/completions", chat());
  assert.equal(status, 200);
  assert.match(json.id, /^chatcmpl-/);
  assert.equal(json.object, "chat.completion");
  assert.equal(json.model, NAME);
  assert.equal(typeof json.created, "number");
  assert.equal(json.choices.length, 1);
  const choice = json.choices[0];
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, "assistant");
  const local = localGreedy([]);
  assert.equal(choice.message.content, local.text);
  assert.match(choice.message.content, /^<guess>[A-Z]{5}<\/guess>$/);
  assert.equal(choice.finish_reason, "stop"); // the model's end-of-turn token
  const prompt = renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text;
  assert.equal(json.usage.prompt_tokens, tokenizer.encode(prompt).length);
  assert.equal(json.usage.completion_tokens, local.tokens); // the end-of-turn token included
  assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + json.usage.completion_tokens);
});

test("serve: a stop string ends the text and is left out of it (stop_reason names it); length", async () => {
  const stopped = await post("/v1/chat/completions", chat({ stop: "</guess>" }));
  assert.equal(stopped.status, 200);
  const c = stopped.json.choices[0];
  assert.equal(`${c.message.content}</guess>`, localGreedy(["</guess>"]).text);
  assert.equal(c.finish_reason, "stop");
  assert.equal(c.stop_reason, "</guess>");
  const short = await post("/v1/chat/completions", chat({ max_tokens: 3, stop: ["x", "</guess>"] }));
  assert.equal(short.json.choices[0].finish_reason, "length");
  assert.ok(localGreedy([]).text.startsWith(short.json.choices[0].message.content));
  assert.equal(short.json.usage.completion_tokens, 3);
});

test("serve: streamed chunks reassemble to the non-streamed text and end with [DONE]", async () => {
  for (const path of ["/v1/chat/completions", "/v1/completions"]) {
    const prompt = renderPrompt({ history: [] }, { template: "tiny", tokenizer }).text;
    const body = path.includes("chat") ? chat() : { model: NAME, prompt, temperature: 0, max_tokens: 16 };
    const whole = await post(path, body);
    const streamed = await post(path, { ...body, stream: true, stream_options: { include_usage: true } });
    assert.equal(streamed.status, 200);
    const events = streamed.text.split("\n\n").filter((e) => e.length > 0);
    assert.equal(events.at(-1), "data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")));
    const isChat = path.includes("chat");
    const text = chunks
      .flatMap((c) => c.choices)
      .map((c: any) => (isChat ? (c.delta.content ?? "") : c.text))
      .join("");
    const wholeText = isChat ? whole.json.choices[0].message.content : whole.json.choices[0].text;
    assert.equal(text, wholeText);
    assert.ok(chunks.length > 4, "one chunk per token");
    assert.equal(chunks[0].object, isChat ? "chat.completion.chunk" : "text_completion");
    const last = chunks.at(-2).choices[0];
    assert.equal(last.finish_reason, "stop");
    assert.deepEqual(chunks.at(-1).usage, whole.json.usage);
  }
});

test("serve: n=2 sampled with a seed gives two choices, reproducibly", async () => {
  const body = chat({ temperature: 1.5, n: 2, seed: 7, max_tokens: 12 });
  const a = await post("/v1/chat/completions", body);
  const b = await post("/v1/chat/completions", body);
  assert.equal(a.status, 200);
  assert.deepEqual(
    a.json.choices.map((c: any) => c.index),
    [0, 1],
  );
  assert.deepEqual(
    a.json.choices.map((c: any) => c.message.content),
    b.json.choices.map((c: any) => c.message.content),
  );
  assert.ok(a.json.usage.completion_tokens >= 2);
});

test("serve: concurrent requests are all answered, sharing batches", async () => {
  batches.length = 0;
  const openings = ["CRANE", "SLATE", "FROST", "PIOUS", "MOUNT", "CHILD"];
  const replies = await Promise.all(
    openings.map((word) =>
      post(
        "/v1/chat/completions",
        chat({
          messages: [
            { role: "user", content: "Wordle" },
            { role: "assistant", content: `<guess>${word}</guess>` },
            { role: "user", content: "×~××✓" },
          ],
        }),
      ),
    ),
  );
  for (const r of replies) {
    assert.equal(r.status, 200);
    assert.match(r.json.choices[0].message.content, /<guess>/);
  }
  assert.equal(
    batches.reduce((a, b) => a + b, 0),
    openings.length,
  );
  assert.ok(batches.length < openings.length, `batches ${batches}`);
});

test("serve: limits and mistakes are 4xx errors in OpenAI's shape", async () => {
  const cases: [unknown, number, string | null][] = [
    ["{not json", 400, "invalid_json"],
    [[1, 2], 400, "invalid_json"],
    [{ ...chat(), model: "gpt-4" }, 404, "model_not_found"],
    [chat({ max_tokens: 65 }), 400, "max_tokens_exceeded"],
    [chat({ n: 17 }), 400, "invalid_value"],
    [chat({ messages: [] }), 400, "invalid_value"],
    [chat({ messages: [{ role: "robot", content: "x" }] }), 400, "invalid_value"],
    [chat({ stop: ["a", "b", "c", "d", "e"] }), 400, "invalid_value"],
    [chat({ temperature: "hot" }), 400, "invalid_value"],
    [chat({ logprobs: true }), 400, "unsupported_parameter"],
    [{ messages: OPENING }, 400, "missing_model"],
    [chat({ messages: [{ role: "user", content: "x".repeat(5000) }] }), 413, "request_too_large"],
  ];
  for (const [body, status, code] of cases) {
    const r = await post("/v1/chat/completions", body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.error.code, code);
    assert.equal(typeof r.json.error.message, "string");
    assert.ok("type" in r.json.error && "param" in r.json.error);
  }
  const wrongMethod = await fetch(`${server.url}/v1/chat/completions`);
  assert.equal(wrongMethod.status, 405);
  const unknown = await fetch(`${server.url}/v2/nothing`);
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as any).error.code, "not_found");
});
