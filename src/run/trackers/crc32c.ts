/**
 * CRC-32C (Castagnoli), the checksum TFRecord files use; Node's zlib has only the IEEE CRC-32.
 * Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF ("123456789" gives
 * 0xE3069283).
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * TFRecord stores CRCs masked (rotated right by 15 bits, plus a constant) because a CRC of data
 * that itself holds CRCs is weak; readers unmask before comparing.
 */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
