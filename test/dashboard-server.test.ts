import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DemoRun } from "../src/dashboard/demo-run.js";
import { type DashboardServer, startDashboard } from "../src/dashboard/server.js";
import type { MetricsAppend, RunInit } from "../src/dashboard/shared/protocol.js";

interface Fixture {
  root: string;
  runDir: string;
  demo: DemoRun;
  server: DashboardServer;
  cleanup: () => Promise<void>;
}

/**
 * A run directory next to a "secret" file it must never serve, plus a minimal stand-in for the
 * bundled page (the real bundle is exercised by the browser test).
 */
async function fixture(): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), "dashboard-server-"));
  writeFileSync(join(root, "secret.txt"), "TOP-SECRET\n");
  const assets = join(root, "assets");
  mkdirSync(assets);
  writeFileSync(join(assets, "index.html"), "<!doctype html><title>dashboard</title>");
  writeFileSync(join(assets, "app.js"), "console.log('app');");
  const runDir = join(root, "run-a");
  const demo = new DemoRun(runDir, { maxSteps: 400, loggingSteps: 10, evalSteps: 50, gamesPerEval: 3 });
  demo.writeConfig();
  await demo.appendSteps(12);
  symlinkSync(join(root, "secret.txt"), join(runDir, "escape.txt"));
  symlinkSync(join(runDir, "config.json"), join(runDir, "inside-link.json"));
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets, pollMs: 50 });
  return {
    root,
    runDir,
    demo,
    server,
    cleanup: async () => {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** GET with the path sent byte for byte (fetch() would normalise `..` away before sending). */
function rawGet(
  port: number,
  path: string,
  host = `127.0.0.1:${port}`,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET", headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("binds to 127.0.0.1 by default and serves the page and run files", async () => {
  const f = await fixture();
  try {
    assert.match(f.server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await rawGet(f.server.port, "/");
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<title>dashboard<\/title>/);
    assert.equal((await rawGet(f.server.port, "/assets/app.js")).status, 200);
    const config = await rawGet(f.server.port, "/runs/0/config.json");
    assert.equal(config.status, 200);
    assert.equal(JSON.parse(config.body.toString()).max_steps, 400);
    // A symlink that stays inside the run directory is fine.
    assert.equal((await rawGet(f.server.port, "/runs/0/inside-link.json")).status, 200);
    const runs = JSON.parse((await rawGet(f.server.port, "/api/runs")).body.toString());
    assert.deepEqual(runs, [{ id: 0, label: "demo", dir: f.runDir }]);
  } finally {
    await f.cleanup();
  }
});

test("nothing outside the run directories or the bundled assets is served (path traversal)", async () => {
  const f = await fixture();
  try {
    const attempts = [
      "/runs/0/../secret.txt",
      "/runs/0/../../../../etc/passwd",
      "/runs/0/%2e%2e/secret.txt",
      "/runs/0/%2E%2E/secret.txt",
      "/runs/0/..%2fsecret.txt",
      "/runs/0/%2e%2e%2fsecret.txt",
      "/runs/0/..%5csecret.txt",
      "/runs/0//etc/passwd",
      "/runs/0/%2fetc%2fpasswd",
      `/runs/0/${encodeURIComponent(join(f.root, "secret.txt"))}`,
      "/runs/0/escape.txt",
      "/runs/1/config.json",
      "/runs/-1/config.json",
      "/assets/../secret.txt",
      "/assets/%2e%2e/secret.txt",
      "/assets/..%2f..%2fpackage.json",
      "//etc/passwd",
      "/../secret.txt",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/runs/0/config.json%00.txt",
      "/runs/0/%E0%A4%A",
    ];
    for (const path of attempts) {
      const { status, body } = await rawGet(f.server.port, path);
      assert.ok([400, 403, 404].includes(status), `${path} answered ${status}`);
      assert.doesNotMatch(body.toString(), /TOP-SECRET|root:/, `${path} leaked a file`);
    }
    // The symlink pointing out of the run directory is refused as forbidden, not just missing.
    assert.equal((await rawGet(f.server.port, "/runs/0/escape.txt")).status, 403);
    assert.equal((await rawGet(f.server.port, "/runs/0/%2e%2e/secret.txt")).status, 403);
  } finally {
    await f.cleanup();
  }
});

test("requests naming another host are refused (no DNS rebinding onto the runs)", async () => {
  const f = await fixture();
  try {
    assert.equal((await rawGet(f.server.port, "/api/runs", "evil.example:80")).status, 403);
    assert.equal((await rawGet(f.server.port, "/api/runs", `localhost:${f.server.port}`)).status, 200);
  } finally {
    await f.cleanup();
  }
});

test("the columns endpoint returns the requested training-row columns as float32, in request order", async () => {
  const f = await fixture();
  try {
    const run = f.server.runs[0];
    const keys = run.columns.keys;
    const n = run.columns.rowCount;
    assert.equal(n, 12);
    const step = keys.indexOf("step");
    const reward = keys.indexOf("reward");
    const { status, body } = await rawGet(
      f.server.port,
      `/api/runs/0/columns?rows=${n}&keys=${reward},${step}`,
    );
    assert.equal(status, 200);
    const values = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
    assert.equal(values.length, 2 * n);
    assert.deepEqual(
      Array.from(values.subarray(n)),
      Array.from({ length: 12 }, (_, i) => 10 * (i + 1)),
    );
    const rewards = readFileSync(join(f.runDir, "metrics.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => !("eval/win_rate" in r))
      .map((r) => Math.fround(r.reward));
    assert.deepEqual(Array.from(values.subarray(0, n)), rewards);
    // Fewer rows than stored: exactly that many (the page asks for init's count).
    const first5 = await rawGet(f.server.port, `/api/runs/0/columns?rows=5&keys=${step}`);
    assert.equal(first5.body.length, 5 * 4);
    assert.equal((await rawGet(f.server.port, `/api/runs/0/columns?rows=5&keys=${keys.length}`)).status, 400);
    // Eval rows are not training rows: they never enter the columns.
    assert.ok(!keys.some((k) => k.startsWith("eval/")));
  } finally {
    await f.cleanup();
  }
});

/** Reads server-sent events until `until` returns true for one of them. */
function readEvents(
  port: number,
  until: (event: string, data: unknown) => boolean,
  onOpen: () => Promise<void>,
): Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const seen: { event: string; data: unknown }[] = [];
    const req = request({ host: "127.0.0.1", port, path: "/api/events" }, (res) => {
      assert.match(String(res.headers["content-type"]), /text\/event-stream/);
      let buffer = "";
      let opened = false;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!event || data === undefined) continue;
          const parsed = JSON.parse(data);
          seen.push({ event, data: parsed });
          if (event === "init" && !opened) {
            opened = true;
            onOpen().catch(reject);
          }
          if (until(event, parsed)) {
            req.destroy();
            resolve(seen);
            return;
          }
        }
      });
    });
    req.on("error", (err) => {
      if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") reject(err);
    });
    req.setTimeout(10_000, () => reject(new Error(`timed out; saw ${seen.map((s) => s.event).join(", ")}`)));
    req.end();
  });
}

