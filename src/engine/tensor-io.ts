// safetensors <-> Tensor: load a file's tensors into the engine and save tensors to a file.
//
// Loading reads each tensor's byte range straight from the file into libtorch memory (fromFile),
// so a 1 GB checkpoint never also sits in a JS Buffer. Saving copies each tensor out only when
// the writer reaches it.
import { fromFile } from "./create.js";
import type { Device, DType } from "./dtype.js";
import { openSafetensors, SafetensorsError, writeSafetensors } from "./safetensors.js";
import type { SafetensorsDtype } from "./safetensors-dtypes.js";
import { keep, noGrad, scope } from "./scope.js";
import type { Tensor } from "./tensor.js";

const ENGINE_DTYPE: Partial<Record<SafetensorsDtype, DType>> = {
  F64: "float64",
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

const FILE_DTYPE: Record<DType, SafetensorsDtype> = {
  float64: "F64",
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

export interface LoadOptions {
  device?: Device;
  /** Converts floating-point tensors to this dtype (integer and bool tensors keep theirs). */
  dtype?: DType;
  /** Only load the tensors whose names pass this test. */
  filter?: (name: string) => boolean;
}

/**
 * Reads tensors from a safetensors file. The returned tensors belong to the caller (they are not
 * freed by an enclosing scope): dispose them when done.
 */
export function loadSafetensors(path: string, options: LoadOptions = {}): Map<string, Tensor> {
  const file = openSafetensors(path);
  const out = new Map<string, Tensor>();
  try {
    scope(() =>
      noGrad(() => {
        for (const info of file.tensors.values()) {
          if (options.filter && !options.filter(info.name)) continue;
          const dtype = ENGINE_DTYPE[info.dtype];
          if (dtype === undefined) {
            throw new SafetensorsError(
              path,
              `tensor "${info.name}" has dtype ${info.dtype}, which the engine does not support`,
            );
          }
          const isFloat =
            info.dtype === "F64" || info.dtype === "F32" || info.dtype === "F16" || info.dtype === "BF16";
          const to = isFloat && options.dtype !== undefined ? options.dtype : dtype;
          out.set(
            info.name,
            keep(fromFile(path, info.byteOffset, dtype, info.shape, { to, device: options.device })),
          );
        }
      }),
    );
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  } finally {
    file.close();
  }
  return out;
}

/** Writes tensors (atomically) to a safetensors file, in their own dtypes. */
export function saveSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Record<string, string>,
): void {
  const entries: [string, Tensor][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, Tensor>);
  writeSafetensors(
    path,
    entries.map(([name, t]) => ({
      name,
      dtype: FILE_DTYPE[t.dtype],
      shape: [...t.shape],
      data: () => t.toBytes(),
    })),
    metadata,
  );
}
