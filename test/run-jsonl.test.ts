import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { JsonlWriter, readJsonl, truncateJsonlAfterStep } from "../src/run/jsonl.js";
import { withTempDir } from "./helpers/temp-dir.js";

test("rows reach the file as whole lines at once, before any fsync", () => {
  withTempDir("run-jsonl", (dir) => {
    const path = join(dir, "metrics.jsonl");
    const w = new JsonlWriter(path, { fsyncEveryRows: 1000, fsyncEveryMs: 1e9 });
    w.append({ step: 1, reward: 0.5 });
    // Another process (the dashboard) already sees the row: nothing is buffered in JS.
    assert.equal(readFileSync(path, "utf8"), '{"step":1,"reward":0.5}\n');
    w.append({ step: 2, loss: Number.NaN, kl: Number.POSITIVE_INFINITY }, { step: 3, tags: ["a"] });
    w.close();
    const { rows, bad, partialTail } = readJsonl(path);
    assert.deepEqual(rows, [
      { step: 1, reward: 0.5 },
      { step: 2, loss: null, kl: null },
      { step: 3, tags: ["a"] },
    ]);
    assert.deepEqual(bad, []);
    assert.equal(partialTail, false);
    assert.throws(() => w.append({ step: 4 }), /closed/);
  });
});

test("reopening appends; a partial last line from a crash is cut before appending", () => {
  withTempDir("run-jsonl", (dir) => {
    const path = join(dir, "samples.jsonl");
    const first = new JsonlWriter(path);
    first.append({ step: 1 });
    first.close();
    appendFileSync(path, '{"step": 2, "compl'); // killed mid-write
    assert.equal(readJsonl(path).partialTail, true);
    assert.deepEqual(readJsonl(path).rows, [{ step: 1 }], "readers skip the partial tail");
    const second = new JsonlWriter(path);
    second.append({ step: 2 });
    second.close();
    assert.equal(readFileSync(path, "utf8"), '{"step":1}\n{"step":2}\n');
  });
});

test("reading reports bad lines by number; a missing file is empty", () => {
  withTempDir("run-jsonl", (dir) => {
    const path = join(dir, "m.jsonl");
    writeFileSync(path, '{"step":1}\nnot json\n[1,2]\n\n{"step":2}\n');
    const { rows, bad } = readJsonl(path);
    assert.deepEqual(rows, [{ step: 1 }, { step: 2 }]);
    assert.deepEqual(
      bad.map((b) => b.line),
      [2, 3],
    );
    assert.deepEqual(readJsonl(join(dir, "absent.jsonl")).rows, []);
  });
});

test("truncateJsonlAfterStep keeps rows up to the checkpoint step (resume)", () => {
  withTempDir("run-jsonl", (dir) => {
    const path = join(dir, "metrics.jsonl");
    writeFileSync(path, '{"step":10}\n{"step":20}\n{"step":20,"eval/win_rate":0.1}\n{"step":30}\n{"step":40');
    assert.equal(truncateJsonlAfterStep(path, 20), 1);
    assert.equal(readFileSync(path, "utf8"), '{"step":10}\n{"step":20}\n{"step":20,"eval/win_rate":0.1}\n');
    assert.equal(truncateJsonlAfterStep(path, 20), 0, "idempotent");
    writeFileSync(path, '{"step":10}\ngarbage\n');
    assert.throws(() => truncateJsonlAfterStep(path, 5), /line 2 is not valid/);
  });
});
