// Process-wide engine settings: random generators, threads, CUDA and MPS.
import { readFileSync } from "node:fs";
import { checkDevice, type Device, type DType } from "./dtype.js";
import type { BuildInfo, CudaMemoryStats } from "./native.js";
import { native } from "./native.js";

/** Seeds the CPU generator and all CUDA generators (torch.manual_seed). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** The full state of a device's default generator (torch.get_rng_state()); save it with a checkpoint. */
export function getRngState(device: Device = "cpu"): Uint8Array {
  return native.getRngState(checkDevice(device));
}

/** Restores a state from getRngState: the same samples follow. */
export function setRngState(state: Uint8Array, device: Device = "cpu"): void {
  native.setRngState(checkDevice(device), state);
}

/**
 * Intra-op threads used by matmuls and element-wise kernels (OpenBLAS's pool too, where libtorch
 * uses OpenBLAS: its idle workers would otherwise spin on the cores left free).
 */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** OpenBLAS's thread count, or null when libtorch does not use OpenBLAS (MKL, Accelerate). */
export function getBlasNumThreads(): number | null {
  const n = native.getBlasNumThreads();
  return n < 0 ? null : n;
}

/** OpenBLAS's kernel set (e.g. "SkylakeX", "Haswell", "Zen"), or null when libtorch does not use OpenBLAS. */
export function getBlasCoreName(): string | null {
  const name = native.getBlasCoreName();
  return name === "" ? null : name;
}

export const cuda = {
  isAvailable: (): boolean => native.cudaAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** Waits for all queued kernels on a device (current device by default); needed for timing. */
  synchronize: (index?: number): void => native.cudaSynchronize(index),
  /** Bytes held by the caching allocator: allocated (in tensors) and reserved (from the driver). */
  memoryStats: (index = 0): CudaMemoryStats => native.cudaMemoryStats(index),
  /** Returns cached, unused blocks to the driver. */
  emptyCache: (): void => native.cudaEmptyCache(),
};

export const mps = {
  isAvailable: (): boolean => native.mpsAvailable(),
  synchronize: (): void => native.mpsSynchronize(),
};

/** Waits for queued work on a device (no-op on CPU), so wall-clock timings are honest. */
export function synchronize(device: Device): void {
  if (device.startsWith("cuda")) native.cudaSynchronize(device === "cuda" ? -1 : Number(device.slice(5)));
  else if (device === "mps") native.mpsSynchronize();
}

/**
 * Why `device` (with `dtype`) cannot run here, in one sentence, or null when it can: a CUDA device
 * this machine does not have, MPS where there is none, float16 on the CPU (libtorch has no float16
 * matrix products there). Commands check this before they create anything.
 */
export function deviceProblem(device: Device, dtype?: DType): string | null {
  if (device.startsWith("cuda")) {
    if (!native.cudaAvailable())
      return `device ${device}: no CUDA device here (libtorch was built without CUDA, or no GPU is visible)`;
    const index = device === "cuda" ? 0 : Number(device.slice(5));
    const count = native.cudaDeviceCount();
    if (!(index < count))
      return `device ${device}: this machine has ${count} CUDA device${count === 1 ? "" : "s"} (cuda:0${count > 1 ? ` to cuda:${count - 1}` : ""})`;
  }
  if (device === "mps" && !native.mpsAvailable()) return "device mps: Metal (MPS) is not available here";
  if (device === "cpu" && dtype === "float16")
    return "dtype float16 on the CPU: libtorch has no float16 matrix products there; use bfloat16 (AVX-512 CPUs) or float32";
  return null;
}

/** The best available device: cuda if present, then mps, else cpu. */
export function bestDevice(): Device {
  if (native.cudaAvailable()) return "cuda";
  if (native.mpsAvailable()) return "mps";
  return "cpu";
}

/** libtorch version, whether it was built with CUDA/MPS, and its parallel/BLAS configuration. */
export function buildInfo(): BuildInfo {
  return native.buildInfo();
}

let cpuBf16Cache: boolean | undefined;

/**
 * Whether bfloat16 matmuls are fast on this device. On x86 CPUs libtorch 1.13 runs bf16 GEMMs in
 * oneDNN only with AVX-512 (BW, VL, DQ); without it (e.g. AMD Zen 2/3) it falls back to scalar
 * loops about 100x slower than fp32 OpenBLAS, so models should compute in float32 there.
 * CUDA: true (Ampere and later run bf16 natively; older GPUs emulate it).
 */
export function bf16MatmulIsFast(device: Device = "cpu"): boolean {
  if (device.startsWith("cuda")) return true;
  if (device === "mps") return false;
  if (cpuBf16Cache === undefined) {
    let flags = "";
    try {
      flags = readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      // not Linux: assume no AVX-512 (Apple silicon CPUs and most others lack it)
    }
    cpuBf16Cache = ["avx512bw", "avx512vl", "avx512dq"].every((f) => new RegExp(`\\b${f}\\b`).test(flags));
  }
  return cpuBf16Cache;
}
