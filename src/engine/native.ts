// Loads the libtorch addon (native/build/Release/wordle_torch.node) and describes its functions.
// Only src/engine talks to this module; everything else uses the Tensor API.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../paths.js";
import { ADDON_HOW_TO_BUILD, addonUnavailable } from "./addon-errors.js";

/** A tensor handle: an index into the addon's table of live tensors. */
export type Handle = number;

export interface CudaMemoryStats {
  allocated: number;
  allocatedPeak: number;
  reserved: number;
  reservedPeak: number;
}

export interface BuildInfo {
  torchVersion: string;
  cudaBuild: boolean;
  mpsBuild: boolean;
  parallel: string;
  config: string;
}

/** The addon's functions (native/src/addon.cc). Op arguments follow the ATen schema order. */
export interface NativeAddon {
  dtypes: Record<string, number>;
  resolveOp(name: string, overload: string): number;
  hasOp(name: string, overload: string): boolean;
  opSchema(op: number): string;
  callOp(op: number, ...args: unknown[]): unknown;
  callOpVoid(op: number, ...args: unknown[]): void;
  counterDropout(h: Handle, p: number): Handle;
  /** x @ w^T + bias by the few-row bf16 kernel, or -1 where it does not apply. */
  smallLinear(x: Handle, w: Handle, bias: Handle | null): Handle;
  /** The few-row bf16 kernel with PEFT's LoRA update folded in (small_linear.cc), or -1. */
  loraSmallLinear(
    x: Handle,
    w: Handle,
    bias: Handle | null,
    a: Handle,
    b: Handle,
    partSizes: number[],
    scale: number,
  ): Handle;
  setFusedKernels(on: boolean): boolean;
  fusedKernelSupport(): { linear: boolean; attention: boolean; loraEpilogue: boolean };
  /** bf16(f32(base) + scale * down b^T) with autograd (lora_epilogue.cc), or -1. */
  loraEpilogue(base: Handle, down: Handle, b: Handle, scale: number): Handle;
  /** One bf16 grouped-query attention decode step, cache written in place (decode_attention.cc), or -1. */
  decodeAttention(
    qkv: Handle,
    cos: Handle,
    sin: Handle,
    keys: Handle,
    values: Handle,
    position: number,
    visible: Handle | null,
    heads: number,
    kvHeads: number,
    scale: number,
  ): Handle;
  fromData(
    data: ArrayBufferView,
    srcDtype: number,
    shape: readonly number[],
    dstDtype: number,
    device?: string,
  ): Handle;
  toData(h: Handle, dtype: number): ArrayBuffer;
  fromFile(
    path: string,
    byteOffset: number,
    srcDtype: number,
    shape: readonly number[],
    dstDtype: number,
    device?: string,
  ): Handle;
  release(h: Handle): void;
  releaseMany(handles: Handle[]): void;
  share(h: Handle): Handle;
  liveCount(): number;
  opProfile(on: boolean): void;
  opProfileTotals(): Record<string, [number, number]>;
  meta(h: Handle): number[];
  device(h: Handle): string;
  item(h: Handle): number;
  describe(h: Handle): string;
  strides(h: Handle): number[];
  version(h: Handle): number;
  setRequiresGrad(h: Handle, flag: boolean): void;
  requiresGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  backward(
    outputs: Handle | Handle[],
    grads: Handle | (Handle | null)[] | null,
    retainGraph: boolean,
    createGraph: boolean,
  ): void;
  autogradGrad(
    outputs: Handle[],
    inputs: Handle[],
    grads: (Handle | null)[] | null,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number): void;
  getRngState(device?: string): Uint8Array;
  setRngState(device: string | undefined, state: Uint8Array): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** OpenBLAS's threads, or -1 when libtorch does not use OpenBLAS. */
  getBlasNumThreads(): number;
  getBlasCoreName(): string;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(index?: number): void;
  cudaMemoryStats(index?: number): CudaMemoryStats;
  cudaEmptyCache(): void;
  mpsAvailable(): boolean;
  mpsSynchronize(): void;
  buildInfo(): BuildInfo;
}

export const ADDON_PATH = join(PACKAGE_ROOT, "native", "build", "Release", "wordle_torch.node");

function load(): NativeAddon {
  // WORDLE_GRPO_NO_ADDON=1 acts as if the addon were not built (tests of the no-libtorch paths).
  if (process.env.WORDLE_GRPO_NO_ADDON === "1" || !existsSync(ADDON_PATH)) {
    throw addonUnavailable(
      `the libtorch addon is not built (${ADDON_PATH} is missing): ${ADDON_HOW_TO_BUILD}`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(ADDON_PATH) as NativeAddon;
  } catch (err) {
    const reason = (err as Error).message.split("\n")[0];
    throw addonUnavailable(
      `cannot load the libtorch addon ${ADDON_PATH} (${reason}); if libtorch moved or was upgraded, rebuild it: ${ADDON_HOW_TO_BUILD}`,
    );
  }
}

export const native: NativeAddon = load();

// libgomp can start libtorch with a single intra-op thread (seen on a 2-vCPU VM where nproc is 2),
// which halves matmul speed. Use every available core unless OMP_NUM_THREADS says otherwise;
// setNumThreads() overrides this at any time.
if (process.env.OMP_NUM_THREADS === undefined && native.getNumThreads() < availableParallelism()) {
  native.setNumThreads(availableParallelism());
}
