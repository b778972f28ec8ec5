import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { PACKAGE_ROOT } from "../paths.js";
import { loopbackHostNames } from "../util/listen-host.js";
import { parseColumnsQuery } from "./columns-query.js";
import {
  CLOSE_WAIT_FOR_POLL_MS,
  MAX_CONCURRENT_COLUMN_RESPONSES,
  MAX_CONCURRENT_FILE_RESPONSES,
  MAX_EVENT_STREAM_BACKLOG_BYTES,
  MAX_EVENT_STREAMS,
} from "./limits.js";
import { notRegularReason, openRegularFile } from "./regular-file.js";
import { RequestSlots } from "./request-slots.js";
import { RunState, type RunUpdate } from "./run-state.js";
import { resolveFileInside, splitRawPath } from "./safe-path.js";
import { EVENTS } from "./shared/protocol.js";

export interface DashboardOptions {
  /** Run directories to follow; they need not contain any files yet. */
  runDirs: string[];
  /** Interface to bind. Default 127.0.0.1: the dashboard is for the local user only. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8787. */
  port?: number;
  /** Folder with the bundled page (index.html, app.js, app.css). Default dist/dashboard-web. */
  assetsDir?: string;
  /** How often to look for appended rows, in milliseconds. Default 250. */
  pollMs?: number;
}

export interface DashboardServer {
  url: string;
  port: number;
  runs: RunState[];
  close(): Promise<void>;
}

export const DEFAULT_ASSETS_DIR = join(PACKAGE_ROOT, "dist", "dashboard-web");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "application/x-ndjson; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

/**
 * Loads the bundled page into memory. Only these exact file names are ever served as assets,
 * so no request path reaches the file system through this route.
 */
function loadAssets(dir: string): Map<string, Buffer> {
  if (!existsSync(join(dir, "index.html"))) {
    throw new Error(
      `dashboard page not built: ${join(dir, "index.html")} is missing; run \`npm run build\` ` +
        "(or `node scripts/build-dashboard.mjs`)",
    );
  }
  const assets = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!/^[\w.-]+$/.test(name) || !CONTENT_TYPES[extname(name)] || !statSync(path).isFile()) continue;
    assets.set(name, readFileSync(path));
  }
  return assets;
}

/**
 * Starts the dashboard: reads every run directory once, then serves the page and pushes new rows
 * over server-sent events as the run files grow.
 */
