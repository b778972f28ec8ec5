// The engine's own CPU kernels for a bf16 decode step (small_linear.cc, decode_attention.cc):
// what the CPU supports, and the switch that turns them off (WORDLE_DECODE_KERNELS=0 or
// setDecodeKernels(false): the operator path then runs everywhere, for comparisons and tests).
#pragma once
#include <napi.h>

namespace wordle {
// AVX-512 BF16 dot products (the projection kernel).
bool cpuHasBf16Dot();
// AVX-512 F/BW/VL (the attention kernel).
bool cpuHasAvx512();
bool decodeKernelsEnabled();
// setDecodeKernels(on) -> the previous setting.
Napi::Value SetDecodeKernels(const Napi::CallbackInfo& info);
// decodeKernelSupport() -> { linear, attention }: which kernels this CPU runs (and the switch allows).
Napi::Value DecodeKernelSupport(const Napi::CallbackInfo& info);
}  // namespace wordle
