import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  appendFileSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { type IncomingMessage, request } from "node:http";
import { createServer as createSocketServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseColumnsQuery } from "../src/dashboard/columns-query.js";
import { JsonlTail } from "../src/dashboard/jsonl-tail.js";
import {
  MAX_COLUMNS_RESPONSE_BYTES,
  MAX_CONCURRENT_COLUMN_RESPONSES,
  MAX_EVENT_STREAMS,
  MAX_KEYS_PER_REQUEST,
} from "../src/dashboard/limits.js";
import { MetricColumns } from "../src/dashboard/metric-columns.js";
import { type DashboardServer, startDashboard } from "../src/dashboard/server.js";
import type { RunInit } from "../src/dashboard/shared/protocol.js";
import { PACKAGE_ROOT } from "../src/paths.js";

/**
 * The dashboard against hostile or broken run directories and requests (issue 15, finding 6):
 * FIFOs, sockets, devices and directories where run files belong, lines and files without end,
 * oversized or repeated column queries, many parallel heavy requests, and SIGTERM while all that
 * is going on. Each test reproduces the attempt and checks the refusal or the safe outcome.
 */

function tempRoot(): { root: string; assets: string } {
  const root = mkdtempSync(join(tmpdir(), "dashboard-hardening-"));
  const assets = join(root, "assets");
  mkdirSync(assets);
  writeFileSync(join(assets, "index.html"), "<!doctype html><title>dashboard</title>");
  return { root, assets };
}

function mkfifo(path: string): void {
  execFileSync("mkfifo", [path]);
}

/**
 * Opens a FIFO for writing without blocking and closes it again: a reader stuck in open() on it
 * (a regression of what these tests check) is released, so a failing test cannot hang the run.
 */
async function releaseFifoReaders(path: string): Promise<void> {
  try {
    const handle = await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
    await handle.close();
  } catch {
    // ENXIO: nobody is reading it, which is the point; ENOENT: already gone.
  }
}

/** Fails after `ms` instead of waiting forever on something that hangs. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

function get(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** Starts a GET and stops reading once the headers are in: a client that holds its response open. */
function getAndStall(port: number, path: string): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.pause();
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on("error", (err) => {
      if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") reject(err);
    });
    req.end();
  });
}

interface EventStream {
  status: number;
  inits: RunInit[];
  /** Every event so far (kept up to date while the stream is open). */
  events: { event: string; data: unknown }[];
  close: () => void;
}

/** Opens `/api/events` and resolves once every run's `init` has arrived (or with a refusal). */
function openEventStream(port: number, runCount: number): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/api/events", agent: false }, (res) => {
      const stream: EventStream = {
        status: res.statusCode ?? 0,
        inits: [],
        events: [],
        close: () => req.destroy(),
      };
      if (res.statusCode !== 200) {
        resolve(stream);
        res.resume();
        return;
      }
      // Line by line, in linear time: an event can be tens of megabytes.
      let partial: string[] = [];
      let event: string | undefined;
      let data: string | undefined;
      const deliver = (name: string, text: string): void => {
        const value: unknown = JSON.parse(text);
        stream.events.push({ event: name, data: value });
        if (name === "init" && stream.inits.length < runCount) {
          stream.inits.push(value as RunInit);
          if (stream.inits.length === runCount) resolve(stream);
        }
      };
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        let start = 0;
        for (let newline = chunk.indexOf("\n"); newline >= 0; newline = chunk.indexOf("\n", start)) {
          partial.push(chunk.slice(start, newline));
          start = newline + 1;
          const line = partial.join("");
          partial = [];
          if (line === "") {
            if (event !== undefined && data !== undefined) deliver(event, data);
            event = undefined;
            data = undefined;
          } else if (line.startsWith("event: ")) event = line.slice("event: ".length);
          else if (line.startsWith("data: ")) data = line.slice("data: ".length);
        }
        partial.push(chunk.slice(start));
      });
    });
    req.on("error", (err) => {
      if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") reject(err);
    });
    req.end();
  });
}

/** Waits until `stream` has received an event for which `match` is true. */
async function waitForEvent(
  stream: EventStream,
  match: (event: string, data: unknown) => boolean,
): Promise<void> {
  while (!stream.events.some((e) => match(e.event, e.data))) await new Promise((r) => setTimeout(r, 20));
}

