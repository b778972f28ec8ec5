import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openSafetensors, writeSafetensors } from "../src/engine/safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "wordle-grpo-st-bad-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function fileWith(bytes: Uint8Array): string {
  const path = join(dir, `case-${counter++}.safetensors`);
  writeFileSync(path, bytes);
  return path;
}

/** A file from a hand-written header (any JSON text) and data bytes. */
function crafted(headerText: string, data: Uint8Array = new Uint8Array(0)): string {
  const header = Buffer.from(headerText, "utf8");
  const out = Buffer.alloc(8 + header.length + data.length);
  out.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(out, 8);
  out.set(data, 8 + header.length);
  return fileWith(out);
}

/** The error must name the file and match the expected complaint. */
function assertRejects(path: string, pattern: RegExp): void {
  assert.throws(
    () => openSafetensors(path),
    (error: Error) => {
      assert.equal(error.name, "SafetensorsError");
      assert.ok(error.message.startsWith(`${path}: `), `error names the file: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

const validPath = join(dir, "valid.safetensors");
writeSafetensors(validPath, [
  { name: "w", dtype: "F32", shape: [2, 2], data: new Uint8Array(16).fill(1) },
  { name: "ids", dtype: "I64", shape: [3], data: new Uint8Array(24).fill(2) },
]);
const valid = readFileSync(validPath);
const validHeaderLength = Number(valid.readBigUInt64LE(0));

test("the untouched file opens (so every failure below comes from its corruption)", () => {
  const file = openSafetensors(validPath);
  assert.deepEqual([...file.tensors.keys()], ["ids", "w"]);
  file.close();
});

test("truncated files: no header length, inside the header, inside the data", () => {
  assertRejects(fileWith(valid.subarray(0, 5)), /too short for the 8-byte header length/);
  assertRejects(
    fileWith(valid.subarray(0, 20)),
    /header length field says \d+ bytes but only 12 bytes follow/,
  );
  assertRejects(
    fileWith(valid.subarray(0, valid.length - 1)),
    /need 40 bytes of data but the file holds only 39.*truncated/,
  );
  assertRejects(join(dir, "does-not-exist.safetensors"), /cannot open/);
});

test("corrupt header length: beyond the file, absurdly large, or pointing into the header", () => {
  const flipped = Buffer.from(valid);
  flipped[7] = 0xff; // top byte of the u64: a length of ~2^63
  assertRejects(fileWith(flipped), /above the 100000000-byte limit/);
  const tooLong = Buffer.from(valid);
  tooLong.writeBigUInt64LE(BigInt(valid.length), 0);
  assertRejects(fileWith(tooLong), /only \d+ bytes follow it/);
  const tooShort = Buffer.from(valid);
  tooShort.writeBigUInt64LE(BigInt(validHeaderLength - 20), 0);
  assertRejects(fileWith(tooShort), /not valid JSON/);
  const extra = Buffer.concat([valid, Buffer.alloc(4)]);
  assertRejects(fileWith(extra), /holds 44 bytes after the header but the tensors cover only 40/);
});

test("bad JSON and wrong JSON shapes", () => {
  assertRejects(crafted("{not json}   "), /header is not valid JSON.*starts with "\{not json\}/);
  assertRejects(fileWith(Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe])), /not valid UTF-8/);
  assertRejects(crafted("[1, 2]  "), /header must be a JSON object, got \[1,2\]/);
  assertRejects(
    crafted('{"__metadata__": {"format": 3}}'),
    /"__metadata__"."format" must be a string, got 3/,
  );
  assertRejects(crafted('{"t": [1, 2]}'), /tensor "t": expected \{dtype, shape, data_offsets\}/);
});

test("bad tensor entries: dtype, shape, offsets", () => {
  const entry = (dtype: string, shape: unknown, offsets: unknown) =>
    JSON.stringify({ t: { dtype, shape, data_offsets: offsets } });
  const eight = new Uint8Array(8);
  assertRejects(
    crafted(entry("F17", [2], [0, 8]), eight),
    /tensor "t": unknown dtype "F17"; expected one of F64, F32/,
  );
  assertRejects(crafted(entry("F4", [16], [0, 8]), eight), /sub-byte dtype F4 is not supported/);
  assertRejects(
    crafted(entry("F32", [2, -1], [0, 8]), eight),
    /shape must be an array of non-negative integers/,
  );
  assertRejects(
    crafted(entry("F32", [3], [0, 8]), eight),
    /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
  );
  assertRejects(crafted(entry("F32", [2], [0]), eight), /data_offsets must be \[begin, end\]/);
  assertRejects(crafted(entry("F32", [0], [8, 0]), eight), /end before they begin/);
  assertRejects(
    crafted(entry("F32", [4], [0, 16]), eight),
    /need 16 bytes of data but the file holds only 8/,
  );
});

test("offsets that overlap, leave gaps, or do not start at zero", () => {
  const two = (a: [number, number], b: [number, number]) =>
    JSON.stringify({
      a: { dtype: "U8", shape: [a[1] - a[0]], data_offsets: a },
      b: { dtype: "U8", shape: [b[1] - b[0]], data_offsets: b },
    });
  const twelve = new Uint8Array(12);
  assertRejects(
    crafted(two([0, 8], [4, 12]), twelve),
    /tensor "b" \(data_offsets begin 4\) overlaps tensor "a"/,
  );
  assertRejects(
    crafted(two([0, 4], [8, 12]), twelve),
    /tensor "b" starts at data offset 8 but the previous tensor ends at 4/,
  );
  assertRejects(
    crafted(two([4, 8], [8, 12]), twelve),
    /tensor "a" starts at data offset 4 but the previous tensor ends at 0/,
  );
});
