/**
 * The few protocol-buffer wire encodings the TensorBoard event writer needs (tensorboard-event.ts),
 * written by hand so the project needs no protobuf runtime. Each function returns one encoded
 * field (key and value); a message is the concatenation of its fields, in any order.
 *
 * Wire types: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit. A key is (field << 3) | wire type.
 */

/** Base-128 varint of a non-negative integer up to 2^53 (steps and lengths stay far below). */
function varint(value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`varint: ${value} is not a non-negative integer`);
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

const key = (field: number, wireType: number): number[] => varint(field * 8 + wireType);

/** int64, int32 (non-negative), enum and bool fields. */
export function varintField(field: number, value: number): Buffer {
  return Buffer.from([...key(field, 0), ...varint(value)]);
}

export function doubleField(field: number, value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return Buffer.concat([Buffer.from(key(field, 1)), bytes]);
}

/** A `float` field: the value rounded to 32 bits, as TensorBoard stores scalars. */
export function floatField(field: number, value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeFloatLE(value);
  return Buffer.concat([Buffer.from(key(field, 5)), bytes]);
}

/** `bytes`, `string` (UTF-8) and embedded-message fields. */
export function bytesField(field: number, value: Uint8Array | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  return Buffer.concat([Buffer.from([...key(field, 2), ...varint(bytes.length)]), bytes]);
}

/** An embedded message made of the given fields. */
export function messageField(field: number, ...fields: Uint8Array[]): Buffer {
  return bytesField(field, Buffer.concat(fields));
}
