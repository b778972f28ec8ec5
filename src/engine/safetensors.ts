/**
 * safetensors files: open one and read tensors one at a time, or write one atomically.
 *
 * Reading never loads the whole file: `openSafetensors` reads only the header, and `read(name)`
 * reads that tensor's byte range from the open file descriptor. A loader copies each tensor into
 * libtorch and drops the bytes, so a 1 GB checkpoint is never held twice in memory.
 *
 * Writing streams the tensors one after the other into a temporary file next to the target,
 * fsyncs it and renames it over the target, so a crash leaves either the old file or the new one,
 * never half a checkpoint.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { AtomicFile } from "../util/atomic.js";
import {
  dtypeByteSize,
  isSafetensorsDtype,
  type SafetensorsDtype,
  shapeElementCount,
} from "./safetensors-dtypes.js";
import {
  buildHeader,
  HEADER_LENGTH_BYTES,
  parseHeader,
  parseHeaderLength,
  SafetensorsError,
  type SafetensorsTensorInfo,
} from "./safetensors-header.js";

export type { SafetensorsTensorInfo } from "./safetensors-header.js";
export { SafetensorsError } from "./safetensors-header.js";

export interface SafetensorsFile {
  readonly path: string;
  /** The "__metadata__" strings ({} when absent). */
  readonly metadata: Record<string, string>;
  /** Every tensor by name, in file order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The tensor's bytes, read from disk now, in a fresh buffer (offset 0, so typed views are aligned). */
  read(name: string): Uint8Array;
  /** Read the tensor's bytes into `target` (e.g. memory the engine owns), skipping the extra buffer. */
  readInto(name: string, target: Uint8Array): void;
  close(): void;
}

/** Fill `target` from `fd` at `position`, looping because a single read may return fewer bytes. */
function readFully(path: string, fd: number, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, target.byteLength - done, position + done);
    if (n === 0)
      throw new SafetensorsError(
        path,
        `unexpected end of file at byte ${position + done} (the file shrank or is truncated)`,
      );
    done += n;
  }
}

/** Open a safetensors file and validate its header; tensor bytes are read on demand. */
export function openSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new SafetensorsError(path, `cannot open: ${(error as Error).message}`);
  }
  let open = true;
  try {
    const fileSize = fstatSync(fd).size;
    const lengthBytes = new Uint8Array(HEADER_LENGTH_BYTES);
    if (fileSize >= HEADER_LENGTH_BYTES) readFully(path, fd, lengthBytes, 0);
    const headerLength = parseHeaderLength(path, lengthBytes, fileSize);
    const headerBytes = new Uint8Array(headerLength);
    readFully(path, fd, headerBytes, HEADER_LENGTH_BYTES);
    const header = parseHeader(path, headerBytes, fileSize);
    const tensors = new Map(header.tensors.map((t) => [t.name, t]));

    const lookup = (name: string): SafetensorsTensorInfo => {
      if (!open) throw new SafetensorsError(path, `read("${name}") after close()`);
      const info = tensors.get(name);
      if (!info) throw new SafetensorsError(path, `no tensor named "${name}" (the file has ${tensors.size})`);
      return info;
    };
    return {
      path,
      metadata: header.metadata,
      tensors,
      read(name) {
        const info = lookup(name);
        const bytes = new Uint8Array(new ArrayBuffer(info.byteLength));
        readFully(path, fd, bytes, info.byteOffset);
        return bytes;
      },
      readInto(name, target) {
        const info = lookup(name);
        if (target.byteLength !== info.byteLength)
          throw new SafetensorsError(
            path,
            `readInto("${name}"): target has ${target.byteLength} bytes, the tensor has ${info.byteLength}`,
          );
        readFully(path, fd, target, info.byteOffset);
      },
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (error) {
    closeSync(fd);
    open = false;
    throw error;
  }
}

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

/** Read a whole (small) file: adapters, reference fixtures, optimizer state. */
export function readSafetensors(path: string): SafetensorsContents {
  const file = openSafetensors(path);
  try {
    const tensors = new Map<string, SafetensorsTensor>();
    for (const info of file.tensors.values())
      tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data: file.read(info.name) });
    return { metadata: file.metadata, tensors };
  } finally {
    file.close();
  }
}

