// report_to tensorboard: the event file is read back with a decoder written here from the format's
// definition (TFRecord framing with masked CRC-32C; Event / Summary / TensorProto protobufs), not
// with the writer's own code, and with TensorBoard itself when Python has it installed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { configSchema } from "../src/grpo/config/schema.js";
import { RunLogs, type SampleRow } from "../src/run/logs.js";
import { Monitor, type MonitorOptions } from "../src/run/monitor.js";
import { openRunDirectory } from "../src/run/run-dir.js";
import { crc32c, maskedCrc32c } from "../src/run/trackers/crc32c.js";
import { makeTrackers } from "../src/run/trackers/make-trackers.js";
import { SAMPLES_SHOWN } from "../src/run/trackers/markdown.js";

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

type Field = { wire: number; value: bigint | Buffer };

/** Decode one protobuf message into field number -> values, in order. */
function decode(message: Buffer): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const byte = message[at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  while (at < message.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    const take = (length: number): Buffer => {
      at += length;
      return message.subarray(at - length, at);
    };
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) value = take(8);
    else if (wire === 5) value = take(4);
    else if (wire === 2) value = take(Number(varint()));
    else throw new Error(`wire type ${wire} at ${at}`);
    fields.set(field, [...(fields.get(field) ?? []), { wire, value }]);
  }
  assert.equal(at, message.length, "message ends inside a field");
  return fields;
}

const one = (fields: Map<number, Field[]>, n: number): Field | undefined => fields.get(n)?.[0];
const bytesOf = (f: Field | undefined): Buffer => {
  assert.ok(f !== undefined && f.wire === 2, "expected a length-delimited field");
  return f.value as Buffer;
};
const numberOf = (f: Field | undefined): number => {
  assert.ok(f !== undefined && f.wire === 0, "expected a varint field");
  return Number(f.value as bigint);
};

interface DecodedValue {
  tag: string;
  simple?: number;
  plugin?: string;
  dataClass?: number;
  dtype?: number;
  shapeDims?: number;
  strings?: string[];
}
interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: DecodedValue[];
}

function decodeEvent(record: Buffer): DecodedEvent {
  const event = decode(record);
  const wall = one(event, 1);
  assert.ok(wall !== undefined && wall.wire === 1, "wall_time is a double");
  const out: DecodedEvent = {
    wallTime: (wall.value as Buffer).readDoubleLE(0),
    step: event.has(2) ? numberOf(one(event, 2)) : 0,
    values: [],
  };
  if (event.has(3)) out.fileVersion = bytesOf(one(event, 3)).toString("utf8");
  if (event.has(5)) {
    for (const v of decode(bytesOf(one(event, 5))).get(1) ?? []) {
      const value = decode(v.value as Buffer);
      const decoded: DecodedValue = { tag: bytesOf(one(value, 1)).toString("utf8") };
      const simple = one(value, 2);
      if (simple !== undefined) {
        assert.equal(simple.wire, 5, "simple_value is a float");
        decoded.simple = (simple.value as Buffer).readFloatLE(0);
      }
      if (value.has(9)) {
        const metadata = decode(bytesOf(one(value, 9)));
        decoded.plugin = bytesOf(one(decode(bytesOf(one(metadata, 1))), 1)).toString("utf8");
        if (metadata.has(4)) decoded.dataClass = numberOf(one(metadata, 4));
      }
      if (value.has(8)) {
        const tensor = decode(bytesOf(one(value, 8)));
        decoded.dtype = numberOf(one(tensor, 1));
        decoded.shapeDims = decode(bytesOf(one(tensor, 2))).get(2)?.length ?? 0;
        decoded.strings = (tensor.get(8) ?? []).map((s) => (s.value as Buffer).toString("utf8"));
      }
      out.values.push(decoded);
    }
  }
  return out;
}

// ---- a small run ------------------------------------------------------------------------------

const monitorOptions: MonitorOptions = {
  successCriteria: ["running_mean(total) > 1"],
  milestones: [],
  runningMeanWindow: 3,
  plateau: { window: 20, min_gain: 0.01, early_stop: false, metric: "total" },
  rewardFunctions: ["format", "feedback"],
  totalSteps: 20,
  saveSteps: 20,
};

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
      assert.equal(v.dtype, 7, "DT_STRING");
      assert.equal(v.shapeDims, 0, "rank 0");
      assert.equal(v.dataClass, 2, "DATA_CLASS_TENSOR");
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

    const scalars = new Map<string, Array<[number, number]>>();
    for (const e of events)
      for (const v of e.values)
        if (v.simple !== undefined) scalars.set(v.tag, [...(scalars.get(v.tag) ?? []), [e.step, v.simple]]);
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
