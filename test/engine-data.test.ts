// Moving data between JS memory, files and tensors.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fromBytes, fromFile, scope, tensor } from "../src/engine/index.js";

test("typed arrays round-trip and convert on the way in and out", () =>
  scope(() => {
    const src = new Float32Array([1.5, -2, 3.25, 4]);
    const t = tensor(src, { shape: [2, 2] });
    src[0] = 99; // the tensor owns a copy
    assert.deepEqual(t.toFloat32Array(), new Float32Array([1.5, -2, 3.25, 4]));
    assert.deepEqual(t.toInt32Array(), new Int32Array([1, -2, 3, 4]));
    assert.deepEqual(tensor(new Float32Array([1, 2]), { dtype: "float64" }).dtype, "float64");
    // a view into a larger buffer (byteOffset != 0) is read from the right place
    const big = new Float64Array([0, 0, 7, 8]);
    assert.deepEqual(tensor(big.subarray(2)).toArray(), [7, 8]);
    // non-contiguous tensors are read in logical (row-major) order
    assert.deepEqual(t.transpose(0, 1).toArray(), [1.5, 3.25, -2, 4]);
    assert.throws(() => tensor(new Uint16Array(2) as unknown as Uint8Array), /Uint16Array is not supported/);
  }));

test("raw bf16 bytes load as bf16 or convert to float32", () =>
  scope(() => {
    // bf16 bit patterns, little-endian: 1.0 = 0x3f80, -2.0 = 0xc000, 0.5 = 0x3f00
    const bytes = new Uint8Array([0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f]);
    const bf = fromBytes(bytes, "bfloat16", [3]);
    assert.equal(bf.dtype, "bfloat16");
    assert.deepEqual(bf.toArray(), [1, -2, 0.5]);
    assert.deepEqual(bf.toBytes(), bytes);
    const f = fromBytes(bytes, "bfloat16", [3], { to: "float32" });
    assert.equal(f.dtype, "float32");
    assert.deepEqual(f.toArray(), [1, -2, 0.5]);
  }));

test("fromFile reads a region of a file straight into a tensor and reports truncation", () => {
  const dir = mkdtempSync(join(tmpdir(), "engine-data-"));
  try {
    const path = join(dir, "blob.bin");
    const header = Buffer.from("HEADER!!");
    const values = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    writeFileSync(path, Buffer.concat([header, values]));
    scope(() => {
      const t = fromFile(path, header.length, "float32", [2, 3]);
      assert.deepEqual(t.toArray(), [1, 2, 3, 4, 5, 6]);
      assert.equal(fromFile(path, header.length, "float32", [6], { to: "bfloat16" }).dtype, "bfloat16");
      assert.throws(() => fromFile(path, header.length, "float32", [7]), /unexpected end of file/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