test("the event stream starts with init and then pushes appended rows, samples, games and problems", async () => {
  const f = await fixture();
  try {
    const events = await readEvents(
      f.server.port,
      (event, data) => event === "problem" && /line \d+/.test((data as { message: string }).message),
      async () => {
        // Lines 15-18: steps 130..150 and the eval row at 150 (lines 1-14: 12 steps, evals at 50 and 100).
        await f.demo.appendSteps(3);
        appendFileSync(join(f.runDir, "metrics.jsonl"), '{"step": "soon"}\n');
      },
    );
    const init = events[0].data as RunInit;
    assert.equal(events[0].event, "init");
    assert.equal(init.rowCount, 12);
    assert.equal(init.latest?.step, 120);
    assert.ok(init.evalRows.length >= 2 && init.samples.length > 0 && init.games.length > 0);
    const appended = events.filter((e) => e.event === "metrics").map((e) => e.data as MetricsAppend);
    assert.deepEqual(
      appended.flatMap((a) => a.rows.map((r) => r.step)),
      [130, 140, 150],
    );
    assert.equal(appended[0].start, 12);
    assert.ok(events.some((e) => e.event === "eval"));
    assert.ok(events.some((e) => e.event === "samples"));
    assert.ok(events.some((e) => e.event === "games"));
    const problem = events.at(-1)?.data as { message: string };
    assert.match(problem.message, /metrics\.jsonl line 19: expected "step" to be a number/);
  } finally {
    await f.cleanup();
  }
});

test("a run directory that does not exist yet is followed once the trainer creates it", async () => {
  const root = mkdtempSync(join(tmpdir(), "dashboard-server-"));
  const assets = join(root, "assets");
  mkdirSync(assets);
  writeFileSync(join(assets, "index.html"), "<!doctype html>");
  const runDir = join(root, "later");
  const server = await startDashboard({ runDirs: [runDir], port: 0, assetsDir: assets, pollMs: 50 });
  try {
    assert.equal(server.runs[0].columns.rowCount, 0);
    const demo = new DemoRun(runDir, { maxSteps: 100 });
    demo.writeConfig();
    await demo.appendSteps(2);
    const deadline = Date.now() + 5_000;
    while (server.runs[0].columns.rowCount < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.runs[0].columns.rowCount, 2);
    assert.equal(server.runs[0].config?.max_steps, 100);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("starting without run directories or without a built page fails with a clear message", async () => {
  await assert.rejects(startDashboard({ runDirs: [] }), /at least one run directory/);
  await assert.rejects(
    startDashboard({ runDirs: [tmpdir()], assetsDir: join(tmpdir(), "no-such-assets-dir"), port: 0 }),
    /dashboard page not built: .*index\.html is missing; run `npm run build`/,
  );
});

test("runs sharing a run_name are told apart by their folder names", async () => {
  const root = mkdtempSync(join(tmpdir(), "dashboard-server-"));
  const assets = join(root, "assets");
  mkdirSync(assets);
  writeFileSync(join(assets, "index.html"), "<!doctype html>");
  const dirs = ["seed-1", "seed-2", "solo"].map((name) => join(root, name));
  new DemoRun(dirs[0], { runName: "demo" }).writeConfig();
  new DemoRun(dirs[1], { runName: "demo" }).writeConfig();
  new DemoRun(dirs[2], { runName: "baseline" }).writeConfig();
  const server = await startDashboard({ runDirs: dirs, port: 0, assetsDir: assets });
  try {
    assert.deepEqual(
      server.runs.map((r) => r.info.label),
      ["demo (seed-1)", "demo (seed-2)", "baseline"],
    );
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