const CONFIG = JSON.stringify({ run_name: "hardened", max_steps: 100 });
const ROW = (step: number): string => `${JSON.stringify({ step, reward: step / 10 })}\n`;

test("a FIFO as metrics.jsonl is never opened: the server starts, stays responsive and reports it once", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  mkdirSync(runDir);
  writeFileSync(join(runDir, "config.json"), CONFIG);
  writeFileSync(join(runDir, "samples.jsonl"), `${JSON.stringify({ step: 1, completion: "crane" })}\n`);
  const fifo = join(runDir, "metrics.jsonl");
  mkfifo(fifo);
  let server: DashboardServer | undefined;
  try {
    server = await within(
      5000,
      "startDashboard",
      startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets, pollMs: 20 }),
    );
    const port = server.port;
    // Several polls later: still answering at once, and the refusal was said exactly once.
    await new Promise((r) => setTimeout(r, 200));
    const runs = await within(2000, "/api/runs", get(port, "/api/runs"));
    assert.equal(runs.status, 200);
    assert.equal(JSON.parse(runs.body.toString())[0].label, "hardened", "config.json was still read");
    const fifoProblems = server.runs[0].problems.filter((p) => p.includes("FIFO"));
    assert.deepEqual(fifoProblems, [`${fifo}: not a regular file (FIFO); not read`]);
    // The page hears about it in the run's init, next to the samples that were read.
    const stream = await within(2000, "/api/events", openEventStream(port, 1));
    stream.close();
    assert.ok(
      stream.inits[0].problems.some((p) => p.endsWith("metrics.jsonl: not a regular file (FIFO); not read")),
    );
    assert.equal(stream.inits[0].samples.length, 1);
    // Downloading it is refused by name, not left hanging.
    const download = await within(2000, "/runs/0/metrics.jsonl", get(port, "/runs/0/metrics.jsonl"));
    assert.equal(download.status, 403);
    assert.match(download.body.toString(), /metrics\.jsonl: not a regular file \(FIFO\); not served/);
    // A regular file in its place is followed as usual.
    unlinkSync(fifo);
    writeFileSync(fifo, ROW(10) + ROW(20));
    const deadline = Date.now() + 5000;
    while (server.runs[0].columns.rowCount < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.runs[0].columns.rowCount, 2);
  } finally {
    await releaseFifoReaders(fifo);
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("sockets, devices, directories and a FIFO config.json are refused by kind; the rest is served", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  mkdirSync(runDir);
  mkfifo(join(runDir, "config.json"));
  writeFileSync(join(runDir, "metrics.jsonl"), ROW(10));
  mkdirSync(join(runDir, "samples.jsonl"));
  symlinkSync("/dev/zero", join(runDir, "eval-games.jsonl"));
  const socketServer = createSocketServer();
  const socketPath = join(runDir, "notes.txt");
  await new Promise<void>((ok) => socketServer.listen(socketPath, ok));
  let server: DashboardServer | undefined;
  try {
    server = await within(
      5000,
      "startDashboard",
      startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets, pollMs: 20 }),
    );
    await new Promise((r) => setTimeout(r, 150));
    const problems = server.runs[0].problems;
    for (const [file, kind] of [
      ["config.json", "FIFO"],
      ["samples.jsonl", "directory"],
      ["eval-games.jsonl", "character device"],
    ]) {
      const said = problems.filter(
        (p) => p === `${join(runDir, file)}: not a regular file (${kind}); not read`,
      );
      assert.equal(said.length, 1, `${file}: ${JSON.stringify(problems)}`);
    }
    assert.equal(server.runs[0].columns.rowCount, 1, "metrics.jsonl was read");
    assert.equal(server.runs[0].info.label, "run", "without config.json the folder names the run");
    const socket = await within(2000, "socket download", get(server.port, "/runs/0/notes.txt"));
    assert.equal(socket.status, 403);
    assert.match(socket.body.toString(), /notes\.txt: not a regular file \(socket\); not served/);
    assert.equal((await get(server.port, "/runs/0/metrics.jsonl")).body.toString(), ROW(10));
  } finally {
    await releaseFifoReaders(join(runDir, "config.json"));
    await server?.close();
    socketServer.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a line longer than the limit is skipped and counted, never buffered whole, also while still growing", async () => {
  const { root } = tempRoot();
  const path = join(root, "metrics.jsonl");
  try {
    const tail = new JsonlTail(path, { maxLineBytes: 1000 });
    writeFileSync(path, `${ROW(1)}{"step":2,"pad":"${"x".repeat(5000)}"}\n${ROW(3)}`);
    const first = await tail.read();
    assert.deepEqual(
      first.lines.map((l) => [l.where, (l.value as { step: number }).step]),
      [
        ["line 1", 1],
        ["line 3", 3],
      ],
    );
    assert.deepEqual(
      first.problems.map((p) => `${p.where}: ${p.message}`),
      ["line 2: line longer than 1000 bytes; skipped"],
    );
    // A line with no newline in sight: reported once it passes the limit, then dropped chunk by
    // chunk as it grows, and the lines after it are read normally.
    appendFileSync(path, `{"step":4,"pad":"${"y".repeat(3000)}`);
    const growing = await tail.read();
    assert.deepEqual(growing.lines, []);
    assert.deepEqual(
      growing.problems.map((p) => p.where),
      ["line 4"],
    );
    appendFileSync(path, "z".repeat(3000));
    assert.deepEqual((await tail.read()).problems, [], "the same line is not reported twice");
    appendFileSync(path, `"}\n${ROW(5)}`);
    const after = await tail.read();
    assert.deepEqual(
      after.lines.map((l) => [l.where, (l.value as { step: number }).step]),
      [["line 5", 5]],
    );
    assert.equal(tail.linesTooLong, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("each read takes at most its byte budget; the rest follows on the next reads, in order, once", async () => {
  const { root } = tempRoot();
  const path = join(root, "metrics.jsonl");
  try {
    let text = "";
    for (let step = 1; step <= 500; step++) text += ROW(step);
    writeFileSync(path, text);
    const tail = new JsonlTail(path, { maxBytesPerVisit: 1000 });
    const steps: number[] = [];
    let reads = 0;
    for (let more = true; more; reads++) {
      const read = await tail.read();
      assert.deepEqual(read.problems, []);
      steps.push(...read.lines.map((l) => (l.value as { step: number }).step));
      more = read.more;
    }
    assert.equal(reads, Math.ceil(text.length / 1000));
    assert.deepEqual(
      steps,
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a metrics file bigger than one poll's budget is read whole before the server listens", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  mkdirSync(runDir);
  // 72 rows of 1 MiB each: 72 MiB, more than the 64 MiB one poll reads.
  const pad = "p".repeat(1024 * 1024);
  const path = join(runDir, "metrics.jsonl");
  writeFileSync(path, "");
  for (let step = 1; step <= 72; step++) appendFileSync(path, `{"step":${step},"reward":1,"pad":"${pad}"}\n`);
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets });
  try {
    assert.equal(server.runs[0].columns.rowCount, 72);
    assert.deepEqual(server.runs[0].problems, []);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a file inventing new keys row after row stops adding columns at the limit, and says so", () => {
  const columns = new MetricColumns(4);
  for (let i = 0; i < 10; i++) columns.push({ step: i, [`key${i}`]: i });
  assert.deepEqual(columns.keys, ["step", "key0", "key1", "key2"]);
  assert.equal(columns.firstRefusedKey, "key3");
  assert.equal(columns.rowCount, 10);
});

/** A run whose column store is about 32 MiB (100,000 rows × 81 columns) but whose file is ~1.6 MB. */
function wideRun(runDir: string): void {
  mkdirSync(runDir);
  const wide: Record<string, number> = { step: 0 };
  for (let k = 0; k < 80; k++) wide[`metric/${k}`] = k;
  const lines = [JSON.stringify(wide)];
  for (let step = 1; step < 100_000; step++) lines.push(`{"step":${step}}`);
  writeFileSync(join(runDir, "metrics.jsonl"), `${lines.join("\n")}\n`);
}

test("oversized, repeated or malformed column queries are refused with 400 naming the limit", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  mkdirSync(runDir);
  let text = "";
  for (let step = 1; step <= 50; step++) text += ROW(step);
  writeFileSync(join(runDir, "metrics.jsonl"), text);
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets });
  try {
    const keys = server.runs[0].columns.keys;
    assert.deepEqual(keys, ["step", "reward"]);
    // The reported attack: a 6 kB query repeating column 0 three thousand times.
    const attack = await get(server.port, `/api/runs/0/columns?keys=${Array(3000).fill(0).join(",")}`);
    assert.equal(attack.status, 400);
    assert.equal(
      attack.body.toString(),
      `keys lists 3000 columns; at most ${MAX_KEYS_PER_REQUEST} per request\n`,
    );
    // Within the count limit, repeats are sent once: one column, and the header says which.
    const repeated = await get(
      server.port,
      `/api/runs/0/columns?keys=${Array(MAX_KEYS_PER_REQUEST).fill(1).join(",")}`,
    );
    assert.equal(repeated.status, 200);
    assert.equal(repeated.body.length, 50 * 4);
    assert.equal(repeated.headers["x-columns"], "1");
    assert.equal(repeated.headers["content-length"], String(50 * 4));
    const ordered = await get(server.port, "/api/runs/0/columns?rows=3&keys=1,0,1");
    assert.equal(ordered.headers["x-columns"], "1,0");
    assert.deepEqual(
      Array.from(
        new Float32Array(ordered.body.buffer.slice(ordered.body.byteOffset, ordered.body.byteOffset + 24)),
      ),
      [0.1, 0.2, 0.3].map(Math.fround).concat([1, 2, 3]),
    );
    const refusals: [string, RegExp][] = [
      ["keys=2", /keys: no column "2" \(this run has columns 0 to 1\)/],
      ["keys=-1", /keys: no column "-1"/],
      ["keys=1e0", /keys: no column "1e0"/],
      ["keys=0x1", /keys: no column "0x1"/],
      ["keys=0,,1", /keys: no column ""/],
      ["keys=%201", /keys: no column " 1"/],
      ["rows=-1", /rows must be an integer >= 0, got "-1"/],
      ["rows=1e3", /rows must be an integer >= 0/],
      ["rows=", /rows must be an integer >= 0/],
      ["rows=99999999999999999999", /rows must be an integer >= 0/],
      ["keys=0&keys=1", /parameter "keys" given more than once/],
      ["limit=5", /unknown parameter "limit" \(expected rows, keys\)/],
    ];
    for (const [query, message] of refusals) {
      const reply = await get(server.port, `/api/runs/0/columns?${query}`);
      assert.equal(reply.status, 400, query);
      assert.match(reply.body.toString(), message, query);
    }
    assert.equal((await get(server.port, "/api/runs/1/columns")).status, 404);
    assert.equal((await get(server.port, "/api/runs/0x0/columns")).status, 404);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a response over the size limit is refused with 413, not truncated", () => {
  const rows = Math.floor(MAX_COLUMNS_RESPONSE_BYTES / 4 / 100) + 1;
  const refused = parseColumnsQuery(new URLSearchParams("keys=0,1,2"), 100, rows * 100);
  assert.equal(refused.ok, false);
  assert.ok(!refused.ok && refused.status === 413);
  assert.match(
    !refused.ok ? refused.message : "",
    new RegExp(`over the ${MAX_COLUMNS_RESPONSE_BYTES}-byte limit per response; ask for fewer keys or rows`),
  );
  const fits = parseColumnsQuery(new URLSearchParams(`rows=${rows}&keys=0`), 100, rows * 100);
  assert.deepEqual(fits, { ok: true, rows, columns: [0] });
});

test("parallel heavy column requests neither copy the columns nor exceed the concurrency limit", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  wideRun(runDir);
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets });
  const stalled: { status: number; close: () => void }[] = [];
  try {
    const columns = server.runs[0].columns;
    const responseBytes = 4 * columns.rowCount * columns.keys.length;
    assert.ok(responseBytes > 30 * 1024 * 1024, `${responseBytes} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    // Clients that ask for everything and never read it: each would have held a 32 MiB copy.
    const attempts = MAX_CONCURRENT_COLUMN_RESPONSES + 8;
    stalled.push(
      ...(await Promise.all(
        Array.from({ length: attempts }, () => getAndStall(server.port, "/api/runs/0/columns")),
      )),
    );
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(
      grown < responseBytes / 2,
      `memory grew by ${grown} bytes for ${attempts} responses of ${responseBytes}`,
    );
    const statuses = stalled.map((s) => s.status);
    assert.equal(statuses.filter((s) => s === 200).length, MAX_CONCURRENT_COLUMN_RESPONSES);
    assert.equal(statuses.filter((s) => s === 503).length, 8);
    const busy = await get(server.port, "/api/runs/0/columns?keys=0");
    assert.equal(busy.status, 503);
    assert.equal(busy.headers["retry-after"], "1");
    assert.match(busy.body.toString(), /too many column responses at once \(limit 16\); retry shortly/);
    // Once the clients go away their slots are free again.
    for (const s of stalled) s.close();
    const deadline = Date.now() + 5000;
    let after = busy;
    while (after.status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = await get(server.port, "/api/runs/0/columns?rows=10&keys=0");
    }
    assert.equal(after.status, 200);
    assert.equal(after.body.length, 40);
  } finally {
    for (const s of stalled) s.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("event streams are limited in number; closing the server ends the open ones at once", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  mkdirSync(runDir);
  writeFileSync(join(runDir, "metrics.jsonl"), ROW(10));
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets, pollMs: 20 });
  const streams: { status: number; close: () => void }[] = [];
  try {
    for (let i = 0; i < MAX_EVENT_STREAMS; i++) streams.push(await openEventStream(server.port, 1));
    assert.ok(streams.every((s) => s.status === 200));
    const refused = await get(server.port, "/api/events");
    assert.equal(refused.status, 503);
    assert.match(refused.body.toString(), /too many event streams at once \(limit 32\)/);
    const started = Date.now();
    await within(3000, "close with 32 event streams open", server.close());
    assert.ok(Date.now() - started < 1500, `close took ${Date.now() - started} ms`);
  } finally {
    for (const s of streams) s.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** Resolves once `done()` holds, checking every 20 ms; fails after `ms`. */
async function until(ms: number, what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("an event-stream client that stops reading is disconnected past the backlog limit; a reading one is not", async () => {
  const { root, assets } = tempRoot();
  const runDir = join(root, "run");
  mkdirSync(runDir);
  const path = join(runDir, "metrics.jsonl");
  writeFileSync(path, ROW(0));
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets, pollMs: 20 });
  let stalledResponse: IncomingMessage | undefined;
  let stalledClosed = false;
  const stalled = request(
    { host: "127.0.0.1", port: server.port, path: "/api/events", agent: false },
    (res) => {
      stalledResponse = res;
      res.pause();
      res.on("close", () => {
        stalledClosed = true;
      });
    },
  );
  stalled.on("error", () => undefined);
  stalled.end();
  const reader = await openEventStream(server.port, 1);
  try {
    await until(5000, "the stalled client answered", () => stalledResponse !== undefined);
    // About 90 MiB of rows (their text travels in the `metrics` events), more than the 64 MiB
    // that may wait for one client, then one small row: the event that finds the backlog full.
    const pad = "p".repeat(1536 * 1024);
    for (let step = 1; step <= 60; step++) appendFileSync(path, `{"step":${step},"note":"${pad}"}\n`);
    const rowsRead = (): number =>
      reader.events
        .filter((e) => e.event === "metrics")
        .reduce((n, e) => n + (e.data as { rows: unknown[] }).rows.length, 0);
    await until(20_000, "the reading client gets the big rows", () => rowsRead() === 60);
    appendFileSync(path, ROW(61));
    await until(5000, "the reading client gets the last row", () => rowsRead() === 61);
    assert.equal(server.runs[0].columns.rowCount, 62);
    // The stalled client's stream was cut: reading what it had been sent reaches the end.
    stalledResponse?.resume();
    await until(10_000, "the stalled stream to end", () => stalledClosed);
  } finally {
    reader.close();
    stalled.destroy();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");

/** The CLI serves the bundled page; build it (as `npm run build` does) if this checkout has not. */
function ensurePageBuilt(): void {
  if (existsSync(join(PACKAGE_ROOT, "dist", "dashboard-web", "index.html"))) return;
  execFileSync(process.execPath, [join(PACKAGE_ROOT, "scripts", "build-dashboard.mjs"), "--no-check"], {
    stdio: "inherit",
  });
}

function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

/** Starts `wordle-grpo dashboard` and resolves with its port once it says where it listens. */
function startCli(runDir: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [CLI, "dashboard", runDir, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the dashboard did not start:\n${output}`)), 10_000);
    const take = (chunk: Buffer): void => {
      output += chunk.toString();
      const port = /open http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ child, port: Number(port), output: () => output });
      }
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`the dashboard exited:\n${output}`));
    });
  });
}

