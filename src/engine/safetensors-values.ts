/**
 * Turn the raw bytes of a safetensors tensor into JavaScript numbers and back, without the engine.
 *
 * Used by tests and by tools that read small fixture tensors (reference logits, token ids) directly.
 * Model weights go bytes -> libtorch instead and never pass through here.
 *
 * safetensors is little-endian; JS typed arrays use the machine's byte order. Every platform we run
 * on (x86-64, arm64) is little-endian, so typed-array views read the bytes as stored. We check once
 * rather than silently misread on an exotic big-endian host.
 */
import { endianness } from "node:os";
import { dtypeByteSize, type SafetensorsDtype } from "./safetensors-dtypes.js";

function assertLittleEndianHost(): void {
  if (endianness() !== "LE")
    throw new Error("safetensors values: this host is big-endian; typed-array views would misread the bytes");
}

/**
 * A copy of `bytes` whose start is aligned for `elementBytes`-wide typed arrays. Views need the
 * byte offset to be a multiple of the element width; a slice of a larger Buffer may not be.
 */
function alignedBuffer(bytes: Uint8Array, elementBytes: number): { buffer: ArrayBuffer; offset: number } {
  if (bytes.byteOffset % elementBytes === 0 && bytes.buffer instanceof ArrayBuffer)
    return { buffer: bytes.buffer, offset: bytes.byteOffset };
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { buffer: copy.buffer, offset: 0 };
}

function checkWholeElements(bytes: Uint8Array, width: number, what: string): number {
  if (bytes.byteLength % width !== 0)
    throw new Error(`${what}: ${bytes.byteLength} bytes is not a whole number of ${width}-byte elements`);
  return bytes.byteLength / width;
}

// --- bfloat16: the top 16 bits of an IEEE float32 ----------------------------------------------

/** bf16 bytes -> float32 values (exact: bf16 is a truncated float32). */
export function bf16BytesToFloat32(bytes: Uint8Array): Float32Array {
  assertLittleEndianHost();
  const n = checkWholeElements(bytes, 2, "bf16 bytes");
  const out = new Float32Array(n);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) outBits[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
  return out;
}

/**
 * float32 values -> bf16 bytes, rounding to nearest with ties to even (what torch's `.to(bfloat16)`
 * does). Adding 0x7FFF plus the lowest kept bit before truncating rounds half-way cases to even.
 */
export function float32ToBf16Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let i = 0; i < values.length; i++) {
    scratch[0] = values[i];
    const bits = scratchBits[0];
    let half: number;
    if (Number.isNaN(scratch[0])) half = 0x7fc0 | ((bits >>> 16) & 0x8000);
    else half = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    out[2 * i] = half & 0xff;
    out[2 * i + 1] = half >>> 8;
  }
  return out;
}

// --- float16 (IEEE binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits ------------------

/** One binary16 bit pattern -> its exact value as a JS number. */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** A number -> the nearest binary16 bit pattern (ties to even; overflow gives infinity). */
export function numberToFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const signBit = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  // Round through float32 first, as torch converts float32 tensors; this matters only for
  // float64 inputs that sit exactly between two binary16 values after float32 rounding.
  const x = Math.abs(Math.fround(value));
  if (x === Number.POSITIVE_INFINITY) return signBit | 0x7c00;
  // Below 2^-14 the format is fixed-point with step 2^-24: round x / 2^-24 to an integer.
  if (x < 2 ** -14) return signBit | roundHalfEven(x * 2 ** 24);
  let exponent = Math.floor(Math.log2(x));
  // log2 can be off by one near powers of two; fix it so 2^e <= x < 2^(e+1).
  if (2 ** exponent > x) exponent -= 1;
  else if (2 ** (exponent + 1) <= x) exponent += 1;
  // 10 mantissa bits: the value in units of 2^(e-10), rounded; a carry into 2048 bumps the exponent.
  const scaled = roundHalfEven(x * 2 ** (10 - exponent));
  let bits = ((exponent + 15) << 10) + (scaled - 1024);
  if (bits >= 0x7c00) bits = 0x7c00; // overflow to infinity
  return signBit | bits;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** f16 bytes -> float32 values (exact). */
export function f16BytesToFloat32(bytes: Uint8Array): Float32Array {
  const n = checkWholeElements(bytes, 2, "f16 bytes");
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = float16BitsToNumber(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  return out;
}

/** float values -> f16 bytes (round to nearest, ties to even). */
export function float32ToF16Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const h = numberToFloat16Bits(values[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

// --- every numeric dtype -------------------------------------------------------------------------

export type TensorValues =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/**
 * The values of a tensor's bytes as the natural typed array: F16/BF16 widen to Float32Array, BOOL
 * reads as 0/1 bytes, 64-bit integers as BigInt arrays. The 8-bit float formats and complex
 * numbers have no JS counterpart; read their raw bytes instead.
 */
export function tensorValues(dtype: SafetensorsDtype, bytes: Uint8Array): TensorValues {
  assertLittleEndianHost();
  const width = dtypeByteSize(dtype);
  const n = checkWholeElements(bytes, width, `${dtype} bytes`);
  if (dtype === "BF16") return bf16BytesToFloat32(bytes);
  if (dtype === "F16") return f16BytesToFloat32(bytes);
  const { buffer, offset } = alignedBuffer(bytes, width);
  switch (dtype) {
    case "F64":
      return new Float64Array(buffer, offset, n);
    case "F32":
      return new Float32Array(buffer, offset, n);
    case "I64":
      return new BigInt64Array(buffer, offset, n);
    case "U64":
      return new BigUint64Array(buffer, offset, n);
    case "I32":
      return new Int32Array(buffer, offset, n);
    case "U32":
      return new Uint32Array(buffer, offset, n);
    case "I16":
      return new Int16Array(buffer, offset, n);
    case "U16":
      return new Uint16Array(buffer, offset, n);
    case "I8":
      return new Int8Array(buffer, offset, n);
    case "U8":
    case "BOOL":
      return new Uint8Array(buffer, offset, n);
    default:
      throw new Error(`tensorValues: ${dtype} has no JavaScript number type; read its raw bytes`);
  }
}

/** A typed array's bytes as a Uint8Array view (no copy), ready for writeSafetensors. */
export function typedArrayBytes(values: ArrayBufferView): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
