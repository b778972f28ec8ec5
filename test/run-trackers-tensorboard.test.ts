// report_to tensorboard: the event file is read back independently of the writer: TFRecord framing
// with a bitwise masked CRC-32C written here, the Event / Summary / TensorProto protobufs decoded by
// protobufjs from TensorBoard's schema, and with TensorBoard itself when Python has it installed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import protobuf from "protobufjs";
import { configSchema } from "../src/grpo/config/schema.js";
import { train } from "../src/grpo/trainer.js";
import { readJsonl } from "../src/run/jsonl.js";
import { RunLogs, type SampleRow } from "../src/run/logs.js";
import { Monitor } from "../src/run/monitor.js";
import { openRunDirectory } from "../src/run/run-dir.js";
import { crc32c, maskedCrc32c } from "../src/run/trackers/crc32c.js";
import { makeTrackers } from "../src/run/trackers/make-trackers.js";
import { SAMPLES_SHOWN } from "../src/run/trackers/markdown.js";
import { parseCsv } from "../src/task/csv.js";
import { letterRewards, makeTinyModel, tinyConfig } from "./grpo-trainer-fixture.js";
import { smallMonitorOptions } from "./helpers/monitor-options.js";

// ---- a reader for the format ------------------------------------------------------------------

/** CRC-32C bit by bit (no table), so the check does not share the writer's table code. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function unmask(masked: number): number {
  const rotated = (masked - 0xa282ead8) >>> 0;
  return ((rotated >>> 17) | (rotated << 15)) >>> 0;
}

/** Split a TFRecord file into its records, checking both CRCs of each. */
function readRecords(file: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  while (at < file.length) {
    const length = Number(file.readBigUInt64LE(at));
    assert.equal(
      unmask(file.readUInt32LE(at + 8)),
      crc32cBitwise(file.subarray(at, at + 8)),
      `length CRC at ${at}`,
    );
    const data = file.subarray(at + 12, at + 12 + length);
    assert.equal(data.length, length, `record at ${at} is cut short`);
    assert.equal(unmask(file.readUInt32LE(at + 12 + length)), crc32cBitwise(data), `data CRC at ${at}`);
    records.push(data);
    at += 12 + length + 4;
  }
  return records;
}

/** TensorBoard's Event schema (test/fixtures/tensorboard/event.proto), decoded with protobufjs. */
const EventMessage = protobuf
  .loadSync(join(import.meta.dirname, "../../test/fixtures/tensorboard/event.proto"))
  .lookupType("tensorboard.Event");

interface DecodedValue {
  tag: string;
  simple?: number;
  plugin?: string;
  dataClass?: string;
  dtype?: string;
  shapeDims?: number;
  strings?: string[];
}
interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: DecodedValue[];
}

interface EventObject {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  summary?: {
    value?: Array<{
      tag: string;
      simpleValue?: number;
      metadata?: { pluginData?: { pluginName: string }; dataClass?: string };
      tensor?: { dtype: string; tensorShape?: { dim?: unknown[] }; stringVal?: Buffer[] };
    }>;
  };
}

function decodeEvent(record: Buffer): DecodedEvent {
  const event = EventMessage.toObject(EventMessage.decode(record), {
    longs: Number,
    enums: String,
    oneofs: true,
  }) as EventObject;
  assert.equal(typeof event.wallTime, "number", "wall_time is a double");
  return {
    wallTime: event.wallTime,
    step: event.step ?? 0,
    ...(event.fileVersion !== undefined ? { fileVersion: event.fileVersion } : {}),
    values: (event.summary?.value ?? []).map((v) => ({
      tag: v.tag,
      ...(v.simpleValue !== undefined ? { simple: v.simpleValue } : {}),
      ...(v.metadata?.pluginData ? { plugin: v.metadata.pluginData.pluginName } : {}),
      ...(v.metadata?.dataClass !== undefined ? { dataClass: v.metadata.dataClass } : {}),
      ...(v.tensor
        ? {
            dtype: v.tensor.dtype,
            shapeDims: v.tensor.tensorShape?.dim?.length ?? 0,
            strings: (v.tensor.stringVal ?? []).map((b) => Buffer.from(b).toString("utf8")),
          }
        : {}),
    })),
  };
}

/** Every scalar of an event file as tag -> [[step, value], ...], in file order. */
function scalarsOf(events: DecodedEvent[]): Map<string, Array<[number, number]>> {
  const scalars = new Map<string, Array<[number, number]>>();
  for (const e of events)
    for (const v of e.values)
      if (v.simple !== undefined) scalars.set(v.tag, [...(scalars.get(v.tag) ?? []), [e.step, v.simple]]);
  return scalars;
}