export interface SafetensorsWriteEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /**
   * The raw little-endian bytes, or a function producing them when this entry is written, so a
   * caller exporting many large tensors can copy each one out of the engine only when its turn comes.
   */
  data: Uint8Array | (() => Uint8Array);
}

function checkWriteEntries(path: string, entries: readonly SafetensorsWriteEntry[]): void {
  const seen = new Set<string>();
  for (const entry of entries) {
    const where = `tensor "${entry.name}"`;
    if (typeof entry.name !== "string" || entry.name.length === 0)
      throw new SafetensorsError(path, "cannot write a tensor with an empty name");
    if (entry.name === "__metadata__")
      throw new SafetensorsError(path, `"__metadata__" is reserved and cannot name a tensor`);
    if (seen.has(entry.name)) throw new SafetensorsError(path, `${where} appears twice`);
    seen.add(entry.name);
    if (!isSafetensorsDtype(entry.dtype))
      throw new SafetensorsError(path, `${where}: unknown dtype ${JSON.stringify(entry.dtype)}`);
    if (!entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new SafetensorsError(path, `${where}: shape must be non-negative integers, got [${entry.shape}]`);
    if (typeof entry.data !== "function") checkDataLength(path, entry, entry.data);
  }
}

function entryByteLength(entry: SafetensorsWriteEntry): number {
  return shapeElementCount(entry.shape) * dtypeByteSize(entry.dtype);
}

function checkDataLength(path: string, entry: SafetensorsWriteEntry, data: Uint8Array): void {
  const expected = entryByteLength(entry);
  if (data.byteLength !== expected)
    throw new SafetensorsError(
      path,
      `tensor "${entry.name}": shape [${entry.shape.join(", ")}] of ${entry.dtype} needs ${expected} bytes, data has ${data.byteLength}`,
    );
}

/**
 * File order, as the reference implementation writes it: wider dtypes first, then by name. With
 * the header padded to 8 bytes this keeps every tensor aligned to its element width, so readers can
 * view the bytes in place; the name order makes the output deterministic.
 */
function fileOrder(a: SafetensorsWriteEntry, b: SafetensorsWriteEntry): number {
  const width = dtypeByteSize(b.dtype) - dtypeByteSize(a.dtype);
  if (width !== 0) return width;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Write `entries` to `path` atomically (util/atomic.ts: a temporary file in the same folder,
 * fsynced and renamed over `path`). On any error the temporary file is removed and `path` is
 * untouched.
 */
export function writeSafetensors(
  path: string,
  entries: readonly SafetensorsWriteEntry[],
  metadata?: Record<string, string>,
): void {
  checkWriteEntries(path, entries);
  for (const [key, value] of Object.entries(metadata ?? {}))
    if (typeof value !== "string")
      throw new SafetensorsError(path, `metadata "${key}" must be a string, got ${typeof value}`);
  const ordered = [...entries].sort(fileOrder);
  const header = buildHeader(
    ordered.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, byteLength: entryByteLength(e) })),
    metadata,
  );
  let file: AtomicFile | undefined;
  try {
    file = new AtomicFile(path);
    file.write(header);
    for (const entry of ordered) {
      const data = typeof entry.data === "function" ? entry.data() : entry.data;
      checkDataLength(path, entry, data);
      file.write(data);
    }
    file.commit();
  } catch (error) {
    file?.abort();
    if (error instanceof SafetensorsError) throw error;
    throw new SafetensorsError(path, `write failed: ${(error as Error).message}`);
  }
}
