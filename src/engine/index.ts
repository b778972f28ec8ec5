/**
 * The tensor engine: libtorch (ATen + autograd) through a thin N-API addon (native/), with a typed
 * TypeScript face. Build the addon once with `npm run build:native`. Full notes: docs/engine.md.
 *
 * ```ts
 * import { tensor, zeros, randn, scope, keep, noGrad, manualSeed, AdamW } from "../engine/index.js";
 *
 * manualSeed(0);
 * const w = randn([4, 3]).mul(0.1).setRequiresGrad();   // a leaf parameter (caller owns it)
 * const loss = scope(() => {                            // frees every tensor made inside...
 *   const x = tensor([[1, 2, 3]]);                      // number arrays -> float32 by default
 *   const y = x.matmul(w.transpose(0, 1)).silu();       // [1, 4]
 *   return y.pow(2).mean();                             // ...except what it returns
 * });
 * loss.backward();                                      // w.grad is now set
 * const g = w.grad!.toFloat32Array();                   // copy out to JS
 * loss.dispose();
 * ```
 *
 * Lifetimes (never rely on the GC for tensor memory):
 * - `scope(fn)` frees tensors created inside fn except those in its result (a Tensor, or arrays /
 *   plain objects / Maps of them), which move to the enclosing scope. Nestable; fn may be async
 *   (AsyncLocalStorage keeps each async task's scope and grad mode separate).
 * - Outside any scope, or after `keep(x)`, the caller owns a tensor and calls `x.dispose()`.
 * - `noGrad(fn)` / `enableGrad(fn)`: autograd off / on inside fn (also across awaits).
 *
 * Tensor (methods return new tensors unless named with a trailing `_`):
 * - metadata: shape, dtype, device, ndim, numel, size(d), requiresGrad, isLeaf, toString()
 * - data out: item(), toArray(), tolist(), toFloat32Array(), toFloat64Array(), toInt32Array(),
 *   toBigInt64Array(), toUint8Array(), toBoolArray(), toBytes() (raw bytes in its own dtype)
 * - matmul, mm, bmm, linear(weight[out,in], bias?), outer
 * - add/sub(x, alpha?), mul, div, pow (x: Tensor | number), neg, exp, log, log1p, expm1, sqrt,
 *   rsqrt, square, reciprocal, abs, sign, floor, ceil, round, sin, cos, tanh, sigmoid, silu, relu,
 *   gelu, erf, maximum/minimum(Tensor | number), clamp(min?, max?), remainder, nanToNum, isnan, isfinite
 * - eq/ne/lt/le/gt/ge(Tensor | number) -> bool, logicalAnd/Or/Not, maskedFill(mask, value)
 * - sum/mean(dim?, keepdim?, dtype?), max()/min() or max(dim)/min(dim) -> {values, indices},
 *   amax/amin(dims, keepdim), argmax/argmin(dim?, keepdim), logsumexp(dims, keepdim), prod, all,
 *   any, norm(ord, dims?), cumsum(dim), softmax/logSoftmax(dim, dtype?), topk, sort, argsort
 * - gather(dim, index), indexSelect(dim, index), index([idx | null, ...]), scatter, scatterAdd, oneHot
 * - view/reshape(...shape), flatten, transpose, permute, contiguous, unsqueeze, squeeze(dim?),
 *   narrow(dim, start, len), slice(dim, start?, end?, step?), select, expand, expandAs, repeat,
 *   repeatInterleave, flip, triu/tril(diagonal), split(size | sizes, dim), chunk(n, dim)
 * - to(dtype | device | {dtype, device}), float(), bfloat16(), half(), double(), long(), int(),
 *   bool(), cpu(), clone(), detach()
 * - autograd: setRequiresGrad(flag?), grad (Tensor | null), setGrad(t | null), zeroGrad(),
 *   backward(grad?, {retainGraph, createGraph})
 * - in place (return this): add_, sub_, mul_, div_, addcmul_, addcdiv_, lerp_, sqrt_, clamp_,
 *   copy_, zero_, fill_, maskedFill_
 * - random: multinomial(n, replacement?), dropout(p, train?)
 *
 * Factories and multi-input ops: tensor(data, {dtype, device, shape, requiresGrad}), fromBytes,
 * fromFile, zeros, ones, full, empty, randn, rand, randint, arange, zerosLike, onesLike, fullLike,
 * cat, stack, where(cond, a, b), embedding(weight, ids), einsum, scaledDotProductAttention (libtorch
 * >= 2.0, see hasFusedAttention()).
 *
 * Autograd: backward(outputs, grads), grad(outputs, inputs, options) (torch.autograd.grad).
 * Runtime: manualSeed, getRngState/setRngState, setNumThreads/getNumThreads/getBlasNumThreads,
 * cuda.{isAvailable, deviceCount, synchronize, memoryStats, emptyCache}, mps.{isAvailable, synchronize},
 * synchronize(device), bestDevice(), bf16MatmulIsFast(device), buildInfo(), liveTensorCount().
 * Default device of factories: setDefaultDevice / getDefaultDevice (initially $WORDLE_DEVICE or cpu).
 * Optimisers: AdamW, SGD (state()/loadState() as plain typed arrays), clipGradNorm.
 *
 * dtypes: float32, bfloat16, float16, float64, int64, int32, int16, int8, uint8, bool.
 * devices: cpu, cuda, cuda:N, mps. Errors from libtorch are thrown as JS Errors that name the op
 * and the input shapes, e.g. "aten::matmul(float32[2, 3], float32[4, 5]): mat1 and mat2 shapes ...".
 */
export { aten } from "./aten.js";
export { backward, grad } from "./autograd.js";
export {
  arange,
  cat,
  einsum,
  embedding,
  empty,
  fromBytes,
  fromFile,
  full,
  fullLike,
  getDefaultDevice,
  hasFusedAttention,
  type NestedArray,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  scaledDotProductAttention,
  setDefaultDevice,
  stack,
  type TensorOptions,
  type TypedData,
  tensor,
  where,
  zeros,
  zerosLike,
} from "./create.js";
export {
  type DistributedBackend,
  type DistributedEnv,
  DistributedError,
  distributedBackends,
  distributedEnv,
  type JsonCodec,
  ProcessGroup,
  type ProcessGroupEnvOptions,
  type ProcessGroupOptions,
  type ReduceOp,
} from "./distributed.js";
export { type Device, DTYPES, type DType, dtypeSize, isFloatingDType } from "./dtype.js";
export {
  decodeAttention,
  fusedKernelSupport,
  loraEpilogue,
  setFusedKernels,
  smallLoraLinear,
} from "./fused-kernels.js";
export { countOps, type OpTotals } from "./op-profile.js";
export { AdamW, type AdamWOptions } from "./optim/adamw.js";
export { type ClipGradOptions, clipGradNorm } from "./optim/clip-grad.js";
export { SGD, type SGDOptions } from "./optim/sgd.js";
export type { OptimizerState, StateBuffer } from "./optim/state.js";
export {
  bestDevice,
  bf16MatmulIsFast,
  buildInfo,
  cuda,
  deviceProblem,
  getBlasCoreName,
  getBlasNumThreads,
  getNumThreads,
  getRngState,
  manualSeed,
  mps,
  setNumThreads,
  setRngState,
  synchronize,
} from "./runtime.js";
export { enableGrad, isGradEnabled, keep, liveTensorCount, noGrad, scope } from "./scope.js";
export { type BackwardOptions, type Dims, type Operand, Tensor, type ValuesIndices } from "./tensor.js";
export { type LoadOptions, loadSafetensors, saveSafetensors } from "./tensor-io.js";
