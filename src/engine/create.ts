// Creating tensors: from JS values, typed arrays, raw bytes and files, and the usual factories.
// Also the ops that take several tensors on equal footing (cat, stack, where, embedding, einsum).
import { aten } from "./aten.js";
import { checkDevice, type Device, type DType, dtypeCode, dtypeSize } from "./dtype.js";
import { native } from "./native.js";
import { adoptHandle, call, type Operand, type Tensor } from "./tensor.js";

export interface TensorOptions {
  /** Defaults to float32 for JS numbers and to the array's own type for typed arrays. */
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

/** Nested arrays of numbers or booleans, as accepted by tensor(). */
export type NestedArray = number | boolean | readonly NestedArray[];

export type TypedData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Int16Array;

function typedDType(data: TypedData): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint8Array) return "uint8";
  const name = (data as ArrayBufferView).constructor.name;
  throw new Error(
    `tensor(): ${name} is not supported (raw bf16/f16 bits: use fromBytes(bytes, "bfloat16", shape))`,
  );
}

// The device factories use when options.device is not given. WORDLE_DEVICE sets it for a whole
// process, e.g. `WORDLE_DEVICE=cuda npx tsx --test test/engine-*.test.ts` runs the engine tests on a GPU.
let defaultDevice: Device = checkDevice(process.env.WORDLE_DEVICE ?? "cpu");

export function setDefaultDevice(device: Device): void {
  defaultDevice = checkDevice(device);
}

export function getDefaultDevice(): Device {
  return defaultDevice;
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad) t.setRequiresGrad(true);
  return t;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0] as NestedArray;
  }
  return shape;
}

function flatten(
  data: NestedArray,
  shape: readonly number[],
  depth: number,
  out: number[],
  path: string,
): boolean {
  if (depth === shape.length) {
    if (typeof data === "number") {
      out.push(data);
      return false;
    }
    if (typeof data === "boolean") {
      out.push(data ? 1 : 0);
      return true;
    }
    throw new Error(
      `tensor(): element at ${path || "[]"} is ${Array.isArray(data) ? "an array" : typeof data}, expected a number or boolean (ragged nesting?)`,
    );
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new Error(
      `tensor(): ragged array at ${path || "[]"}: expected ${shape[depth]} elements like the first row`,
    );
  }
  let sawBool = false;
  for (let i = 0; i < data.length; i++)
    sawBool = flatten(data[i] as NestedArray, shape, depth + 1, out, `${path}[${i}]`) || sawBool;
  return sawBool;
}

/**
 * A tensor from JS data: a number, nested arrays of numbers/booleans, or a typed array (flat; give
 * `shape`, default 1-d). Data is copied once into libtorch memory, converting to `dtype` on the way.
 */
export function tensor(
  data: NestedArray | TypedData,
  options: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  if (ArrayBuffer.isView(data)) {
    const src = typedDType(data);
    const shape = options.shape ?? [data.length];
    const h = native.fromData(
      data,
      dtypeCode(src),
      shape,
      dtypeCode(options.dtype ?? src),
      options.device ?? defaultDevice,
    );
    return finish(adoptHandle(h), options);
  }
  const shape = inferShape(data);
  const flat: number[] = [];
  const isBool = flatten(data, shape, 0, flat, "");
  if (options.shape !== undefined) {
    const n = options.shape.reduce((a, b) => a * b, 1);
    if (n !== flat.length)
      throw new Error(`tensor(): ${flat.length} values do not fit shape [${options.shape.join(", ")}]`);
  }
  const dtype = options.dtype ?? (isBool ? "bool" : "float32");
  const h = native.fromData(
    new Float64Array(flat),
    dtypeCode("float64"),
    options.shape ?? shape,
    dtypeCode(dtype),
    options.device ?? defaultDevice,
  );
  return finish(adoptHandle(h), options);
}

/** A tensor from raw little-endian bytes of `dtype` (e.g. a safetensors slice; bf16 included). */
export function fromBytes(
  bytes: Uint8Array,
  dtype: DType,
  shape: readonly number[],
  options: Omit<TensorOptions, "dtype"> & { to?: DType } = {},
): Tensor {
  const expected = shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype);
  if (bytes.byteLength !== expected) {
    throw new Error(
      `fromBytes(): ${bytes.byteLength} bytes given, shape [${shape.join(", ")}] of ${dtype} needs ${expected}`,
    );
  }
  const h = native.fromData(
    bytes,
    dtypeCode(dtype),
    shape,
    dtypeCode(options.to ?? dtype),
    options.device ?? defaultDevice,
  );
  return finish(adoptHandle(h), options);
}

/**
 * A tensor read straight from a file region (raw little-endian `dtype` values at byteOffset), with
 * no intermediate JS buffer: how large checkpoints are loaded. `to` converts on the way.
 */
export function fromFile(
  path: string,
  byteOffset: number,
  dtype: DType,
  shape: readonly number[],
  options: Omit<TensorOptions, "dtype"> & { to?: DType } = {},
): Tensor {
  const h = native.fromFile(
    path,
    byteOffset,
    dtypeCode(dtype),
    shape,
    dtypeCode(options.to ?? dtype),
    options.device ?? defaultDevice,
  );
  return finish(adoptHandle(h), options);
}

