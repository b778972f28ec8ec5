import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  AtomicFile,
  atomicWriteFile,
  removeStaleTemps,
  writeDirectoryAtomically,
} from "../src/util/atomic.js";
import { withTempDir } from "./helpers/temp-dir.js";

test("atomicWriteFile creates and replaces a file", () => {
  withTempDir("run-atomic", (dir) => {
    const path = join(dir, "sub", "state.json");
    atomicWriteFile(path, "first");
    assert.equal(readFileSync(path, "utf8"), "first");
    atomicWriteFile(path, new Uint8Array([104, 105]));
    assert.equal(readFileSync(path, "utf8"), "hi");
    assert.deepEqual(readdirSync(join(dir, "sub")), ["state.json"], "no temp file left behind");
  });
});

test("an interrupted write leaves the target untouched: data goes to the temp path until the rename", () => {
  withTempDir("run-atomic", (dir) => {
    const path = join(dir, "trainer_state.json");
    writeFileSync(path, '{"step": 100}');
    const file = new AtomicFile(path);
    file.write('{"step": 2');
    // Mid-write (as if killed here): the target still has the complete old content.
    assert.equal(readFileSync(path, "utf8"), '{"step": 100}');
    assert.equal(readFileSync(file.tempPath, "utf8"), '{"step": 2');
    file.write("00}");
    assert.equal(readFileSync(path, "utf8"), '{"step": 100}', "still untouched before commit");
    file.commit();
    assert.equal(readFileSync(path, "utf8"), '{"step": 200}');
    assert.equal(existsSync(file.tempPath), false);
    assert.throws(() => file.write("x"), /already committed/);
  });
});

test("abort, or a crash before commit, keeps the old file; the leftover temp is cleaned up", () => {
  withTempDir("run-atomic", (dir) => {
    const path = join(dir, "config.json");
    writeFileSync(path, "old");
    const aborted = new AtomicFile(path);
    aborted.write("new but incomplete");
    aborted.abort();
    assert.equal(readFileSync(path, "utf8"), "old");
    assert.deepEqual(readdirSync(dir), ["config.json"]);

    const crashed = new AtomicFile(path);
    crashed.write("partial");
    // The process "dies" here: the temp file stays, the target is intact, and a later run removes it.
    assert.equal(readFileSync(path, "utf8"), "old");
    const removed = removeStaleTemps(dir);
    assert.equal(removed.length, 1);
    assert.deepEqual(readdirSync(dir), ["config.json"]);
  });
});

test("directories are committed atomically: checkpoint-<step>.tmp/ then rename", () => {
  withTempDir("run-atomic", (dir) => {
    const target = join(dir, "checkpoint-100");
    let seenDuringFill: string[] = [];
    writeDirectoryAtomically(target, (tmp) => {
      assert.equal(tmp, `${target}.tmp`);
      writeFileSync(join(tmp, "adapter_model.safetensors"), "weights");
      mkdirSync(join(tmp, "optimizer"));
      writeFileSync(join(tmp, "optimizer", "state.bin"), "state");
      seenDuringFill = readdirSync(dir);
    });
    assert.deepEqual(seenDuringFill, ["checkpoint-100.tmp"], "the final name does not exist while filling");
    assert.deepEqual(readdirSync(dir), ["checkpoint-100"]);
    assert.equal(readFileSync(join(target, "optimizer", "state.bin"), "utf8"), "state");

    // A failure while filling leaves neither a partial checkpoint nor the temp folder.
    assert.throws(
      () =>
        writeDirectoryAtomically(join(dir, "checkpoint-200"), (tmp) => {
          writeFileSync(join(tmp, "adapter_model.safetensors"), "half");
          throw new Error("disk full");
        }),
      /disk full/,
    );
    assert.deepEqual(readdirSync(dir), ["checkpoint-100"]);

    // Replacing an existing folder swaps it whole.
    writeDirectoryAtomically(target, (tmp) => writeFileSync(join(tmp, "adapter_model.safetensors"), "v2"));
    assert.deepEqual(readdirSync(target), ["adapter_model.safetensors"]);
    assert.equal(readFileSync(join(target, "adapter_model.safetensors"), "utf8"), "v2");
    assert.deepEqual(readdirSync(dir), ["checkpoint-100"]);
  });
});

test("a crash between the two renames of a replacement is repaired, not deleted", () => {
  withTempDir("run-atomic", (dir) => {
    // State after `rename(target, target.old.tmp)` and before `rename(target.tmp, target)`.
    mkdirSync(join(dir, "best.old.tmp"));
    writeFileSync(join(dir, "best.old.tmp", "adapter_model.safetensors"), "previous best");
    mkdirSync(join(dir, "best.tmp"));
    mkdirSync(join(dir, "checkpoint-300.tmp"));
    removeStaleTemps(dir);
    assert.deepEqual(readdirSync(dir).sort(), ["best"]);
    assert.equal(readFileSync(join(dir, "best", "adapter_model.safetensors"), "utf8"), "previous best");
  });
});
