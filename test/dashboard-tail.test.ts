import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { JsonlTail } from "../src/dashboard/jsonl-tail.js";

function tempFile(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "dashboard-tail-"));
  return { path: join(dir, "metrics.jsonl"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("a file that does not exist yet reads as empty, then is followed once created", async () => {
  const { path, cleanup } = tempFile();
  try {
    const tail = new JsonlTail(path);
    assert.deepEqual((await tail.read()).lines, []);
    writeFileSync(path, '{"step":1}\n');
    assert.deepEqual(
      (await tail.read()).lines.map((l) => l.value),
      [{ step: 1 }],
    );
  } finally {
    cleanup();
  }
});

test("a partial last line is held back until its newline arrives, and nothing is read twice", async () => {
  const { path, cleanup } = tempFile();
  try {
    const tail = new JsonlTail(path);
    writeFileSync(path, '{"step":1}\n{"step":2,"rew');
    const first = await tail.read();
    assert.deepEqual(
      first.lines.map((l) => l.value),
      [{ step: 1 }],
    );
    assert.deepEqual(first.problems, []);
    appendFileSync(path, 'ard":0.5}\n{"step":3}\n');
    const second = await tail.read();
    assert.deepEqual(
      second.lines.map((l) => l.value),
      [{ step: 2, reward: 0.5 }, { step: 3 }],
    );
    assert.deepEqual(
      second.lines.map((l) => l.where),
      ["line 2", "line 3"],
    );
    assert.deepEqual((await tail.read()).lines, []);
  } finally {
    cleanup();
  }
});

test("a multi-byte character split across two appends is decoded intact", async () => {
  const { path, cleanup } = tempFile();
  try {
    const tail = new JsonlTail(path);
    const bytes = Buffer.from('{"step":1,"note":"✓ ok"}\n', "utf8");
    const cut = bytes.indexOf(0xe2) + 1; // inside the 3-byte check mark
    writeFileSync(path, bytes.subarray(0, cut));
    assert.deepEqual((await tail.read()).lines, []);
    appendFileSync(path, bytes.subarray(cut));
    assert.deepEqual(
      (await tail.read()).lines.map((l) => l.value),
      [{ step: 1, note: "✓ ok" }],
    );
  } finally {
    cleanup();
  }
});

test("an invalid line is reported with its line number and skipped; later lines still arrive", async () => {
  const { path, cleanup } = tempFile();
  try {
    const tail = new JsonlTail(path);
    writeFileSync(path, '{"step":1}\n{"step":2,\n\n{"step":3}\n');
    const read = await tail.read();
    assert.deepEqual(
      read.lines.map((l) => l.value),
      [{ step: 1 }, { step: 3 }],
    );
    assert.equal(read.problems.length, 1);
    assert.equal(read.problems[0].where, "line 2");
    assert.equal(read.problems[0].file, path);
    assert.match(read.problems[0].message, /not valid JSON/);
  } finally {
    cleanup();
  }
});

test("a truncated file restarts from the beginning and says so", async () => {
  const { path, cleanup } = tempFile();
  try {
    const tail = new JsonlTail(path);
    writeFileSync(path, '{"step":1}\n{"step":2}\n');
    await tail.read();
    writeFileSync(path, '{"step":7}\n');
    const read = await tail.read();
    assert.equal(read.restarted, true);
    assert.deepEqual(
      read.lines.map((l) => l.value),
      [{ step: 7 }],
    );
  } finally {
    cleanup();
  }
});

test("startNearEnd reads only the last complete lines of a big file and reports byte offsets", async () => {
  const { path, cleanup } = tempFile();
  try {
    let text = "";
    for (let i = 1; i <= 1000; i++) text += `${JSON.stringify({ step: i, pad: "x".repeat(40) })}\n`;
    writeFileSync(path, text);
    const tail = new JsonlTail(path, { startNearEnd: 500 });
    const read = await tail.read();
    const steps = read.lines.map((l) => (l.value as { step: number }).step);
    assert.ok(steps.length >= 5 && steps.length < 20, `read ${steps.length} lines`);
    assert.equal(steps.at(-1), 1000);
    // Consecutive: the partial first line was dropped, not parsed as garbage.
    assert.deepEqual(
      steps,
      steps.map((_, i) => steps[0] + i),
    );
    assert.deepEqual(read.problems, []);
    const firstOffset = Number(read.lines[0].where.replace("byte ", ""));
    assert.equal(text.slice(firstOffset, firstOffset + 12), `{"step":${steps[0]},`.slice(0, 12));
    appendFileSync(path, '{"step":1001}\n');
    assert.deepEqual(
      (await tail.read()).lines.map((l) => l.value),
      [{ step: 1001 }],
    );
  } finally {
    cleanup();
  }
});
