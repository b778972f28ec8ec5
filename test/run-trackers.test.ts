// report_to: the config key, the csv tracker, the wandb tracker's gate, and the rule that a tracker
// never stops a run (it is dropped after one warning while RunLogs goes on).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { ConfigError, resolveConfig } from "../src/grpo/config/config.js";
import { configSchema } from "../src/grpo/config/schema.js";
import { readJsonl } from "../src/run/jsonl.js";
import { RunLogs } from "../src/run/logs.js";
import { Monitor } from "../src/run/monitor.js";
import { openRunDirectory } from "../src/run/run-dir.js";
import { CsvTracker } from "../src/run/trackers/csv.js";
import { csvPath, makeTrackers } from "../src/run/trackers/make-trackers.js";
import type { Tracker } from "../src/run/trackers/tracker.js";
import { TrackerSet } from "../src/run/trackers/tracker-set.js";
import { openWandb } from "../src/run/trackers/wandb.js";
import { smallMonitorOptions } from "./helpers/monitor-options.js";

const monitorOptions = smallMonitorOptions(40);

function withRunDir(fn: (root: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), "run-trackers-"));
    try {
      await fn(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

// ---- the config key -----------------------------------------------------------------------------

test("report_to: default none; a list, one name, comma-separated names, all, none, null", () => {
  const reportTo = (value: unknown) =>
    configSchema.parse(value === undefined ? {} : { report_to: value }).report_to;
  assert.deepEqual(reportTo(undefined), []);
  assert.deepEqual(reportTo(["tensorboard", "csv"]), ["tensorboard", "csv"]);
  assert.deepEqual(reportTo("csv"), ["csv"]);
  assert.deepEqual(reportTo("tensorboard, csv"), ["tensorboard", "csv"]);
  assert.deepEqual(reportTo("all"), ["tensorboard", "csv", "wandb"]);
  assert.deepEqual(reportTo("none"), []);
  assert.deepEqual(reportTo(["none"]), []);
  assert.deepEqual(reportTo(null), []);
  assert.deepEqual(reportTo(["csv", "csv"]), ["csv"]);
  assert.equal(configSchema.parse({}).logging_dir, null);
  // --set report_to=tensorboard,csv arrives as one string.
  assert.deepEqual(resolveConfig({ overrides: ["report_to=tensorboard,csv"] }).config.report_to, [
    "tensorboard",
    "csv",
  ]);
});

test("report_to: an unknown name is a config error listing the supported ones", () => {
  assert.throws(
    () => resolveConfig({ overrides: { report_to: ["tensorboard", "mlflow"] } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /report_to\.1: unknown tracker "mlflow": report_to takes tensorboard, csv, wandb, "all" or "none"/,
      );
      return true;
    },
  );
  assert.throws(() => resolveConfig({ overrides: ["report_to=tensorbord"] }), /Did you mean `tensorboard`\?/);
});

// ---- csv ----------------------------------------------------------------------------------------

test(
  "csv: one line per row, the header widened (file rewritten) when a key first appears",
  withRunDir(async (root) => {
    const paths = openRunDirectory(root);
    const trackers = await makeTrackers(configSchema.parse({ report_to: "csv" }), paths, () => {});
    const logs = new RunLogs(paths, new Monitor(monitorOptions), {}, trackers);
    logs.logTrain({ step: 10, reward: 0.5, kl: null, loss: Number.NaN, note: 'said "hi", twice' });
    logs.logTrain({ step: 20, reward: 0.75, kl: 0.01, loss: 1 });
    logs.logEval({ step: 20, "eval/win_rate": 0.25, "eval/games": [{ secret: "frost" }] });
    logs.logTrain({ step: 30, reward: 1, kl: 0.02, loss: 2 });
    await logs.close();

    const lines = readFileSync(csvPath(paths), "utf8").split("\n");
    assert.equal(lines.pop(), "", "ends with a newline");
    const header = lines[0]!.split(",");
    assert.equal(header[0], "step");
    assert.ok(
      header.includes("running/reward") && header.includes("criteria_met"),
      "monitor scalars are columns",
    );
    assert.ok(!header.includes("criteria") && !header.includes("eval/games"), "objects and arrays are not");
    assert.equal(header.at(-1), "eval/win_rate", "keys in order of first appearance");
    assert.equal(lines.length, 1 + 4);
    const cell = (line: number, key: string) => lines[line]!.split(",")[header.indexOf(key)];
    assert.equal(cell(1, "reward"), "0.5");
    assert.equal(cell(1, "kl"), "", "null is an empty cell");
    assert.equal(cell(1, "loss"), "", "NaN is an empty cell, as metrics.jsonl's null");
    assert.match(lines[1]!, /,"said ""hi"", twice",/);
    assert.equal(cell(2, "eval/win_rate"), "", "rows before the eval key have it empty");
    assert.equal(cell(3, "eval/win_rate"), "0.25");
    assert.equal(cell(3, "reward"), "");
    assert.equal(cell(4, "reward"), "1");
    assert.equal(cell(4, "step"), "30");
  }),
);

test(
  "csv: rebuilt from metrics.jsonl when opened, so a resume's cut-back rows leave it too",
  withRunDir((root) => {
    const paths = openRunDirectory(root);
    const first = new CsvTracker(csvPath(paths), []);
    for (const step of [10, 20, 30]) first.logMetrics({ step, reward: step / 10 });
    first.close();
    // metrics.jsonl as a resume from checkpoint-20 leaves it.
    const rows = [10, 20, 30].map((step) => ({ step, reward: step / 10 }));
    const resumed = new CsvTracker(
      csvPath(paths),
      rows.filter((r) => r.step <= 20),
    );
    resumed.logMetrics({ step: 30, reward: 3.5 });
    resumed.close();
    assert.equal(readFileSync(csvPath(paths), "utf8"), "step,reward\n10,1\n20,2\n30,3.5\n");
    // A restarted run (metrics.jsonl removed) starts the csv afresh.
    new CsvTracker(csvPath(paths), []).close();
    assert.equal(existsSync(csvPath(paths)), false);
  }),
);

// ---- failures never stop the run ---------------------------------------------------------------

test(
  "a tracker that throws is dropped after one warning; RunLogs and the other trackers go on",
  withRunDir(async (root) => {
    const paths = openRunDirectory(root);
    let calls = 0;
    let closed = 0;
    const throwing: Tracker = {
      name: "broken",
      logMetrics() {
        calls++;
        throw new Error("disk on fire");
      },
      close() {
        closed++;
      },
    };
    const rejecting: Tracker = {
      name: "remote",
      logMetrics: () => Promise.reject(new Error("503 from the server")),
      close: () => Promise.resolve(),
    };
    const csv = new CsvTracker(csvPath(paths), []);
    const warnings: string[] = [];
    const logs = new RunLogs(
      paths,
      new Monitor(monitorOptions),
      {},
      new TrackerSet([throwing, rejecting, csv], (m) => warnings.push(m)),
    );
    for (const step of [10, 20, 30]) logs.logTrain({ step, reward: step / 10 });
    await new Promise((resolve) => setImmediate(resolve)); // let the rejection arrive
    logs.logEval({ step: 30, "eval/win_rate": 0.5 });
    logs.flush();
    await logs.close();

    assert.equal(calls, 1, "not called again after its failure");
    assert.equal(closed, 1, "closed once, when dropped");
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /^report_to broken: disk on fire; broken is off for the rest of this run \(training goes on/,
    );
    assert.match(warnings[1]!, /^report_to remote: 503 from the server; remote is off/);
    assert.deepEqual(
      readJsonl(paths.metrics).rows.map((r) => r.step),
      [10, 20, 30, 30],
    );
    assert.equal(readFileSync(csvPath(paths), "utf8").split("\n").length - 1, 1 + 4);
  }),
);

test("closing waits for asynchronous trackers, but not forever", async () => {
  const warnings: string[] = [];
  let finished = false;
  const slow: Tracker = {
    name: "slow",
    logMetrics() {},
    close: () =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          finished = true;
          resolve();
        }, 10),
      ),
  };
  const stuck: Tracker = { name: "stuck", logMetrics() {}, close: () => new Promise<void>(() => {}) };
  await new TrackerSet([slow, stuck], (m) => warnings.push(m), 50).close();
  assert.equal(finished, true);
  assert.deepEqual(warnings, ["report_to stuck: still closing after 0.05 s; not waiting longer"]);
});

