import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openSafetensors, readSafetensors, writeSafetensors } from "../src/engine/safetensors.js";
import { dtypeByteSize, SAFETENSORS_DTYPES } from "../src/engine/safetensors-dtypes.js";
import {
  bf16BytesToFloat32,
  f16BytesToFloat32,
  float16BitsToNumber,
  float32ToBf16Bytes,
  float32ToF16Bytes,
  numberToFloat16Bits,
  tensorValues,
  typedArrayBytes,
} from "../src/engine/safetensors-values.js";
import { FIXTURES_DIR } from "../src/paths.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "wordle-grpo-st-"));
}

/** Deterministic pseudo-random bytes (a tiny LCG) so failures reproduce. */
function patternBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

test("every dtype round-trips byte for byte, with shape, dtype and metadata", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "all.safetensors");
    const entries = SAFETENSORS_DTYPES.map((dtype, i) => {
      const shape = [2, 3, i + 1];
      return {
        name: `t.${dtype}`,
        dtype,
        shape,
        data: patternBytes(6 * (i + 1) * dtypeByteSize(dtype), i + 1),
      };
    });
    entries.push({ name: "scalar", dtype: "F32", shape: [], data: typedArrayBytes(new Float32Array([2.5])) });
    entries.push({ name: "empty", dtype: "I64", shape: [0, 4], data: new Uint8Array(0) });
    writeSafetensors(path, entries, { format: "pt", note: "round trip" });

    const back = readSafetensors(path);
    assert.deepEqual(back.metadata, { format: "pt", note: "round trip" });
    assert.equal(back.tensors.size, entries.length);
    for (const entry of entries) {
      const got = back.tensors.get(entry.name);
      assert.ok(got, entry.name);
      assert.equal(got.dtype, entry.dtype);
      assert.deepEqual(got.shape, entry.shape);
      assert.deepEqual(Buffer.from(got.data), Buffer.from(entry.data), entry.name);
    }
    assert.deepEqual([...(tensorValues("F32", back.tensors.get("scalar")!.data) as Float32Array)], [2.5]);
    // Only the target file remains: the temporary file was renamed, not left behind.
    assert.deepEqual(readdirSync(dir), ["all.safetensors"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("layout: header padded to 8 bytes with spaces, wider dtypes first then by name, every tensor aligned", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "layout.safetensors");
    writeSafetensors(path, [
      { name: "b", dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
      { name: "z", dtype: "F64", shape: [1], data: typedArrayBytes(new Float64Array([1])) },
      { name: "a", dtype: "F32", shape: [1], data: typedArrayBytes(new Float32Array([1])) },
      { name: "c", dtype: "I64", shape: [2], data: typedArrayBytes(new BigInt64Array([5n, -6n])) },
    ]);
    const raw = readFileSync(path);
    const n = Number(raw.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const headerText = raw.subarray(8, 8 + n).toString("utf8");
    assert.match(headerText, / *$/);
    assert.ok(!("__metadata__" in JSON.parse(headerText)), "no metadata key when none is given");
    const file = openSafetensors(path);
    try {
      assert.deepEqual([...file.tensors.keys()], ["c", "z", "a", "b"]);
      for (const info of file.tensors.values()) assert.equal(info.byteOffset % dtypeByteSize(info.dtype), 0);
      assert.deepEqual([...(tensorValues("I64", file.read("c")) as BigInt64Array)], [5n, -6n]);
      const target = new Uint8Array(3);
      file.readInto("b", target);
      assert.deepEqual([...target], [1, 2, 3]);
      assert.throws(() => file.read("missing"), /no tensor named "missing"/);
      assert.throws(() => file.readInto("b", new Uint8Array(2)), /target has 2 bytes, the tensor has 3/);
    } finally {
      file.close();
    }
    assert.throws(() => file.read("b"), /after close/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rewriting each HF-written fixture reproduces the file byte for byte", () => {
  const dir = tempDir();
  try {
    const fixtures = [
      "qwen2-tiny/model.safetensors",
      "qwen2-tiny/reference.safetensors",
      "qwen2-tiny-lora/adapter_model.safetensors",
      "qwen2-tiny-lora/reference.safetensors",
    ];
    for (const relative of fixtures) {
      const source = join(FIXTURES_DIR, relative);
      const original = readSafetensors(source);
      const copy = join(dir, "copy.safetensors");
      // Lazy data: each entry's bytes are produced only when the writer reaches it.
      const entries = [...original.tensors].map(([name, t]) => ({ ...t, name, data: () => t.data }));
      writeSafetensors(copy, entries, original.metadata);
      assert.deepEqual(readFileSync(copy), readFileSync(source), relative);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("write refuses bad entries and leaves the target untouched", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "x.safetensors");
    writeSafetensors(path, [{ name: "keep", dtype: "U8", shape: [1], data: new Uint8Array([7]) }]);
    const before = readFileSync(path);
    assert.throws(
      () => writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [2, 2], data: new Uint8Array(12) }]),
      /x\.safetensors: tensor "w": shape \[2, 2\] of F32 needs 16 bytes, data has 12/,
    );
    const u8 = (name: string) => ({ name, dtype: "U8" as const, shape: [1], data: new Uint8Array(1) });
    assert.throws(() => writeSafetensors(path, [u8("d"), u8("d")]), /tensor "d" appears twice/);
    assert.throws(() => writeSafetensors(path, [u8("__metadata__")]), /reserved/);
    assert.throws(
      () =>
        writeSafetensors(path, [{ name: "q", dtype: "Q4" as never, shape: [1], data: new Uint8Array(1) }]),
      /unknown dtype "Q4"/,
    );
    // A lazily produced tensor of the wrong size fails mid-write: the temporary file is removed.
    assert.throws(
      () =>
        writeSafetensors(path, [{ name: "late", dtype: "F32", shape: [4], data: () => new Uint8Array(3) }]),
      /tensor "late".*needs 16 bytes, data has 3/,
    );
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(dir), ["x.safetensors"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bf16 conversion rounds to nearest even and widens exactly", () => {
  const bits = (bytes: Uint8Array) => [...new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)];
  // 1 + 2^-8 is half-way between bf16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1).
  // 1 + 3*2^-8 is half-way between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  const values = [1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 0, Number.POSITIVE_INFINITY, 3.0e38, 3.4e38];
  assert.deepEqual(
    bits(float32ToBf16Bytes(values)),
    [0x3f80, 0xc000, 0x3f80, 0x3f82, 0, 0x7f80, 0x7f62, 0x7f80],
  );
  assert.equal(bits(float32ToBf16Bytes([Number.NaN]))[0] & 0x7fc0, 0x7fc0);
  const widened = bf16BytesToFloat32(float32ToBf16Bytes([1.5, -0.15625, 65280]));
  assert.deepEqual([...widened], [1.5, -0.15625, 65280]);
  // Values 2^-120 * k (k < 128) are exactly representable: the round trip is the identity.
  const exact = Array.from({ length: 128 }, (_, k) => k * 2 ** -120);
  assert.deepEqual([...bf16BytesToFloat32(float32ToBf16Bytes(exact))], exact);
});

test("f16 conversion: known bit patterns, ties to even, and every one of the 65,536 patterns round-trips", () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff], // largest finite
    [65520, 0x7c00], // half-way above the largest finite: rounds to infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: ties to even (zero)
    [3 * 2 ** -25, 0x0002], // 1.5 units: ties to even (2)
    [1 / 3, 0x3555],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10: even
    [-0, 0x8000],
  ];
  for (const [value, expected] of cases)
    assert.equal(numberToFloat16Bits(value), expected, `${value} -> 0x${expected.toString(16)}`);
  for (let h = 0; h < 0x10000; h++) {
    const value = float16BitsToNumber(h);
    if (Number.isNaN(value)) continue;
    assert.equal(numberToFloat16Bits(value), h, `pattern 0x${h.toString(16)}`);
  }
  assert.deepEqual(
    [...f16BytesToFloat32(float32ToF16Bytes([0.5, -1024, 0.0999755859375]))],
    [0.5, -1024, 0.0999755859375],
  );
  assert.ok(Number.isNaN(f16BytesToFloat32(float32ToF16Bytes([Number.NaN]))[0]));
});
