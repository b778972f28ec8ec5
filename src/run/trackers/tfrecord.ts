import { maskedCrc32c } from "./crc32c.js";

/**
 * One TFRecord, the framing of TensorBoard event files: the data's length (uint64, little-endian),
 * the masked CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data. A reader checks
 * both CRCs, so a record cut short by a crash is recognised and skipped, not misread.
 */
export function tfRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(8 + 4 + data.length + 4);
  record.writeBigUInt64LE(BigInt(data.length), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return record;
}