test(
  "a tracker that cannot start is reported and left out",
  withRunDir(async (root) => {
    const paths = openRunDirectory(root);
    const warnings: string[] = [];
    // logging_dir under a file: the folder cannot be created.
    writeFileSync(join(root, "a-file"), "");
    const config = configSchema.parse({
      report_to: ["tensorboard", "csv"],
      logging_dir: join(root, "a-file", "tb"),
    });
    const trackers = await makeTrackers(config, paths, (m) => warnings.push(m));
    assert.deepEqual(trackers.names, ["csv"]);
    assert.match(warnings[0]!, /^report_to tensorboard: cannot start \(.*\); the run goes on without it$/);
  }),
);

// ---- wandb --------------------------------------------------------------------------------------

test(
  "wandb without @wandb/sdk installed: one message saying how to enable it or sync TensorBoard files",
  withRunDir(async (root) => {
    const paths = openRunDirectory(root);
    const warnings: string[] = [];
    const trackers = await makeTrackers(configSchema.parse({ report_to: ["wandb"] }), paths, (m) =>
      warnings.push(m),
    );
    assert.deepEqual(trackers.names, []);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /report_to wandb: not logging to W&B, the optional package @wandb\/sdk is not installed:/,
    );
    assert.match(warnings[0]!, /`npm install @wandb\/sdk`.*WANDB_API_KEY/);
    assert.ok(warnings[0]!.includes(`\`wandb sync ${join(paths.root, "runs")}\``), warnings[0]);
    // With tensorboard on as well ("all"), the hint points at the files being written.
    const withTensorBoard: string[] = [];
    const all = await makeTrackers(configSchema.parse({ report_to: "all" }), paths, (m) =>
      withTensorBoard.push(m),
    );
    assert.deepEqual(all.names, ["tensorboard", "csv"]);
    assert.match(withTensorBoard[0]!, /The TensorBoard files can be uploaded with `wandb sync .*runs`\.$/);
    await all.close();
  }),
);

