// File-system failures name the path and the cause (src/util/file-errors.ts): a read-only mount,
// a full disk, no permission, instead of Node's "ENOENT: no such file or directory, mkdir" for a
// read-only parent and a write error that names no file.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { JsonlWriter } from "../src/run/jsonl.js";
import { openRunDirectory } from "../src/run/run-dir.js";
import { fileError } from "../src/util/file-errors.js";

const errno = (code: string) => Object.assign(new Error(`${code}: raw`), { code });

test("each cause is named with the path it concerns", () => {
  const dir = mkdtempSync(join(tmpdir(), "file-errors-"));
  try {
    const file = join(dir, "metrics.jsonl");
    assert.equal(
      fileError(errno("ENOSPC"), file, "append to").message,
      `cannot append to ${file}: no space left on the device holding ${file}`,
    );
    assert.match(fileError(errno("EROFS"), file, "write").message, /file system holding .* is read-only/);
    assert.match(fileError(errno("EDQUOT"), file, "write").message, /disk quota/);
    // A writable place with an unknown failure keeps Node's own words.
    assert.match(fileError(errno("EIO"), file, "write").message, /cannot write .*: EIO: raw/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs fn on a small tmpfs mounted with `options`, or skips where mounting is not allowed. */
function withTmpfs(t: { skip: (why: string) => void }, options: string, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    t.skip("mounting a tmpfs needs root and a permissive container");
    return;
  }
  try {
    fn(dir);
  } finally {
    execFileSync("umount", [dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a run directory on a read-only file system: the message says read-only, not 'no such file'", (t) =>
  withTmpfs(t, "ro,size=64k", (dir) => {
    const run = join(dir, "runs", "a");
    assert.throws(
      () => openRunDirectory(run),
      (err: Error) =>
        err.message.includes(run) && /read-only/.test(err.message) && !/ENOENT/.test(err.message),
    );
  }));

test("appending to a log on a full disk names the log and the cause", (t) =>
  withTmpfs(t, "size=64k", (dir) => {
    mkdirSync(join(dir, "run"));
    const path = join(dir, "run", "metrics.jsonl");
    const writer = new JsonlWriter(path);
    assert.throws(
      () => {
        for (let i = 0; i < 10_000; i++) writer.append({ step: i, note: "x".repeat(200) });
      },
      (err: Error) => err.message === `cannot append to ${path}: no space left on the device holding ${path}`,
    );
    writer.close();
  }));