const SIGNAL_CASES = [
  { signal: "SIGTERM", fifo: "from the start" },
  { signal: "SIGTERM", fifo: "swapped in while it runs" },
  { signal: "SIGINT", fifo: "swapped in while it runs" },
] as const;

for (const { signal, fifo: when } of SIGNAL_CASES) {
  test(`${signal} stops the CLI within seconds: metrics.jsonl a FIFO ${when}, an event stream open`, async () => {
    ensurePageBuilt();
    const { root } = tempRoot();
    const runDir = join(root, "run");
    mkdirSync(runDir);
    writeFileSync(join(runDir, "config.json"), CONFIG);
    const fifo = join(runDir, "metrics.jsonl");
    if (when === "from the start") mkfifo(fifo);
    else writeFileSync(fifo, ROW(10));
    let child: ChildProcess | undefined;
    try {
      const cli = await startCli(runDir);
      child = cli.child;
      const stream = await within(5000, "event stream", openEventStream(cli.port, 1));
      const saysFifo = (event: string, data: unknown): boolean =>
        (event === "init" &&
          (data as RunInit).problems.some((p) => p.includes("not a regular file (FIFO)"))) ||
        (event === "problem" && (data as { message: string }).message.includes("not a regular file (FIFO)"));
      if (when !== "from the start") {
        assert.equal(stream.inits[0].rowCount, 1);
        unlinkSync(fifo);
        mkfifo(fifo);
      }
      // The server has met the FIFO (at start, or on a poll since) and still answers.
      await within(5000, "the FIFO reported", waitForEvent(stream, saysFifo));
      assert.equal((await within(2000, "/api/runs", get(cli.port, "/api/runs"))).status, 200);
      const exited = waitForExit(child);
      const sentAt = Date.now();
      child.kill(signal);
      const { code } = await within(5000, `exit after ${signal}`, exited);
      const tookMs = Date.now() - sentAt;
      stream.close();
      assert.equal(code, 0, cli.output());
      assert.ok(tookMs < 3000, `exited ${tookMs} ms after ${signal}`);
    } finally {
      await releaseFifoReaders(fifo);
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test("when closing hangs, the signal still ends the process after the deadline, and a second one at once", async () => {
  const script = (deadlineMs: number): string =>
    `import { stopOnSignals } from ${JSON.stringify(join(PACKAGE_ROOT, "dist", "src", "util", "stop-on-signals.js"))};
     stopOnSignals("dashboard", () => new Promise(() => {}), { deadlineMs: ${deadlineMs}, log: (m) => process.stderr.write(m + "\\n") });
     setInterval(() => {}, 1000);
     process.stdout.write("ready\\n");`;
  const run = async (
    deadlineMs: number,
    signals: number,
  ): Promise<{ signal: string | null; ms: number; err: string }> => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script(deadlineMs)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    await new Promise<void>((ok) => child.stdout.once("data", () => ok()));
    const exited = waitForExit(child);
    const sentAt = Date.now();
    for (let i = 0; i < signals; i++) {
      // Apart: two signals sent at once are delivered as one.
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGTERM");
    }
    try {
      const { signal } = await within(5000, "exit", exited);
      return { signal, ms: Date.now() - sentAt, err };
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  };
  const patient = await run(400, 1);
  assert.equal(patient.signal, "SIGTERM");
  assert.ok(patient.ms >= 350 && patient.ms < 3000, `${patient.ms} ms`);
  assert.match(patient.err, /not closed 400 ms after SIGTERM; stopping now/);
  const impatient = await run(60_000, 2);
  assert.equal(impatient.signal, "SIGTERM");
  assert.ok(impatient.ms < 2000, `${impatient.ms} ms`);
});
