// The Tensor class: a typed, scoped handle to a libtorch tensor.
//
// Every method maps to one ATen operator (see aten.ts) called through the addon; results belong to
// the current scope (scope.ts). Semantics follow PyTorch: broadcasting, type promotion, autograd.
import { type AtenOp, aten } from "./aten.js";
import { type Device, type DType, dtypeCode, dtypeFromCode, isFloatingDType } from "./dtype.js";
import { type Handle, native } from "./native.js";
import { adopt, enterOp, forget, type Scope, Scoped, scope } from "./scope.js";

/** A value or a 0-d tensor operand: most binary ops take either. */
export type Operand = Tensor | number;

/** Several dims, one dim, or (where allowed) undefined for "all dims". */
export type Dims = number | readonly number[];

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (torch retain_graph). */
  retainGraph?: boolean;
  /** Record the backward pass itself for higher-order gradients (torch create_graph). */
  createGraph?: boolean;
}

/** Wraps a fresh handle from the addon in a Tensor owned by `owner` (the current scope). */
function wrap(handle: Handle, owner: Scope | null): Tensor {
  const t = new Tensor(handle);
  adopt(t, owner);
  return t;
}

/** Runs an op returning one tensor. */
export function call(op: AtenOp, ...args: unknown[]): Tensor {
  const owner = enterOp();
  return wrap(native.callOp(op.id, ...args) as Handle, owner);
}

/** Runs an op returning several tensors (a tuple or a Tensor[]). */
export function callMany(op: AtenOp, ...args: unknown[]): Tensor[] {
  const owner = enterOp();
  const handles = native.callOp(op.id, ...args) as Handle[];
  return handles.map((h) => wrap(h, owner));
}

/** Runs an op for its side effect (in-place ops); allocates no handle for the result. */
export function callVoid(op: AtenOp, ...args: unknown[]): void {
  enterOp();
  native.callOpVoid(op.id, ...args);
}

/**
 * Runs one of the addon's own kernels (dropout, the decode kernels) under the context's grad mode,
 * as callOp runs operators; a negative handle (the kernel declined) gives null.
 */
export function callKernel(kernel: () => Handle): Tensor | null {
  const owner = enterOp();
  const handle = kernel();
  return handle >= 0 ? wrap(handle, owner) : null;
}

/** Wraps a handle produced outside callOp (data loading, grads) in the current scope. */
export function adoptHandle(handle: Handle): Tensor {
  return wrap(handle, enterOp());
}

function dimList(dims: Dims): readonly number[] {
  return typeof dims === "number" ? [dims] : dims;
}

/** Accepts view(2, 3), view([2, 3]) and view(...shape). */
function shapeArgs(args: readonly (number | readonly number[])[]): number[] {
  if (args.length === 1 && typeof args[0] !== "number") return [...(args[0] as readonly number[])];
  return args as number[];
}

export class Tensor extends Scoped {
  private h: Handle;
  private cachedShape: readonly number[] | undefined;
  private cachedDtype: DType | undefined;

  /** Internal: tensors come from factories (tensor, zeros, ...) and ops, never from `new`. */
  constructor(handle: Handle) {
    super();
    this.h = handle;
  }

  // ---------------------------------------------------------------- identity and metadata

  get handle(): Handle {
    if (this.h < 0) throw new Error("Tensor used after dispose()");
    return this.h;
  }

  get isDisposed(): boolean {
    return this.h < 0;
  }

  /** Frees the tensor now. Safe to call twice. Views and autograd graphs keep their own references. */
  dispose(): void {
    const handle = this.takeHandle();
    if (handle >= 0) native.release(handle);
  }

  takeHandle(): Handle {
    const handle = this.h;
    if (handle < 0) return -1;
    if (this._scope === null) forget(this);
    this.h = -1;
    this._scope = null;
    return handle;
  }

  private loadMeta(): void {
    const meta = native.meta(this.handle);
    this.cachedDtype = dtypeFromCode(meta[0] as number);
    this.cachedShape = Object.freeze(meta.slice(1));
  }

  get shape(): readonly number[] {
    if (this.cachedShape === undefined) this.loadMeta();
    return this.cachedShape as readonly number[];
  }

