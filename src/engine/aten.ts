// The ATen operators the Tensor API uses, resolved by schema name on first use.
//
// Each entry is (name, overload) as in PyTorch's native_functions.yaml; arguments are passed in
// schema order and `undefined` means "the schema's default". Resolution is lazy so that ops missing
// from an older libtorch (e.g. scaled_dot_product_attention before 2.0) only fail when used.
import { native } from "./native.js";

export class AtenOp {
  private resolved = -1;
  constructor(
    readonly name: string,
    readonly overload = "",
  ) {}

  get id(): number {
    if (this.resolved < 0) this.resolved = native.resolveOp(this.name, this.overload);
    return this.resolved;
  }

  /** Whether the linked libtorch has this operator. */
  get available(): boolean {
    return native.hasOp(this.name, this.overload);
  }

  get schema(): string {
    return native.opSchema(this.id);
  }
}

const op = (name: string, overload = "") => new AtenOp(`aten::${name}`, overload);

export const aten = {
  // linear algebra
  matmul: op("matmul"),
  linear: op("linear"),
  addmm: op("addmm"),
  einsum: op("einsum"),
  // arithmetic
  addT: op("add", "Tensor"),
  addS: op("add", "Scalar"),
  subT: op("sub", "Tensor"),
  subS: op("sub", "Scalar"),
  mulT: op("mul", "Tensor"),
  mulS: op("mul", "Scalar"),
  divT: op("div", "Tensor"),
  divS: op("div", "Scalar"),
  powTS: op("pow", "Tensor_Scalar"),
  powTT: op("pow", "Tensor_Tensor"),
  maximum: op("maximum"),
  minimum: op("minimum"),
  neg: op("neg"),
  exp: op("exp"),
  log: op("log"),
  log1p: op("log1p"),
  expm1: op("expm1"),
  sqrt: op("sqrt"),
  rsqrt: op("rsqrt"),
  abs: op("abs"),
  floor: op("floor"),
  ceil: op("ceil"),
  round: op("round"),
  sin: op("sin"),
  cos: op("cos"),
  tanh: op("tanh"),
  sigmoid: op("sigmoid"),
  silu: op("silu"),
  isfinite: op("isfinite"),
  nanToNum: op("nan_to_num"),
  clamp: op("clamp"),
  clampT: op("clamp", "Tensor"),
  // comparisons and logic
  eqT: op("eq", "Tensor"),
  eqS: op("eq", "Scalar"),
  neT: op("ne", "Tensor"),
  neS: op("ne", "Scalar"),
  ltT: op("lt", "Tensor"),
  ltS: op("lt", "Scalar"),
  leT: op("le", "Tensor"),
  leS: op("le", "Scalar"),
  gtT: op("gt", "Tensor"),
  gtS: op("gt", "Scalar"),
  geT: op("ge", "Tensor"),
  geS: op("ge", "Scalar"),
  logicalAnd: op("logical_and"),
  logicalOr: op("logical_or"),
  logicalNot: op("logical_not"),
  whereT: op("where", "self"),
  whereScalarOther: op("where", "ScalarOther"),
  whereScalarSelf: op("where", "ScalarSelf"),
  whereScalar: op("where", "Scalar"),
  maskedFillS: op("masked_fill", "Scalar"),
  maskedFillT: op("masked_fill", "Tensor"),
  // reductions
  sumAll: op("sum"),
  sumDim: op("sum", "dim_IntList"),
  meanAll: op("mean"),
  meanDim: op("mean", "dim"),
  maxAll: op("max"),
  maxDim: op("max", "dim"),
  minAll: op("min"),
  minDim: op("min", "dim"),
  amax: op("amax"),
  argmax: op("argmax"),
  logsumexp: op("logsumexp"),
  all: op("all"),
  any: op("any"),
  vectorNorm: op("linalg_vector_norm"),
  cumsum: op("cumsum"),
  softmax: op("softmax", "int"),
  logSoftmax: op("log_softmax", "int"),
  topk: op("topk"),
  sort: op("sort"),
  argsort: op("argsort"),
  // indexing
  gather: op("gather"),
  indexSelect: op("index_select"),
  embedding: op("embedding"),
  scatter: op("scatter", "src"),
  oneHot: op("one_hot"),
  // shapes
  cat: op("cat"),
  stack: op("stack"),
  split: op("split", "Tensor"),
  splitWithSizes: op("split_with_sizes"),
  chunk: op("chunk"),
  view: op("view"),
  reshape: op("reshape"),
  transpose: op("transpose", "int"),
  permute: op("permute"),
  contiguous: op("contiguous"),
  unsqueeze: op("unsqueeze"),
  squeezeAll: op("squeeze"),
  squeezeDim: op("squeeze", "dim"),
  narrow: op("narrow"),
  slice: op("slice", "Tensor"),
  select: op("select", "int"),
  expand: op("expand"),
  repeat: op("repeat"),
  repeatInterleave: op("repeat_interleave", "self_int"),
  triu: op("triu"),
  tril: op("tril"),
  // dtype / device / copies
  toDtype: op("to", "dtype"),
  toDevice: op("to", "device"),
  clone: op("clone"),
  detach: op("detach"),
  // random
  multinomial: op("multinomial"),
  dropout: op("dropout"),
  // creation
  arange: op("arange", "start_step"),
  zeros: op("zeros"),
  ones: op("ones"),
  full: op("full"),
  empty: op("empty", "memory_format"),
  randn: op("randn"),
  rand: op("rand"),
  randint: op("randint", "low"),
  zerosLike: op("zeros_like"),
  onesLike: op("ones_like"),
  fullLike: op("full_like"),
  // in place
  addT_: op("add_", "Tensor"),
  addS_: op("add_", "Scalar"),
  mulT_: op("mul_", "Tensor"),
  mulS_: op("mul_", "Scalar"),
  divT_: op("div_", "Tensor"),
  divS_: op("div_", "Scalar"),
  addcmul_: op("addcmul_"),
  addcdiv_: op("addcdiv_"),
  lerpS_: op("lerp_", "Scalar"),
  copy_: op("copy_"),
  zero_: op("zero_"),
  fill_: op("fill_", "Scalar"),
  // fused attention (libtorch >= 2.0 only: check .available)
  scaledDotProductAttention: op("scaled_dot_product_attention"),
} as const;
