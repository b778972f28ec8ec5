/**
 * The safetensors header: parse and validate it when reading, build it when writing.
 *
 * File layout:  [u64 little-endian N] [N bytes of UTF-8 JSON] [byte buffer]
 * The JSON maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
 * the start of the byte buffer), plus an optional "__metadata__": {string: string}.
 *
 * A valid file's tensors tile the byte buffer exactly: sorted by begin they are contiguous from 0,
 * none overlap, and the last one ends at the end of the file. Anything else is corruption
 * (truncated download, a hand-edited header) and is reported with the file name and tensor name.
 */
import {
  dtypeByteSize,
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  shapeElementCount,
} from "./safetensors-dtypes.js";

/** The header length field is 8 bytes. */
export const HEADER_LENGTH_BYTES = 8;
/** The reference implementation refuses headers over 100 MB; a larger length means corruption. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute position of the first byte in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** Tensors in file order (ascending byteOffset). */
  tensors: SafetensorsTensorInfo[];
  /** Absolute position where the byte buffer starts (8 + N). */
  dataStart: number;
}

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "SafetensorsError";
  }
}

/** Read the u64 header length and check it fits the file before anything is allocated for it. */
export function parseHeaderLength(file: string, first8: Uint8Array, fileSize: number): number {
  if (fileSize < HEADER_LENGTH_BYTES)
    throw new SafetensorsError(
      file,
      `file is ${fileSize} bytes, too short for the 8-byte header length (truncated or not a safetensors file)`,
    );
  const view = new DataView(first8.buffer, first8.byteOffset, HEADER_LENGTH_BYTES);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(
      file,
      `header length field says ${length} bytes, above the ${MAX_HEADER_BYTES}-byte limit (corrupt header length or not a safetensors file)`,
    );
  const n = Number(length);
  if (HEADER_LENGTH_BYTES + n > fileSize)
    throw new SafetensorsError(
      file,
      `header length field says ${n} bytes but only ${fileSize - HEADER_LENGTH_BYTES} bytes follow it (truncated file or corrupt header length)`,
    );
  if (n < 2) throw new SafetensorsError(file, `header length ${n} is too small to hold a JSON object`);
  return n;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parse and validate the JSON header. `fileSize` is the total file size, used to check that the
 * tensors cover the byte buffer exactly.
 */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = HEADER_LENGTH_BYTES + headerBytes.byteLength;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, "header is not valid UTF-8 (corrupt header or not a safetensors file)");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(
      file,
      `header is not valid JSON (${(error as Error).message}); it starts with ${describe(text.slice(0, 40))}`,
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new SafetensorsError(file, `header must be a JSON object, got ${describe(json)}`);

  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry))
        throw new SafetensorsError(
          file,
          `"__metadata__" must be an object of strings, got ${describe(entry)}`,
        );
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== "string")
          throw new SafetensorsError(
            file,
            `"__metadata__"."${key}" must be a string, got ${describe(value)}`,
          );
        metadata[key] = value;
      }
      continue;
    }
    tensors.push(parseTensorEntry(file, name, entry, dataStart));
  }
  checkTiling(file, tensors, dataStart, fileSize);
  return { metadata, tensors, dataStart };
}

function parseTensorEntry(
  file: string,
  name: string,
  entry: unknown,
  dataStart: number,
): SafetensorsTensorInfo {
  const where = `tensor "${name}"`;
  if (entry === null || typeof entry !== "object" || Array.isArray(entry))
    throw new SafetensorsError(
      file,
      `${where}: expected {dtype, shape, data_offsets}, got ${describe(entry)}`,
    );
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype === "string" && /^F[46]/.test(dtype) && !isSafetensorsDtype(dtype))
    throw new SafetensorsError(file, `${where}: sub-byte dtype ${dtype} is not supported`);
  if (!isSafetensorsDtype(dtype))
    throw new SafetensorsError(
      file,
      `${where}: unknown dtype ${describe(dtype)}; expected one of ${SAFETENSORS_DTYPES.join(", ")}`,
    );
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger))
    throw new SafetensorsError(
      file,
      `${where}: shape must be an array of non-negative integers, got ${describe(shape)}`,
    );
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger))
    throw new SafetensorsError(
      file,
      `${where}: data_offsets must be [begin, end] with non-negative integers, got ${describe(offsets)}`,
    );
  const [begin, end] = offsets as [number, number];
  if (end < begin)
    throw new SafetensorsError(file, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const expected = shapeElementCount(shape) * dtypeByteSize(dtype);
  if (end - begin !== expected)
    throw new SafetensorsError(
      file,
      `${where}: shape [${shape.join(", ")}] of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  return { name, dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: end - begin };
}

/** Sorted by position, tensors must start at 0, follow each other without gaps or overlaps, and end at EOF. */
function checkTiling(
  file: string,
  tensors: SafetensorsTensorInfo[],
  dataStart: number,
  fileSize: number,
): void {
  tensors.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let cursor = dataStart;
  let previous: SafetensorsTensorInfo | undefined;
  for (const tensor of tensors) {
    const begin = tensor.byteOffset - dataStart;
    if (tensor.byteOffset < cursor)
      throw new SafetensorsError(
        file,
        `tensor "${tensor.name}" (data_offsets begin ${begin}) overlaps tensor "${previous?.name}" (ends at ${cursor - dataStart})`,
      );
    if (tensor.byteOffset > cursor)
      throw new SafetensorsError(
        file,
        `tensor "${tensor.name}" starts at data offset ${begin} but the previous tensor ends at ${cursor - dataStart}: the tensors must cover the byte buffer without gaps`,
      );
    cursor += tensor.byteLength;
    previous = tensor;
  }
  const bufferBytes = fileSize - dataStart;
  const covered = cursor - dataStart;
  if (covered > bufferBytes)
    throw new SafetensorsError(
      file,
      `tensors need ${covered} bytes of data but the file holds only ${bufferBytes} after the header (truncated file)`,
    );
  if (covered < bufferBytes)
    throw new SafetensorsError(
      file,
      `the file holds ${bufferBytes} bytes after the header but the tensors cover only ${covered} (trailing bytes or a corrupt header)`,
    );
}

export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  byteLength: number;
}

/**
 * Build the header bytes (length field included) for entries already in file order. The JSON is
 * padded with spaces to a multiple of 8 bytes so the byte buffer starts 8-aligned, as the format
 * recommends; JSON parsers ignore trailing whitespace.
 */
export function buildHeader(entries: readonly HeaderEntry[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const entry of entries) {
    header[entry.name] = {
      dtype: entry.dtype,
      shape: entry.shape,
      data_offsets: [offset, offset + entry.byteLength],
    };
    offset += entry.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(HEADER_LENGTH_BYTES + padded).fill(0x20, HEADER_LENGTH_BYTES);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, HEADER_LENGTH_BYTES);
  return out;
}