// ---- a small run ------------------------------------------------------------------------------

const monitorOptions = smallMonitorOptions(20);

const sample = (step: number, i: number): SampleRow => ({
  step,
  prompt_id: `p${step}`,
  secret: "frost",
  history: [{ word: "crane", feedback: "apaaa" }],
  completion: `<think>r | o ${i}</think>\n<guess>ROAST</guess>`,
  guess: "roast",
  reward: 1.25,
  rewards: { format: 1, feedback: 0.25 },
});

async function smallRun(root: string, settings: Record<string, unknown>, warnings: string[]): Promise<void> {
  const paths = openRunDirectory(root);
  const config = configSchema.parse({ report_to: ["tensorboard"], ...settings });
  const trackers = await makeTrackers(config, paths, (m) => warnings.push(m));
  const logs = new RunLogs(paths, new Monitor(monitorOptions), {}, trackers);
  for (const step of [10, 20]) {
    logs.logTrain({
      step,
      reward: step / 16,
      "rewards/format/mean": 0.1,
      kl: null,
      note: "text",
      epoch: step / 40,
    });
    logs.logSamples([0, 1, 2, 3, 4, 5].map((i) => sample(step, i)));
  }
  logs.logEval({ step: 20, "eval/win_rate": 0.3, "eval/games": [] });
  await logs.close();
}

function eventFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.includes("tfevents"))
    .map((name) => join(dir, name));
}

// ---- tests ------------------------------------------------------------------------------------

test("CRC-32C: the check value of the Castagnoli polynomial, and the writer agrees with a bitwise one", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
  assert.equal(crc32c(bytes), crc32cBitwise(bytes));
  assert.equal(unmask(maskedCrc32c(bytes)), crc32cBitwise(bytes));
});