// Stand-ins for the package (its interface: default.init -> run.log / run.finish), loaded by the
// tracker's worker thread as the real one would be: one that records what it is given, and one that
// throws from a timer after init, as @wandb/sdk 0.5.1 does when api.wandb.ai cannot be reached.
const RECORDING_SDK = `
import { appendFileSync } from "node:fs";
const note = (entry) => appendFileSync(process.env.FAKE_WANDB_LOG, JSON.stringify(entry) + "\\n");
export default {
  async init(options) {
    note({ init: options });
    process.on("SIGINT", () => process.exit(3)); // the real SDK's handler: must not reach the trainer
    return { log: (data) => note({ log: data }), finish: async () => note({ finish: true }) };
  },
};
`;
const FAILING_SDK = `
export default {
  async init() {
    setTimeout(() => { throw new Error("Unable to determine default entity"); }, 0);
    return { log() {}, async finish() {} };
  },
};
`;

function sdkFile(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return pathToFileURL(file).href;
}

test(
  "wandb: needs WANDB_API_KEY; WANDB_MODE=offline and disabled are answered with the sync path; logs numbers with train/global_step and finishes on close",
  withRunDir(async (root) => {
    const log = join(root, "wandb.jsonl");
    const options = {
      runName: "my-run",
      config: { seed: 1 },
      tensorboardDir: "/r/runs",
      tensorboardOn: true,
      sdk: sdkFile(root, "recording-sdk.mjs", RECORDING_SDK),
    };
    const warnings: string[] = [];
    const open = (env: NodeJS.ProcessEnv) => openWandb({ ...options, env }, (m) => warnings.push(m));
    assert.equal(await open({ FAKE_WANDB_LOG: log }), null);
    assert.equal(await open({ FAKE_WANDB_LOG: log, WANDB_MODE: "disabled", WANDB_API_KEY: "k" }), null);
    assert.equal(await open({ FAKE_WANDB_LOG: log, WANDB_MODE: "offline", WANDB_API_KEY: "k" }), null);
    assert.match(
      warnings[0]!,
      /WANDB_API_KEY is not set\. The TensorBoard files can be uploaded with `wandb sync \/r\/runs`/,
    );
    assert.match(warnings[1]!, /WANDB_MODE=disabled/);
    assert.match(
      warnings[2]!,
      /WANDB_MODE=offline: @wandb\/sdk has no offline mode .*`wandb sync \/r\/runs`/,
    );
    assert.equal(existsSync(log), false, "the SDK was not started");

    const tracker = await open({ FAKE_WANDB_LOG: log, WANDB_API_KEY: "k", WANDB_PROJECT: "p" });
    assert.ok(tracker !== null);
    await tracker.logMetrics({ step: 10, reward: 0.5, kl: null, criteria: [] });
    await tracker.logMetrics({ step: 10, "eval/win_rate": 0.25 });
    await tracker.close();
    assert.deepEqual(readJsonl(log).rows, [
      { init: { project: "p", name: "my-run", config: { seed: 1 } } },
      { log: { reward: 0.5, "train/global_step": 10 } },
      { log: { "eval/win_rate": 0.25, "train/global_step": 10 } },
      { finish: true },
    ]);
    assert.equal(warnings.length, 3);
  }),
);

test(
  "wandb: an SDK that throws asynchronously ends its worker, not the run; the tracker is dropped with one warning",
  withRunDir(async (root) => {
    const paths = openRunDirectory(root);
    const warnings: string[] = [];
    const tracker = await openWandb(
      {
        runName: "r",
        config: {},
        tensorboardDir: join(root, "runs"),
        tensorboardOn: false,
        sdk: sdkFile(root, "failing-sdk.mjs", FAILING_SDK),
        env: { WANDB_API_KEY: "k" },
      },
      (m) => warnings.push(m),
    );
    assert.ok(tracker !== null);
    const logs = new RunLogs(
      paths,
      new Monitor(monitorOptions),
      {},
      new TrackerSet([tracker], (m) => warnings.push(m)),
    );
    logs.logTrain({ step: 10, reward: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the SDK's timer throws meanwhile
    logs.logTrain({ step: 20, reward: 2 });
    logs.logTrain({ step: 30, reward: 3 });
    await logs.close();
    assert.deepEqual(
      readJsonl(paths.metrics).rows.map((r) => r.step),
      [10, 20, 30],
    );
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /^report_to wandb: @wandb\/sdk: Unable to determine default entity; wandb is off/,
    );
  }),
);
