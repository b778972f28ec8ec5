/**
 * The element types a safetensors file can hold, and how many bytes one element takes.
 *
 * safetensors stores every tensor as raw little-endian bytes; the dtype string in the header is
 * the only thing that says how to read them. We know the byte width of every byte-addressable
 * dtype so the header can be checked (shape x width must equal the byte range). The sub-byte
 * float formats (F4, F6_*) pack elements across byte boundaries and are rejected by name.
 */

export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
  C64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

export const SAFETENSORS_DTYPES = Object.keys(SAFETENSORS_DTYPE_BYTES) as SafetensorsDtype[];

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.hasOwn(SAFETENSORS_DTYPE_BYTES, value);
}

export function dtypeByteSize(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPE_BYTES[dtype];
}

/** Number of elements of a shape; the empty shape is a scalar (one element). */
export function shapeElementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}