export async function startDashboard(options: DashboardOptions): Promise<DashboardServer> {
  if (options.runDirs.length === 0) throw new Error("dashboard: give at least one run directory");
  const host = options.host ?? "127.0.0.1";
  const pollMs = options.pollMs ?? 250;
  const assets = loadAssets(options.assetsDir ?? DEFAULT_ASSETS_DIR);
  const runs = options.runDirs.map((dir, id) => new RunState(id, resolve(dir)));
  const clients = new Set<ServerResponse>();
  // Bound to loopback: requests for other Host names are refused (DNS rebinding).
  const allowedHosts = loopbackHostNames(host);

  // Expensive responses share a few slots each, so parallel requests cannot multiply what they hold.
  const columnSlots = new RequestSlots("column responses", MAX_CONCURRENT_COLUMN_RESPONSES);
  const fileSlots = new RequestSlots("run-file downloads", MAX_CONCURRENT_FILE_RESPONSES);
  const streamSlots = new RequestSlots("event streams", MAX_EVENT_STREAMS);

  let polling: Promise<void> = Promise.resolve();
  // Aborted by close(): a poll in progress stops at its next chunk.
  const stopPolling = new AbortController();
  /** Polls every run once; true when some file had more than its per-poll byte budget. */
  const pollAll = async (): Promise<boolean> => {
    let more = false;
    for (const run of runs) {
      if (stopPolling.signal.aborted) return false;
      let update: RunUpdate;
      try {
        update = await run.poll(stopPolling.signal);
      } catch (err) {
        // E.g. a permission error on one run's files: report it on that run, keep following the others.
        const message = `${run.dir}: ${(err as Error).message}`;
        // Polls repeat 4 times a second: report a persisting error once.
        if (run.problems.at(-1) !== message) {
          run.problems.push(message);
          sendToAll(EVENTS.problem, { runId: run.info.id, message });
          // Part of the poll may have landed before the error: resend the whole run so no row is lost.
          sendToAll(EVENTS.init, run.init());
        }
        continue;
      }
      if (update.more) more = true;
      // A new run_name can change labels of other runs too (clashes); tell the page about each.
      const relabelled = update.config !== undefined ? assignLabels(runs).filter((r) => r !== run) : [];
      broadcast(run, update);
      for (const other of relabelled)
        sendToAll(EVENTS.config, { runId: other.info.id, config: other.config, run: other.info });
    }
    return more;
  };

  const send = (res: ServerResponse, event: string, data: unknown): void => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const sendToAll = (event: string, data: unknown): void => {
    if (clients.size === 0) return;
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) writeToStream(res, text);
  };
  /**
   * Writes to one event stream. A client that stops reading would have every later event queued
   * for it in memory; one that still has more than MAX_EVENT_STREAM_BACKLOG_BYTES waiting when
   * the next event comes is disconnected instead (a browser's EventSource reconnects and gets a
   * fresh `init`). Checked before writing, so one big event alone never cuts off a client that
   * keeps up.
   */
  const writeToStream = (res: ServerResponse, text: string): void => {
    if (res.writableLength > MAX_EVENT_STREAM_BACKLOG_BYTES) {
      clients.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  };

  function broadcast(run: RunState, update: RunUpdate): void {
    const runId = run.info.id;
    if (update.reset) {
      sendToAll(EVENTS.init, run.init());
      return;
    }
    if (update.config !== undefined)
      sendToAll(EVENTS.config, { runId, config: update.config, run: run.info });
    if (update.metrics) sendToAll(EVENTS.metrics, { runId, ...update.metrics });
    if (update.evalRows) sendToAll(EVENTS.evalRows, { runId, rows: update.evalRows });
    if (update.samples) sendToAll(EVENTS.samples, { runId, rows: update.samples });
    if (update.games) sendToAll(EVENTS.games, { runId, rows: update.games });
    for (const message of update.problems) sendToAll(EVENTS.problem, { runId, message });
  }

  // Read what is already there before accepting requests, so the first page load is complete
  // (a big file takes several polls: each reads at most MAX_BYTES_PER_POLL of it).
  let more = await pollAll();
  while (more) more = await pollAll();
  assignLabels(runs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => {
      // A file with more to read is polled again at once (after pending requests), not in pollMs.
      polling = pollAll().then((more) => {
        if (!stopped) schedule(more ? 0 : pollMs);
      });
    }, delayMs);
  };
  schedule(pollMs);
  const heartbeat = setInterval(() => {
    for (const res of clients) writeToStream(res, ": keep-alive\n\n");
  }, 15_000);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, "method not allowed");
    if (allowedHosts) {
      const hostName = (req.headers.host ?? "").replace(/:\d+$/, "");
      if (!allowedHosts.has(hostName)) return reply(res, 403, "forbidden host");
    }
    const rawUrl = req.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? "" : rawUrl.slice(queryAt + 1));
    if (!rawPath.startsWith("/")) return reply(res, 400, "bad request");
    if (rawPath === "/") return serveAsset(res, "index.html");

    const split = splitRawPath(rawPath.slice(1));
    if (!split.ok) return reply(res, split.refusal === "bad-request" ? 400 : 403, split.refusal);
    const [head, ...rest] = split.segments;

    if (head === "assets" && rest.length === 1) return serveAsset(res, rest[0]);
    if (head === "api" && rest.length === 1 && rest[0] === "runs") {
      return replyJson(
        res,
        runs.map((r) => r.info),
      );
    }
    if (head === "api" && rest.length === 1 && rest[0] === "events") return openEvents(res);
    if (head === "api" && rest.length === 3 && rest[0] === "runs" && rest[2] === "columns") {
      const run = /^\d+$/.test(rest[1]) ? runs[Number(rest[1])] : undefined;
      if (!run) return reply(res, 404, "no such run");
      return serveColumns(run, query, res);
    }
    if (head === "runs" && rest.length >= 2) {
      const run = /^\d+$/.test(rest[0]) ? runs[Number(rest[0])] : undefined;
      if (!run) return reply(res, 404, "no such run");
      return serveRunFile(run, rest.slice(1), res);
    }
    reply(res, 404, "not found");
  }

  /**
   * `?rows=N&keys=0,3,7`: the first N rows of those columns (indices into init's `keys`) as
   * float32, column after column; the page asks only for what it draws, which keeps a
   * 100,000-row load small. The body is written from views of the stored columns (no copy).
   */
  function serveColumns(run: RunState, query: URLSearchParams, res: ServerResponse): void {
    const request = parseColumnsQuery(query, run.columns.keys.length, run.columns.rowCount);
    if (!request.ok) {
      reply(res, request.status, request.message);
      return;
    }
    const release = columnSlots.take();
    if (!release) {
      replyBusy(res, columnSlots);
      return;
    }
    res.on("close", release);
    const buffers = run.columns.columnBuffers(request.rows, request.columns);
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": 4 * request.rows * request.columns.length,
      "cache-control": "no-store",
      // Duplicate indices were dropped: this says which columns the body holds, in order.
      "x-columns": request.columns.join(","),
    });
    for (const buffer of buffers) res.write(buffer);
    res.end();
  }

  /** A file inside the run directory, streamed; only regular files are opened. */
  async function serveRunFile(run: RunState, segments: string[], res: ServerResponse): Promise<void> {
    const found = await resolveFileInside(run.dir, segments);
    if (!found.ok) return reply(res, found.refusal === "forbidden" ? 403 : 404, found.refusal);
    const release = fileSlots.take();
    if (!release) return replyBusy(res, fileSlots);
    res.on("close", release);
    const opened = await openRegularFile(found.path).catch(() => null);
    if (opened === null || opened.kind === "missing") return reply(res, 404, "not-found");
    if (opened.kind === "not-regular") {
      return reply(res, 403, `${segments.join("/")}: ${notRegularReason(opened.what, "not served")}`);
    }
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(found.path)] ?? "application/octet-stream",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    // pipeline closes the file when the client goes away mid-download; that is not an error here.
    await pipeline(opened.handle.createReadStream(), res).catch(() => undefined);
  }

  function serveAsset(res: ServerResponse, name: string): void {
    const body = assets.get(name);
    if (!body) {
      reply(res, 404, "not found");
      return;
    }
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(name)] ?? "application/octet-stream",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    });
    res.end(body);
  }

  async function openEvents(res: ServerResponse): Promise<void> {
    const release = streamSlots.take();
    if (!release) return replyBusy(res, streamSlots);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write("retry: 1000\n\n");
    let closed = false;
    res.on("close", () => {
      closed = true;
      clients.delete(res);
      release();
    });
    // Wait for a poll in progress to finish, so `init` and the following appends never overlap.
    await polling;
    if (closed || stopped) return;
    for (const run of runs) send(res, EVENTS.init, run.init());
    clients.add(res);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, `internal error: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(heartbeat);
      if (err.code === "EADDRINUSE") {
        fail(new Error(`port ${options.port ?? 8787} on ${host} is in use; pick another with --port`));
      } else fail(err);
    };
    server.once("error", failed);
    server.listen(options.port ?? 8787, host, () => {
      server.off("error", failed);
      ok();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(heartbeat);
    stopPolling.abort();
    const closed = new Promise<void>((ok) => server.close(() => ok()));
    for (const res of clients) res.end();
    clients.clear();
    // A poll in progress stops at its next chunk; even a file system that hangs does not keep
    // the server open past CLOSE_WAIT_FOR_POLL_MS.
    await Promise.race([
      polling.catch(() => undefined),
      sleep(CLOSE_WAIT_FOR_POLL_MS, undefined, { ref: false }),
    ]);
    // Event streams, downloads and keep-alive sockets would each hold server.close() open.
    server.closeAllConnections();
    await closed;
  };

  return {
    url: `http://${urlHost}:${port}/`,
    port,
    runs,
    close() {
      closing ??= close();
      return closing;
    },
  };
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(`${message}\n`);
}

function replyBusy(res: ServerResponse, slots: RequestSlots): void {
  res.writeHead(503, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "retry-after": "1",
  });
  res.end(`${slots.busyMessage()}\n`);
}

function replyJson(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(value));
}

/**
 * Sets each run's label: its base label (run_name or folder), with the folder name added when two
 * runs share a name, and the parent folder too when even that is the same. Returns the runs whose
 * label changed.
 */
function assignLabels(runs: RunState[]): RunState[] {
  const before = runs.map((r) => r.info.label);
  for (const r of runs) r.info.label = r.baseLabel;
  const clashes = (label: string): boolean => runs.filter((r) => r.info.label === label).length > 1;
  const parts = (dir: string): string[] => dir.split(/[\\/]/).filter(Boolean);
  for (const r of runs.filter((x) => clashes(x.info.label))) {
    const folder = parts(r.dir).at(-1) ?? r.dir;
    r.info.label = folder === r.info.label ? folder : `${r.info.label} (${folder})`;
  }
  for (const r of runs.filter((x) => clashes(x.info.label))) r.info.label = parts(r.dir).slice(-2).join("/");
  return runs.filter((r, i) => r.info.label !== before[i]);
}