function dtypeArg(options: TensorOptions): number | undefined {
  return options.dtype === undefined ? undefined : dtypeCode(options.dtype);
}

/** For *Like factories: undefined keeps the source tensor's device. */
function likeDeviceArg(options: TensorOptions): string | undefined {
  return options.device === undefined ? undefined : checkDevice(options.device);
}

function deviceArg(options: TensorOptions): string {
  return options.device === undefined ? defaultDevice : checkDevice(options.device);
}

export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(call(aten.zeros, shape, dtypeArg(options), undefined, deviceArg(options)), options);
}

export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(call(aten.ones, shape, dtypeArg(options), undefined, deviceArg(options)), options);
}

/** Filled with `value`; dtype defaults to float32 (not inferred from the value, unlike torch). */
export function full(shape: readonly number[], value: number | boolean, options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? (typeof value === "boolean" ? "bool" : "float32");
  return finish(call(aten.full, shape, value, dtypeCode(dtype), undefined, deviceArg(options)), options);
}

/** Uninitialised memory (fast; every element must be written before it is read). */
export function empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(call(aten.empty, shape, dtypeArg(options), undefined, deviceArg(options)), options);
}

/** Standard normal samples from the global generator (see manualSeed). */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(call(aten.randn, shape, dtypeArg(options), undefined, deviceArg(options)), options);
}

/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(call(aten.rand, shape, dtypeArg(options), undefined, deviceArg(options)), options);
}

/** Integers uniform in [low, high), int64 unless dtype says otherwise. */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  options: TensorOptions = {},
): Tensor {
  return call(
    aten.randint,
    low,
    high,
    shape,
    dtypeCode(options.dtype ?? "int64"),
    undefined,
    deviceArg(options),
  );
}

/**
 * [start, end) in steps of `step`: arange(end) or arange(start, end, step). dtype defaults to
 * int64 when all bounds are integers and float32 otherwise, as in torch.
 */
export function arange(end: number, options?: TensorOptions): Tensor;
export function arange(start: number, end: number, step?: number, options?: TensorOptions): Tensor;
export function arange(
  a: number,
  b?: number | TensorOptions,
  c?: number | TensorOptions,
  d?: TensorOptions,
): Tensor {
  let start = 0;
  let end = a;
  let step = 1;
  let options: TensorOptions = {};
  if (typeof b === "number") {
    start = a;
    end = b;
    if (typeof c === "number") step = c;
    else if (c) options = c;
    if (d) options = d;
  } else if (b) {
    options = b;
  }
  return finish(
    call(aten.arange, start, end, step, dtypeArg(options), undefined, deviceArg(options)),
    options,
  );
}

export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(
    call(aten.zerosLike, t.handle, dtypeArg(options), undefined, likeDeviceArg(options)),
    options,
  );
}

export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(call(aten.onesLike, t.handle, dtypeArg(options), undefined, likeDeviceArg(options)), options);
}

export function fullLike(t: Tensor, value: number, options: TensorOptions = {}): Tensor {
  return finish(
    call(aten.fullLike, t.handle, value, dtypeArg(options), undefined, likeDeviceArg(options)),
    options,
  );
}

/** Concatenates along an existing dim. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return call(
    aten.cat,
    tensors.map((t) => t.handle),
    dim,
  );
}

/** Stacks along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return call(
    aten.stack,
    tensors.map((t) => t.handle),
    dim,
  );
}

/** Element-wise `condition ? a : b` with broadcasting; a and b may be numbers. */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  if (typeof a === "number" && typeof b === "number") return call(aten.whereScalar, condition.handle, a, b);
  if (typeof a === "number") return call(aten.whereScalarSelf, condition.handle, a, (b as Tensor).handle);
  if (typeof b === "number") return call(aten.whereScalarOther, condition.handle, a.handle, b);
  return call(aten.whereT, condition.handle, a.handle, b.handle);
}

/** Rows of `weight` [vocab, dim] picked by int64 `ids` (any shape) -> [...ids.shape, dim]. */
export function embedding(weight: Tensor, ids: Tensor, paddingIdx = -1): Tensor {
  return call(aten.embedding, weight.handle, ids.handle, paddingIdx);
}

/** Einstein summation, e.g. einsum("bij,bjk->bik", a, b). */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  return call(
    aten.einsum,
    equation,
    operands.map((t) => t.handle),
  );
}

/** Whether the linked libtorch has fused scaled_dot_product_attention (PyTorch >= 2.0). */
export function hasFusedAttention(): boolean {
  return aten.scaledDotProductAttention.available;
}

/**
 * softmax(q k^T * scale + mask) v with the fused kernel (libtorch >= 2.0; check hasFusedAttention()).
 * q [.., Sq, D], k/v [.., Sk, D]; attnMask is bool (true = attend) or additive float.
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: { attnMask?: Tensor; dropoutP?: number; isCausal?: boolean; scale?: number } = {},
): Tensor {
  return call(
    aten.scaledDotProductAttention,
    q.handle,
    k.handle,
    v.handle,
    options.attnMask ? options.attnMask.handle : null,
    options.dropoutP ?? 0,
    options.isCausal ?? false,
    options.scale, // omitted when undefined: libtorch 2.0 has no scale argument
  );
}