  get dtype(): DType {
    if (this.cachedDtype === undefined) this.loadMeta();
    return this.cachedDtype as DType;
  }

  get device(): Device {
    return native.device(this.handle) as Device;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** Size of one dim (negative dims count from the end). */
  size(dim: number): number {
    const shape = this.shape;
    const d = dim < 0 ? dim + shape.length : dim;
    const s = shape[d];
    if (s === undefined) throw new Error(`size(${dim}): tensor has ${shape.length} dims`);
    return s;
  }

  get strides(): number[] {
    return native.strides(this.handle);
  }

  /** The version counter: every in-place write (an optimizer step, copy_) increases it. */
  get version(): number {
    return native.version(this.handle);
  }

  override toString(): string {
    return this.h < 0 ? "Tensor(disposed)" : `Tensor(${native.describe(this.h)})`;
  }

  // ---------------------------------------------------------------- reading values

  /** The single value of a one-element tensor. */
  item(): number {
    return native.item(this.handle);
  }

  toFloat32Array(): Float32Array {
    return new Float32Array(native.toData(this.handle, dtypeCode("float32")));
  }

  toFloat64Array(): Float64Array {
    return new Float64Array(native.toData(this.handle, dtypeCode("float64")));
  }

  toInt32Array(): Int32Array {
    return new Int32Array(native.toData(this.handle, dtypeCode("int32")));
  }

  toBigInt64Array(): BigInt64Array {
    return new BigInt64Array(native.toData(this.handle, dtypeCode("int64")));
  }

  toUint8Array(): Uint8Array {
    return new Uint8Array(native.toData(this.handle, dtypeCode("uint8")));
  }

  toBoolArray(): boolean[] {
    return Array.from(new Uint8Array(native.toData(this.handle, dtypeCode("bool"))), (v) => v !== 0);
  }

  /** Raw bytes in the tensor's own dtype (little-endian, row-major): what safetensors stores. */
  toBytes(): Uint8Array {
    return new Uint8Array(native.toData(this.handle, dtypeCode(this.dtype)));
  }

  /** Flat values as JS numbers (int64 beyond 2^53 loses precision). */
  toArray(): number[] {
    return Array.from(this.toFloat64Array());
  }

  /** Nested arrays shaped like the tensor, as torch's tolist(). */
  tolist(): unknown {
    const flat = this.dtype === "bool" ? this.toBoolArray() : this.toArray();
    const shape = this.shape;
    if (shape.length === 0) return flat[0];
    let pos = 0;
    const build = (dim: number): unknown[] => {
      const out: unknown[] = [];
      const n = shape[dim] as number;
      for (let i = 0; i < n; i++) out.push(dim === shape.length - 1 ? flat[pos++] : build(dim + 1));
      return out;
    };
    return build(0);
  }

  // ---------------------------------------------------------------- autograd

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }

  /** Sets requires_grad in place (leaf tensors only) and returns this. */
  setRequiresGrad(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }

  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }

  /** The accumulated gradient (a new handle in the current scope), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : adoptHandle(g);
  }

  /** Replaces the .grad (null drops it, like zero_grad(set_to_none=True)). */
  setGrad(grad: Tensor | null): this {
    native.setGrad(this.handle, grad === null ? null : grad.handle);
    return this;
  }

  /** Drops the gradient (set_to_none semantics: the next backward allocates a fresh one). */
  zeroGrad(): this {
    native.setGrad(this.handle, null);
    return this;
  }

  /** Backpropagates from this tensor; `grad` is required unless this has one element. */
  backward(grad?: Tensor, options: BackwardOptions = {}): void {
    enterOp();
    native.backward(
      this.handle,
      grad === undefined ? null : grad.handle,
      options.retainGraph ?? false,
      options.createGraph ?? false,
    );
  }

  detach(): Tensor {
    return call(aten.detach, this.handle);
  }

  clone(): Tensor {
    return call(aten.clone, this.handle);
  }

  // ---------------------------------------------------------------- dtype and device

  /** Converts to a dtype and/or device (returns this tensor's data unchanged if nothing changes). */
  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    let spec: { dtype?: DType; device?: Device };
    if (typeof target !== "string") spec = target;
    else if (isDeviceName(target)) spec = { device: target as Device };
    else spec = { dtype: target as DType };
    if (spec.device !== undefined) {
      return call(aten.toDevice, this.handle, spec.device, dtypeCode(spec.dtype ?? this.dtype));
    }
    // to.dtype returns an alias (same autograd identity) when the dtype already matches, as in torch.
    return call(aten.toDtype, this.handle, dtypeCode(spec.dtype ?? this.dtype));
  }

  float(): Tensor {
    return this.to("float32");
  }
  bfloat16(): Tensor {
    return this.to("bfloat16");
  }
  long(): Tensor {
    return this.to("int64");
  }
  int(): Tensor {
    return this.to("int32");
  }

  // ---------------------------------------------------------------- matrix products

  matmul(other: Tensor): Tensor {
    return call(aten.matmul, this.handle, other.handle);
  }

  /** beta * this + alpha * (m1 @ m2) for 2-d tensors, in one BLAS call (this is not modified). */
  addmm(m1: Tensor, m2: Tensor, options: { beta?: number; alpha?: number } = {}): Tensor {
    return call(aten.addmm, this.handle, m1.handle, m2.handle, options.beta ?? 1, options.alpha ?? 1);
  }

  /**
   * this @ weight^T + bias, with weight [out, in] as in torch.nn.functional.linear. bf16 on the CPU
   * with at most 8 rows and no autograd graph (a decode step) runs the engine's bandwidth-bound
   * kernel (native/src/small_linear.cc) where the CPU has AVX-512 BF16.
   */
  linear(weight: Tensor, bias?: Tensor | null): Tensor {
    const biasHandle = bias ? bias.handle : null;
    if (this.dtype === "bfloat16" && this.device === "cpu") {
      const out = callKernel(() => native.smallLinear(this.handle, weight.handle, biasHandle));
      if (out) return out;
    }
    return call(aten.linear, this.handle, weight.handle, biasHandle);
  }

  // ---------------------------------------------------------------- element-wise arithmetic

  /** this + alpha * other */
  add(other: Operand, alpha?: number): Tensor {
    return typeof other === "number"
      ? call(aten.addS, this.handle, other, alpha)
      : call(aten.addT, this.handle, other.handle, alpha);
  }

  /** this - alpha * other */
  sub(other: Operand, alpha?: number): Tensor {
    return typeof other === "number"
      ? call(aten.subS, this.handle, other, alpha)
      : call(aten.subT, this.handle, other.handle, alpha);
  }

  mul(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.mulS, this.handle, other)
      : call(aten.mulT, this.handle, other.handle);
  }

  div(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.divS, this.handle, other)
      : call(aten.divT, this.handle, other.handle);
  }

  pow(exponent: Operand): Tensor {
    return typeof exponent === "number"
      ? call(aten.powTS, this.handle, exponent)
      : call(aten.powTT, this.handle, exponent.handle);
  }

  /** Element-wise max with a tensor, or max(this, value) for a number (clamp from below). */
  maximum(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.clamp, this.handle, other, null)
      : call(aten.maximum, this.handle, other.handle);
  }

  minimum(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.clamp, this.handle, null, other)
      : call(aten.minimum, this.handle, other.handle);
  }

  /** Clamps to [min, max]; either bound may be null/undefined, a number, or a tensor. */
  clamp(min?: Operand | null, max?: Operand | null): Tensor {
    if (typeof min === "object" && min !== null)
      return call(
        aten.clampT,
        this.handle,
        min.handle,
        typeof max === "object" && max !== null ? max.handle : null,
      );
    if (typeof max === "object" && max !== null) return call(aten.clampT, this.handle, null, max.handle);
    return call(aten.clamp, this.handle, min ?? null, max ?? null);
  }

  neg(): Tensor {
    return call(aten.neg, this.handle);
  }
  exp(): Tensor {
    return call(aten.exp, this.handle);
  }
  log(): Tensor {
    return call(aten.log, this.handle);
  }
  log1p(): Tensor {
    return call(aten.log1p, this.handle);
  }
  expm1(): Tensor {
    return call(aten.expm1, this.handle);
  }
  sqrt(): Tensor {
    return call(aten.sqrt, this.handle);
  }
  rsqrt(): Tensor {
    return call(aten.rsqrt, this.handle);
  }
  square(): Tensor {
    return call(aten.mulT, this.handle, this.handle);
  }
  abs(): Tensor {
    return call(aten.abs, this.handle);
  }
  floor(): Tensor {
    return call(aten.floor, this.handle);
  }
  ceil(): Tensor {
    return call(aten.ceil, this.handle);
  }
  round(): Tensor {
    return call(aten.round, this.handle);
  }
  sin(): Tensor {
    return call(aten.sin, this.handle);
  }
  cos(): Tensor {
    return call(aten.cos, this.handle);
  }
  tanh(): Tensor {
    return call(aten.tanh, this.handle);
  }
  sigmoid(): Tensor {
    return call(aten.sigmoid, this.handle);
  }
  /** x * sigmoid(x) */
  silu(): Tensor {
    return call(aten.silu, this.handle);
  }
  isfinite(): Tensor {
    return call(aten.isfinite, this.handle);
  }
  /** Whether every element is finite (no NaN, no infinity): one pass, one number back. */
  allFinite(): boolean {
    return scope(() => this.isfinite().all().item() === 1);
  }
  /** Replaces NaN / +inf / -inf (defaults: 0, dtype max, dtype min). */
  nanToNum(nan?: number, posinf?: number, neginf?: number): Tensor {
    return call(aten.nanToNum, this.handle, nan ?? null, posinf ?? null, neginf ?? null);
  }

  // ---------------------------------------------------------------- comparisons and logic (bool results)

  eq(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.eqS, this.handle, other)
      : call(aten.eqT, this.handle, other.handle);
  }
  ne(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.neS, this.handle, other)
      : call(aten.neT, this.handle, other.handle);
  }
  lt(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.ltS, this.handle, other)
      : call(aten.ltT, this.handle, other.handle);
  }
  le(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.leS, this.handle, other)
      : call(aten.leT, this.handle, other.handle);
  }
  gt(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.gtS, this.handle, other)
      : call(aten.gtT, this.handle, other.handle);
  }
  ge(other: Operand): Tensor {
    return typeof other === "number"
      ? call(aten.geS, this.handle, other)
      : call(aten.geT, this.handle, other.handle);
  }
  logicalAnd(other: Tensor): Tensor {
    return call(aten.logicalAnd, this.handle, other.handle);
  }
  logicalOr(other: Tensor): Tensor {
    return call(aten.logicalOr, this.handle, other.handle);
  }
  logicalNot(): Tensor {
    return call(aten.logicalNot, this.handle);
  }

  /** Where mask is true, value; elsewhere this. */
  maskedFill(mask: Tensor, value: Operand): Tensor {
    return typeof value === "number"
      ? call(aten.maskedFillS, this.handle, mask.handle, value)
      : call(aten.maskedFillT, this.handle, mask.handle, value.handle);
  }

  // ---------------------------------------------------------------- reductions

  /** Sum of all elements, or over `dim` (keepdim keeps reduced dims as size 1). */
  sum(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const code = dtype === undefined ? undefined : dtypeCode(dtype);
    return dim === undefined
      ? call(aten.sumAll, this.handle, code)
      : call(aten.sumDim, this.handle, dimList(dim), keepdim, code);
  }

  mean(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const code = dtype === undefined ? undefined : dtypeCode(dtype);
    return dim === undefined
      ? call(aten.meanAll, this.handle, code)
      : call(aten.meanDim, this.handle, dimList(dim), keepdim, code);
  }

  /** Largest element (no dim), or {values, indices} along one dim. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return call(aten.maxAll, this.handle);
    const [values, indices] = callMany(aten.maxDim, this.handle, dim, keepdim) as [Tensor, Tensor];
    return { values, indices };
  }

  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return call(aten.minAll, this.handle);
    const [values, indices] = callMany(aten.minDim, this.handle, dim, keepdim) as [Tensor, Tensor];
    return { values, indices };
  }

  /** Max over dims (all dims when omitted); gradient spreads evenly over ties. */
  amax(dim: Dims = [], keepdim = false): Tensor {
    return call(aten.amax, this.handle, dimList(dim), keepdim);
  }

  /** Index of the max (over the flattened tensor when dim is omitted), int64. */
  argmax(dim?: number, keepdim = false): Tensor {
    return call(aten.argmax, this.handle, dim ?? null, keepdim);
  }

  /** log(sum(exp(x))) over dims, computed stably. */
  logsumexp(dim: Dims, keepdim = false): Tensor {
    return call(aten.logsumexp, this.handle, dimList(dim), keepdim);
  }

  /** True if every element is non-zero. */
  all(): Tensor {
    return call(aten.all, this.handle);
  }

  any(): Tensor {
    return call(aten.any, this.handle);
  }

  /** Vector p-norm over dims (all when omitted), as torch.linalg.vector_norm. */
  norm(ord = 2, dim?: Dims, keepdim = false): Tensor {
    return call(aten.vectorNorm, this.handle, ord, dim === undefined ? null : dimList(dim), keepdim);
  }

  cumsum(dim: number, dtype?: DType): Tensor {
    return call(aten.cumsum, this.handle, dim, dtype === undefined ? undefined : dtypeCode(dtype));
  }

  /** softmax along dim; `dtype` casts the input first (e.g. bf16 logits -> float32). */
  softmax(dim: number, dtype?: DType): Tensor {
    return call(aten.softmax, this.handle, dim, dtype === undefined ? undefined : dtypeCode(dtype));
  }

  logSoftmax(dim: number, dtype?: DType): Tensor {
    return call(aten.logSoftmax, this.handle, dim, dtype === undefined ? undefined : dtypeCode(dtype));
  }

  /** The k largest (or smallest) along dim, with their indices. */
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
    const [values, indices] = callMany(aten.topk, this.handle, k, dim, largest, sorted) as [Tensor, Tensor];
    return { values, indices };
  }

  sort(dim = -1, descending = false): ValuesIndices {
    const [values, indices] = callMany(aten.sort, this.handle, dim, descending) as [Tensor, Tensor];
    return { values, indices };
  }

  argsort(dim = -1, descending = false): Tensor {
    return call(aten.argsort, this.handle, dim, descending);
  }

  // ---------------------------------------------------------------- indexing

  /** out[i][j] = this[i][index[i][j]] for dim 1 (torch.gather); index is int64. */
  gather(dim: number, index: Tensor): Tensor {
    return call(aten.gather, this.handle, dim, index.handle);
  }

  indexSelect(dim: number, index: Tensor): Tensor {
    return call(aten.indexSelect, this.handle, dim, index.handle);
  }

  /** Copy of this with src written at index along dim (torch.scatter). */
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return call(aten.scatter, this.handle, dim, index.handle, src.handle);
  }

  /** int64 class ids -> one-hot int64 of size numClasses (-1: max + 1). */
  oneHot(numClasses = -1): Tensor {
    return call(aten.oneHot, this.handle, numClasses);
  }

  // ---------------------------------------------------------------- shapes

  view(...shape: (number | readonly number[])[]): Tensor {
    return call(aten.view, this.handle, shapeArgs(shape));
  }

  reshape(...shape: (number | readonly number[])[]): Tensor {
    return call(aten.reshape, this.handle, shapeArgs(shape));
  }

  transpose(dim0: number, dim1: number): Tensor {
    return call(aten.transpose, this.handle, dim0, dim1);
  }

  permute(...dims: (number | readonly number[])[]): Tensor {
    return call(aten.permute, this.handle, shapeArgs(dims));
  }

  contiguous(): Tensor {
    return call(aten.contiguous, this.handle);
  }

  unsqueeze(dim: number): Tensor {
    return call(aten.unsqueeze, this.handle, dim);
  }

  /** Removes size-1 dims (all of them, or only `dim`). */
  squeeze(dim?: number): Tensor {
    return dim === undefined ? call(aten.squeezeAll, this.handle) : call(aten.squeezeDim, this.handle, dim);
  }

  /** The view this[..., start:start+length, ...] along dim. */
  narrow(dim: number, start: number, length: number): Tensor {
    return call(aten.narrow, this.handle, dim, start, length);
  }

  /** The view this[..., start:end:step, ...] along dim (Python slice semantics, negatives allowed). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return call(aten.slice, this.handle, dim, start ?? null, end ?? null, step);
  }

  /** this[..., index, ...] along dim, dropping that dim. */
  select(dim: number, index: number): Tensor {
    return call(aten.select, this.handle, dim, index);
  }

  /** Broadcast view to a larger shape (-1 keeps a dim). */
  expand(...shape: (number | readonly number[])[]): Tensor {
    return call(aten.expand, this.handle, shapeArgs(shape));
  }

  /** Tiles the data (torch.Tensor.repeat). */
  repeat(...repeats: (number | readonly number[])[]): Tensor {
    return call(aten.repeat, this.handle, shapeArgs(repeats));
  }

  /** Repeats each element `repeats` times along dim (e.g. KV heads for grouped-query attention). */
  repeatInterleave(repeats: number, dim?: number): Tensor {
    return call(aten.repeatInterleave, this.handle, repeats, dim ?? null);
  }

  /** Upper triangle (elements with col - row >= diagonal), rest zero. */
  triu(diagonal = 0): Tensor {
    return call(aten.triu, this.handle, diagonal);
  }

  tril(diagonal = 0): Tensor {
    return call(aten.tril, this.handle, diagonal);
  }

  /** Splits along dim into chunks of `size` (the last may be smaller), or into the given sizes. */
  split(size: number | readonly number[], dim = 0): Tensor[] {
    return typeof size === "number"
      ? callMany(aten.split, this.handle, size, dim)
      : callMany(aten.splitWithSizes, this.handle, size, dim);
  }

  chunk(chunks: number, dim = 0): Tensor[] {
    return callMany(aten.chunk, this.handle, chunks, dim);
  }

  // ---------------------------------------------------------------- random

  /** Samples indices from each row's (unnormalised, non-negative) weights. */
  multinomial(numSamples: number, replacement = false): Tensor {
    return call(aten.multinomial, this.handle, numSamples, replacement);
  }

  /**
   * Zeroes elements with probability p and scales the rest by 1/(1-p) when train is true. On the
   * CPU the mask comes from a counter-based generator (native/src/dropout.cc: parallel, and
   * regenerated rather than stored for the backward pass; the same distribution as
   * torch.nn.functional.dropout, not the same draws); elsewhere from aten::dropout.
   */
  dropout(p: number, train = true): Tensor {
    if (train && p > 0 && this.device === "cpu" && isFloatingDType(this.dtype))
      return callKernel(() => native.counterDropout(this.handle, p)) as Tensor;
    return call(aten.dropout, this.handle, p, train);
  }

  // ---------------------------------------------------------------- in place (return this)

  /** this += alpha * other */
  add_(other: Operand, alpha?: number): this {
    if (typeof other === "number") callVoid(aten.addS_, this.handle, other, alpha);
    else callVoid(aten.addT_, this.handle, other.handle, alpha);
    return this;
  }

  mul_(other: Operand): this {
    if (typeof other === "number") callVoid(aten.mulS_, this.handle, other);
    else callVoid(aten.mulT_, this.handle, other.handle);
    return this;
  }

  div_(other: Operand): this {
    if (typeof other === "number") callVoid(aten.divS_, this.handle, other);
    else callVoid(aten.divT_, this.handle, other.handle);
    return this;
  }

  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    callVoid(aten.addcmul_, this.handle, t1.handle, t2.handle, value);
    return this;
  }

  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    callVoid(aten.addcdiv_, this.handle, t1.handle, t2.handle, value);
    return this;
  }

  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    callVoid(aten.lerpS_, this.handle, end.handle, weight);
    return this;
  }

  /** Copies src's values into this (broadcasting, converting dtype and device). */
  copy_(src: Tensor): this {
    callVoid(aten.copy_, this.handle, src.handle);
    return this;
  }

  zero_(): this {
    callVoid(aten.zero_, this.handle);
    return this;
  }

  fill_(value: number): this {
    callVoid(aten.fill_, this.handle, value);
    return this;
  }
}

function isDeviceName(s: string): boolean {
  return s === "cpu" || s === "mps" || s === "cuda" || s.startsWith("cuda:");
}