test("tensorboard: records with valid CRCs; file version, config text at step 0, scalars, completions", async () => {
  const root = mkdtempSync(join(tmpdir(), "run-trackers-tb-"));
  try {
    const warnings: string[] = [];
    await smallRun(root, { learning_rate: 2e-5 }, warnings);
    assert.ok(
      warnings.some((w) => /^report_to: tensorboard -> .*runs$/.test(w)),
      warnings.join("\n"),
    );
    const files = eventFiles(join(root, "runs"));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /events\.out\.tfevents\.\d{10}\.[^/]+\.\d+\.0$/);
    const events = readRecords(readFileSync(files[0]!)).map(decodeEvent);

    assert.equal(events[0]!.fileVersion, "brain.Event:2");
    assert.ok(Math.abs(events[0]!.wallTime - Date.now() / 1000) < 600, "wall_time is in seconds");

    const texts = events.flatMap((e) =>
      e.values.filter((v) => v.plugin === "text").map((v) => ({ step: e.step, v })),
    );
    for (const { v } of texts) {
      assert.equal(v.dtype, "DT_STRING");
      assert.equal(v.shapeDims, 0, "rank 0");
      assert.equal(v.dataClass, "DATA_CLASS_TENSOR");
      assert.equal(v.strings?.length, 1);
    }
    const config = texts.filter((t) => t.v.tag === "config");
    assert.equal(config.length, 1);
    assert.equal(config[0]!.step, 0);
    assert.match(config[0]!.v.strings![0]!, /"learning_rate": 0\.00002/);
    assert.match(config[0]!.v.strings![0]!, /"report_to": \[\n\s+"tensorboard"/);

    const completions = texts.filter((t) => t.v.tag === "completions");
    assert.deepEqual(
      completions.map((t) => t.step),
      [10, 20],
    );
    const table = completions[0]!.v.strings![0]!;
    const rows = table.split("\n").filter((line) => line.startsWith("| frost"));
    assert.equal(rows.length, SAMPLES_SHOWN, "a few samples, not all six");
    // Tags, pipes and newlines of the completion are escaped so the table stays one row per sample.
    assert.match(rows[0]!, /&lt;think&gt;r \\\| o 0&lt;\/think&gt;<br>&lt;guess&gt;ROAST&lt;\/guess&gt;/);
    assert.match(rows[0]!, /\| crane apaaa \| .* \| roast \| 1\.250 \| format 1, feedback 0\.250 \|$/);
    assert.match(table, /4 of 6 completions/);

    const scalars = scalarsOf(events);
    assert.deepEqual(scalars.get("reward"), [
      [10, Math.fround(10 / 16)],
      [20, Math.fround(20 / 16)],
    ]);
    assert.deepEqual(scalars.get("epoch"), [
      [10, Math.fround(0.25)],
      [20, Math.fround(0.5)],
    ]);
    assert.deepEqual(scalars.get("eval/win_rate"), [[20, Math.fround(0.3)]]);
    // The monitor's numeric fields are metrics too; nulls, strings, booleans, arrays and `step` are not.
    assert.ok(scalars.has("running/reward"));
    for (const absent of ["kl", "note", "step", "eval/games", "criteria_met", "criteria"])
      assert.equal(scalars.has(absent), false, absent);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("tensorboard: logging_dir moves the event files; a second process start writes a second file", async () => {
  const root = mkdtempSync(join(tmpdir(), "run-trackers-tb-"));
  try {
    const logDir = join(root, "elsewhere", "tb");
    await smallRun(join(root, "run"), { logging_dir: logDir }, []);
    await smallRun(join(root, "run"), { logging_dir: logDir }, []);
    assert.deepEqual(readdirSync(join(root, "run")).includes("runs"), false);
    const files = eventFiles(logDir).sort();
    assert.equal(files.length, 2, "same second, same pid: the counter tells them apart");
    for (const file of files) readRecords(readFileSync(file));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Python with TensorBoard installed, if this machine has one. */
function pythonWithTensorBoard(): string | null {
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import tensorboard"], { encoding: "utf8" });
    if (probe.status === 0) return python;
  }
  return null;
}

test("tensorboard: TensorBoard's own reader loads the file (when Python has tensorboard)", async (t) => {
  const python = pythonWithTensorBoard();
  if (python === null) {
    t.skip("no Python with the tensorboard package here");
    return;
  }
  const root = mkdtempSync(join(tmpdir(), "run-trackers-tb-"));
  try {
    await smallRun(root, {}, []);
    const script = [
      "import sys, json",
      "from tensorboard.backend.event_processing import event_accumulator as ea",
      "acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})",
      "acc.Reload()",
      "tags = acc.Tags()",
      "out = {'scalars': {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags['scalars']},",
      "       'tensors': sorted(tags['tensors'])}",
      "print(json.dumps(out))",
    ].join("\n");
    const run = spawnSync(python, ["-c", script, join(root, "runs")], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const read = JSON.parse(run.stdout) as { scalars: Record<string, number[][]>; tensors: string[] };
    assert.deepEqual(read.scalars.reward, [
      [10, Math.fround(10 / 16)],
      [20, Math.fround(20 / 16)],
    ]);
    assert.deepEqual(read.tensors, ["completions", "config"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a 5-step run with report_to tensorboard + csv: every scalar equals metrics.jsonl at its step", async () => {
  const modelDir = makeTinyModel(5);
  const root = mkdtempSync(join(tmpdir(), "run-trackers-train-"));
  after(() => {
    rmSync(modelDir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });
  const config = tinyConfig(modelDir, root, {
    max_steps: 5,
    logging_steps: 1,
    save_steps: 5,
    report_to: ["tensorboard", "csv"],
  });
  await train({ config, threads: 1, rewards: letterRewards() });

  const rows = readJsonl(join(root, "metrics.jsonl")).rows;
  const training = rows.filter((r) => "loss" in r);
  assert.deepEqual(
    training.map((r) => r.step),
    [1, 2, 3, 4, 5],
  );
  // The numbers each tracker should hold: every finite numeric field of every row but `step`.
  const expected = new Map<string, Array<[number, number]>>();
  for (const row of rows)
    for (const [key, value] of Object.entries(row))
      if (key !== "step" && typeof value === "number" && Number.isFinite(value))
        expected.set(key, [...(expected.get(key) ?? []), [row.step as number, value]]);
  assert.ok(expected.has("loss") && expected.has("reward") && expected.has("learning_rate"));

  const [file, ...others] = eventFiles(join(root, "runs"));
  assert.deepEqual(others, []);
  const scalars = scalarsOf(readRecords(readFileSync(file!)).map(decodeEvent));
  assert.deepEqual([...scalars.keys()].sort(), [...expected.keys()].sort());
  for (const [tag, points] of expected)
    assert.deepEqual(
      scalars.get(tag),
      points.map(([step, value]) => [step, Math.fround(value)]),
      tag,
    );

  const csv = parseCsv(readFileSync(join(root, "metrics.csv"), "utf8"), "metrics.csv");
  assert.equal(csv.records.length, rows.length, "one line per metrics.jsonl row");
  csv.records.forEach((record, i) => {
    const row = rows[i]!;
    assert.equal(Number(record.step), row.step);
    for (const [key, value] of Object.entries(row))
      if (typeof value === "number" && Number.isFinite(value))
        assert.equal(Number(record[key]), value, `${key} at step ${row.step}`);
  });
});
