import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { apiRoot, completionText, endpointPolicy } from "../src/eval/endpoint-policy.js";
import { PACKAGE_ROOT } from "../src/paths.js";

const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
const MODEL = join(PACKAGE_ROOT, "models", "wordle-tiny");
const ADAPTER = join(PACKAGE_ROOT, "models", "wordle-tiny-grpo");

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: PACKAGE_ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
}

/** `wordle-grpo serve` on a free port; resolves with its base URL once it listens. */
function startServe(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--model", MODEL, "--adapter", ADAPTER, "--port", "0", "--device", "cpu"],
    { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr?.on("data", (d) => {
      err += d;
    });
    child.stdout?.on("data", (d) => {
      out += d;
      const url = /at (http:\/\/\S+)\/v1/.exec(out)?.[1];
      if (url) resolve({ child, url });
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

/** Each game's secret and its guesses with their feedback. */
function gamesOf(file: string): unknown[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const g = JSON.parse(line);
      return [
        g.secret,
        g.won,
        g.guesses.map((x: { word: string; feedback: string | null }) => [x.word, x.feedback]),
      ];
    });
}

test("eval --endpoint against `serve` gives the local eval's table and games on 100 held-out secrets (greedy)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "eval-endpoint-"));
  const { child, url } = await startServe();
  try {
    const common = [
      "--set",
      "held-out",
      "--held-out",
      "99",
      "--template",
      "tiny",
      "--refused",
      "show",
      "--no-baselines",
    ];
    const remote = cli([
      "eval",
      "--endpoint",
      url,
      "--served-model",
      "wordle-tiny-grpo",
      ...common,
      "--games",
      join(dir, "remote.jsonl"),
      "--json",
    ]);
    assert.equal(remote.status, 0, remote.stderr);
    const local = cli([
      "eval",
      "--model",
      MODEL,
      "--adapter",
      ADAPTER,
      "--device",
      "cpu",
      ...common,
      "--games",
      join(dir, "local.jsonl"),
      "--json",
    ]);
    assert.equal(local.status, 0, local.stderr);
    const remoteGames = gamesOf(join(dir, "remote.jsonl"));
    assert.equal(remoteGames.length, 100, "FROST and 99 held-out secrets");
    assert.deepEqual(remoteGames, gamesOf(join(dir, "local.jsonl")));
    // The same table: every figure of the summary (wins, guesses, invalid, consistency, ...).
    const summary = (out: string) => JSON.parse(out).sets[0].summary;
    assert.equal(summary(remote.stdout).games, 100);
    assert.deepEqual(summary(remote.stdout), summary(local.stdout));
    // The text report prints too, and a wrong model name is the server's 404, not retried.
    const wrong = cli([
      "eval",
      "--endpoint",
      url,
      "--served-model",
      "nope",
      "--set",
      "words:frost",
      "--template",
      "tiny",
    ]);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /HTTP 404: The model 'nope' does not exist/);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  assert.equal(child.exitCode, 0, "SIGTERM stops serve cleanly");
});

test("endpoint policy: retries 503 twice (honouring Retry-After), sends the API key, reads the guess", async () => {
  const seen: { auth: string | undefined; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => {
      text += d;
    });
    req.on("end", () => {
      seen.push({ auth: req.headers.authorization, body: JSON.parse(text) });
      if (seen.length <= 2) {
        res.writeHead(503, { "content-type": "application/json", "retry-after": "0" });
        res.end(
          JSON.stringify({ error: { message: "busy", type: "server_error", param: null, code: null } }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          choices: [
            { index: 0, message: { role: "assistant", content: "<guess>CRANE" }, finish_reason: "stop" },
          ],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const policy = endpointPolicy({
      endpoint: `http://127.0.0.1:${port}`,
      servedModel: "m",
      template: "compact",
      apiKey: "secret-key",
      backoffMs: 10_000, // Retry-After: 0 must win over this, or the test times out
    });
    const [move] = await policy.next([{ game: 0, turn: 1, history: [] }]);
    assert.equal(seen.length, 3);
    assert.equal(seen[0]?.auth, "Bearer secret-key");
    assert.equal(move?.guess, "CRANE");
    assert.equal(move?.completion, "<guess>CRANE</guess>");
    const body = seen[2]?.body as Record<string, unknown>;
    assert.equal(body.temperature, 0);
    assert.deepEqual(body.stop, ["</guess>"]);
    assert.equal(body.continue_final_message, true); // compact pre-fills "<think>"
    const messages = body.messages as { role: string; content: string }[];
    assert.deepEqual(messages.at(-1), { role: "assistant", content: "<think>" });

    // Out of retries: the error names the status and the tries.
    seen.length = 0;
    const impatient = endpointPolicy({
      endpoint: `http://127.0.0.1:${port}/v1/`,
      servedModel: "m",
      retries: 1,
      backoffMs: 1,
    });
    await assert.rejects(
      impatient.next([{ game: 0, turn: 1, history: [] }]),
      /HTTP 503: busy \(after 2 tries\)/,
    );
  } finally {
    server.close();
  }
});

test("endpoint policy: the API root, and the stop string put back", () => {
  assert.equal(apiRoot("http://h:8000"), "http://h:8000/v1");
  assert.equal(apiRoot("http://h:8000/v1/"), "http://h:8000/v1");
  assert.throws(() => apiRoot("h:8000"), /http\(s\) URL/);
  const choice = (content: string, finish: string, stop?: unknown) => ({
    message: { content },
    finish_reason: finish,
    ...(stop === undefined ? {} : { stop_reason: stop }),
  });
  assert.equal(completionText(choice("<guess>CRANE", "stop", "</guess>")), "<guess>CRANE</guess>");
  assert.equal(completionText(choice("<guess>CRANE", "stop", null)), "<guess>CRANE"); // an EOS
  assert.equal(completionText(choice("<guess>CRANE", "length")), "<guess>CRANE");
  assert.equal(completionText(choice("<guess>CRANE</guess>", "stop")), "<guess>CRANE</guess>");
});
